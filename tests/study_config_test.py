"""official_ext/study/study_config.py: a study file is read and checked
before anything trains; a bad one fails naming its field."""

import os

import pytest
import tensorflow as tf
import yaml

from official_ext.rounds import run_config
from official_ext.study import study_config
from conftest import FAST_SEGMENTER as RESNET_SEGMENTER  # the demo's ResNet

GOOD = {
    'name': 'digits', 'task': 'detection',
    'supervised': {'experiment': 'supervised_digits',
                   'recipe': 'supervised_digits_cpu.yaml'},
    'selftrain': {'experiment': 'selftrain_digits',
                  'recipe': 'selftrain_digits_cpu.yaml'},
    'init': [{'name': 'random'}],
    'augmentation': [
        {'name': 'weak',
         'overrides': ['task.train_data.parser.aug_scale_min=0.9']},
        {'name': 's1', 'preset': 's1'}],
    'labeled_fraction': [0.5, 1.0], 'seeds': [0, 1]}

PRETRAIN = {'experiment': 'pretrain_digits',
            'recipe': 'pretrain_digits_cpu.yaml'}


def _write(tmp_path, study):
  path = tmp_path / 'study.yaml'
  path.write_text(yaml.safe_dump(study))
  return str(path)


def test_good_study_loads(tmp_path):
  study = study_config.load(_write(tmp_path, GOOD))
  assert [a.name for a in study.augmentation] == ['weak', 's1']
  assert study.augmentation[0].overrides == [
      'task.train_data.parser.aug_scale_min=0.9']
  assert study.labeled_fraction == [0.5, 1.0]


def test_shipped_studies_load():
  root = os.path.join(os.path.dirname(os.path.dirname(__file__)), 'configs',
                      'studies')
  names = sorted(os.listdir(root))
  assert names, root
  for name in names:
    assert study_config.load(os.path.join(root, name)).name
  # Out-of-domain pre-training: pre-trained on the shapes, evaluated on the
  # digits, never the other way round.
  for task in ('segmentation', 'detection'):
    ood = study_config.load(os.path.join(
        root, f'digits_{task}_shapes_pretrain.yaml'))
    assert 'shapes_data/classification' in ood.data.classification_train
    assert all('digits_data' in p for p in (
        ood.data.labeled, ood.data.unlabeled, ood.data.validation))
    assert ood.init[1].pretrain.recipe.startswith('pretrain_shapes')


def test_checkpoint_init_resolves_to_the_latest_checkpoint(tmp_path):
  ckpt_dir = tmp_path / 'pretrained'
  tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(ckpt_dir / 'ckpt'))
  study = dict(GOOD, init=[{'name': 'random'}, {
      'name': 'pre', 'checkpoint': 'pretrained', 'modules': ['backbone']}])
  loaded = study_config.load(_write(tmp_path, study))
  assert loaded.init[1].checkpoint == str(ckpt_dir / 'ckpt-1')


ONLINE = {'experiment': 'selftrain_digits_seg',
          'recipe': 'selftrain_digits_seg_online_cpu.yaml'}


def test_online_method_loads(tmp_path):
  study = study_config.load(_write(tmp_path, dict(
      GOOD, method=['offline', 'online'], online=ONLINE)))
  assert study.method == ['offline', 'online']
  assert study.online.recipe == ONLINE['recipe']


@pytest.mark.parametrize('change, message', [
    ({'method': ['online'], 'online': ONLINE}, 'must include offline'),
    ({'method': ['offline', 'mean_teacher']}, 'distinct entries from'),
    ({'method': ['offline', 'online']}, "online: method 'online' needs"),
    ({'online': ONLINE}, "online: given, but method has no 'online'"),
    ({'method': ['offline', 'online'],
      'online': {'experiment': 'selftrain_digits_seg',
                 'recipe': 'selftrain_digits_seg_cpu.yaml'}},
     "task.self_training.mode='offline'"),
    ({'axes': [1]}, "axes: unknown field"),
    ({'seeds': [0, 'one']}, 'seeds: expected a list of integers'),
    ({'labeled_fraction': 0.5}, 'labeled_fraction: expected a list of '
     'numbers'),
    ({'supervised': {'experiment': 'supervised_digits',
                     'recipe': 'supervised_digits_cpu.yaml',
                     'overrides': ['task.seed=1']}},
     "supervised.overrides: a study model takes none of its own"),
    ({'init': [{'name': 'random'}, {'nme': 'x'}]}, 'init[1].nme: unknown'),
    ({'init': [{'name': 'pre', 'checkpoint': 'x'}]},
     "init: needs an entry named 'random'"),
    ({'init': [{'name': 'random'}, {'name': 'pre', 'checkpoint': 'nope'}]},
     'init[1].checkpoint: no checkpoint at '),
    ({'init': [{'name': 'random', 'checkpoint': 'x'}]},
     "init[0]: the 'random' init takes no checkpoint nor pretrain"),
    ({'init': [{'name': 'random'}, {'name': 'pre'}]},
     "init[1].checkpoint: 'pre' needs a checkpoint or a pretrain"),
    ({'init': [{'name': 'random'}, {'name': 'pre', 'pretrain': {
        'experiment': 'pretrain_digitz',
        'recipe': 'pretrain_digits_cpu.yaml'}}]},
     "init[1].pretrain.experiment: 'pretrain_digitz' is not a registered"),
    ({'init': [{'name': 'random'}, {'name': 'pre', 'pretrain': {
        'experiment': 'pretrain_digits', 'recipy': 'x'}}]},
     'init[1].pretrain.recipy: unknown field'),
    ({'init': [{'name': 'random'}, {'name': 'pre', 'checkpoint': 'x',
                                    'pretrain': PRETRAIN}]},
     'init[1]: a checkpoint or a pretrain, not both'),
    ({'init': [{'name': 'random'}, {'name': 'pre', 'pretrain': PRETRAIN}],
      'data': {'train': 't', 'unlabeled': 'u', 'val': 'v',
               'val_annotations': 'a'}},
     'data.classification_train, data.classification_val: init[1] has a '
     'pretrain and no pretrain_data, so it needs them'),
    ({'init': [{'name': 'random'}, {'name': 'pre', 'pretrain': PRETRAIN,
                                    'pretrain_data': {'train': 'c'}}]},
     'init[1].pretrain_data: set train and val, or neither'),
    ({'init': [{'name': 'random'}, {'name': 'pre', 'checkpoint': 'x',
                                    'pretrain_data': {'train': 'c',
                                                      'val': 'd'}}]},
     'init[1].pretrain_data: only an init with a pretrain reads it'),
    # The models' overlay counts: the demo's ResNet segmenters against the
    # default segmenters' pre-training (SpineNet-Mobile-49XS).
    ({'task': 'segmentation',
      'supervised': {'experiment': 'supervised_digits_seg',
                     'recipe': 'supervised_digits_seg_cpu.yaml',
                     'config_files': [RESNET_SEGMENTER]},
      'selftrain': {'experiment': 'selftrain_digits_seg',
                    'recipe': 'selftrain_digits_seg_cpu.yaml',
                    'config_files': [RESNET_SEGMENTER]},
      'augmentation': [{'name': 's1', 'preset': 's1'}],
      'init': [{'name': 'random'}, {'name': 'pre', 'pretrain': {
          'experiment': 'pretrain_digits_seg',
          'recipe': 'pretrain_digits_seg_cpu.yaml'}}]},
     "init[1].pretrain: 'pretrain_digits_seg' (with its recipe and "
     "config_files) pre-trains a spinenet_mobile backbone that differs from "
     "the study models' (supervised_digits_seg: resnet) in ["),
    ({'augmentation': [{'name': 'x', 'preset': 's9'}]},
     "augmentation[0].preset: 's9' is not one of ['s1', 's2', 's3', 's4']"),
    ({'augmentation': [{'name': 'x', 'overrides': [
        'task.train_data.parser.aug_scal=1']}]},
     "augmentation[0].overrides: 'task.train_data.parser.aug_scal=1'"),
    ({'augmentation': [{'name': 'x', 'overrides': ['trainer.x=1']}]},
     "use 'task.train_data.FIELD=VALUE'"),
    ({'augmentation': [{'name': 'x'}, {'name': 'y', 'preset': 's1'}]},
     'augmentation[0]: set a preset'),
    ({'augmentation': [{'name': 'a', 'preset': 's1'},
                       {'name': 'a', 'preset': 's2'}]},
     "augmentation: names repeat: ['a', 'a']"),
    ({'labeled_fraction': [0.5, 0]}, 'labeled_fraction[1]: 0 is not in'),
    ({'seeds': [1, 1]}, 'seeds: at least one, none repeated'),
    ({'task': 'classification'}, "task: 'classification' is not one of"),
    ({'supervised': {'experiment': 'nope', 'recipe': 'x'}},
     "supervised.experiment: 'nope' is not a registered experiment"),
    ({'selftrain': {'experiment': 'selftrain_digits', 'recipe': 'no.yaml'}},
     "selftrain.recipe: no file 'no.yaml'"),
    ({'data': {'labeled': 'a'}}, 'data: set labeled, unlabeled and validation'),
    ({'data': {'train': 'a'}}, 'data: set labeled, unlabeled and validation'),
    ({'data': {'train': 'a', 'labeled': 'a'}},
     'data.train and data.labeled name the same split; keep data.labeled'),
    ({'data': {'labeled': 't', 'unlabeled': 'u', 'validation': 'v'}},
     'data.annotation_file: detection needs the COCO json of data.validation'),
    ({'overrides': ['task.model.num_clases=9']},
     "overrides[0]: 'task.model.num_clases=9' (supervised)"),
    ({'overrides': ['runtime.num_gpus=1']}, "use 'task.FIELD=VALUE'"),
    ({'init': [{'name': 'random'}, {'name': 'pre', 'pretrain': dict(
        PRETRAIN, config_files=['no_such_overlay.yaml'])}]},
     "init[1].pretrain.config_files[0]: no file 'no_such_overlay.yaml'"),
    ({'selftrain': {'experiment': 'selftrain_digits',
                    'recipe': 'selftrain_digits_cpu.yaml',
                    'config_files': ['nope.yaml']}},
     "selftrain.config_files[0]: no file 'nope.yaml'"),
    ({'supervised': {'experiment': 'supervised_digits',
                     'recipe': 'supervised_digits_cpu.yaml',
                     'config_files': ['selftrain_digits_cpu.yaml']}},
     "supervised.config_files[0]: 'selftrain_digits_cpu.yaml' does not apply "
     'to supervised_digits'),
])
def test_bad_study_names_the_field(tmp_path, change, message):
  with pytest.raises(study_config.StudyError) as e:
    study_config.load(_write(tmp_path, dict(GOOD, **change)))
  assert message in str(e.value)
  assert '\n' not in str(e.value)


def test_the_data_splits_take_the_run_files_names():
  """A study file's `data:` and a run file's share SplitsConfig; the names
  a study file used before (train, val, val_annotations, test_annotations)
  still load, as the same fields."""
  names = {'labeled': 't-*', 'unlabeled': 'u-*', 'validation': 'v-*',
           'annotation_file': 'a.json', 'test': 's-*',
           'test_annotation_file': 'b.json'}
  earlier = {'train': 't-*', 'unlabeled': 'u-*', 'val': 'v-*',
             'val_annotations': 'a.json', 'test': 's-*',
             'test_annotations': 'b.json'}
  for data in (names, earlier):
    study = study_config.from_dict({'data': data})
    assert {k: v for k, v in study.data.as_dict().items() if v} == names
  run_fields = set(run_config.DataConfig().as_dict())
  assert set(names) < run_fields
  assert run_fields - set(names) == {'calibration'}

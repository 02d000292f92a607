"""tools/study.py --quick end to end: a 2x1x1 segmentation study (random
init and the classification pre-trained one that the tool trains first;
segmentation, because a 10-step detector scores AP 0 and the deltas would be
0 - 0) trains every cell's two models through train.py, writes the report
whose deltas are the cells' differences, skips finished cells (and the
pre-training) on a rerun, gives each worker its slice, and rejects a bad
study file before any training."""

import csv
import json
import os

import pytest
import tensorflow as tf
import yaml

from official.modeling import hyperparams
from official_ext.study import report

from conftest import FAST_SEGMENTER
from conftest import child_failure
from conftest import assert_drawn_plot
from conftest import python
from study_config_test import GOOD

STUDY = dict(GOOD, name='quick_seg', task='segmentation', quick_steps=10,
             seeds=[0], labeled_fraction=[1.0],
             supervised={'experiment': 'supervised_digits_seg',
                         'recipe': 'supervised_digits_seg_cpu.yaml',
                         'config_files': [FAST_SEGMENTER, 'overlay.yaml']},
             selftrain={'experiment': 'selftrain_digits_seg',
                        'recipe': 'selftrain_digits_seg_cpu.yaml',
                        'config_files': [FAST_SEGMENTER, 'overlay.yaml']},
             overrides=['task.losses.l2_weight_decay=0.00007'],
             init=[{'name': 'random'},
                   {'name': 'classification', 'modules': ['backbone'],
                    'pretrain': {'experiment': 'pretrain_digits_seg',
                                 'recipe': 'pretrain_digits_seg_cpu.yaml',
                                 'config_files': [FAST_SEGMENTER]}}],
             augmentation=[
                 {'name': 'strong', 'overrides': [
                     'task.train_data.aug_scale_min=0.5',
                     'task.train_data.aug_scale_max=1.5']}])
CELLS = ['random-strong-f1-s0', 'classification-strong-f1-s0']


# Laid over both models' recipes (a path relative to the study file).
OVERLAY = {'task': {'validation_data': {'global_batch_size': 4}}}


def _study(tmp_path, study, *flags):
  (tmp_path / 'overlay.yaml').write_text(yaml.safe_dump(OVERLAY))
  path = tmp_path / 'study.yaml'
  path.write_text(yaml.safe_dump(study))
  return python(['-m', 'official_ext.tools.study', f'--study={path}',
                 *flags], timeout=1800)


@pytest.fixture(scope='module')
def quick_study(tmp_path_factory):
  root = tmp_path_factory.mktemp('study')
  out = str(root / 'out')
  proc = _study(root, STUDY, f'--output_dir={out}', '--quick')
  assert proc.returncode == 0, child_failure(proc, 6000)
  return dict(root=root, out=out, stdout=proc.stdout)


def test_every_cell_trained_both_models(quick_study):
  for name in CELLS:
    cell = os.path.join(quick_study['out'], 'cells', name)
    with open(os.path.join(cell, 'metrics.json')) as f:
      record = json.load(f)
    assert record['name'] == name
    # Each cell is one round of self_train: the supervised model is its
    # teacher.
    for role, model in (('supervised', 'teacher'), ('selftrain', 'student')):
      model_dir = os.path.join(cell, 'round_1', model)
      assert tf.train.latest_checkpoint(model_dir).endswith('ckpt-10')
      # The teacher is exported to label; the student is only evaluated.
      assert os.path.exists(os.path.join(
          f'{model_dir}_export', 'saved_model', 'saved_model.pb')) == (
              model == 'teacher')
      assert 0 < record[role]['mean_iou'] < 1
      # The model trained with the cell's augmentation and seed.
      params = hyperparams.read_yaml_to_params_dict(
          os.path.join(model_dir, 'params.yaml')).as_dict()
      assert params['task']['train_data']['aug_scale_min'] == 0.5
      assert params['task']['seed'] == 0
      # The study's overrides and its models' config_files reached both.
      assert params['task']['losses']['l2_weight_decay'] == 0.00007
      assert params['task']['validation_data']['global_batch_size'] == 4
      # Equal compute: 16 images per step each; the supervised model's are
      # all labeled, the student's 8 labeled + 8 pseudo-labeled.
      assert record['images_per_step'][role] == 16
      assert record['steps'][role] == 10
      batch = params['task']['train_data']['global_batch_size']
      if role == 'selftrain':
        batch += params['task']['pseudo_data']['global_batch_size']
        assert record['labeled_images_per_step'][role] == 8
      else:
        assert record['labeled_images_per_step'][role] == 16
      assert batch == 16
      # Both models of the pre-trained cell start from the pre-training.
      if name.startswith('classification'):
        assert params['task']['init_checkpoint'] == os.path.join(
            quick_study['out'], 'pretrain', 'classification', 'ckpt-10')
        assert params['task']['init_checkpoint_modules'] == ['backbone']
        with open(f'{model_dir}.log') as f:
          assert 'Finished loading pretrained checkpoint' in f.read()
      else:
        assert not params['task']['init_checkpoint']
      if role == 'selftrain':
        assert params['task']['pseudo_data']['aug_scale_min'] == 0.5
        # This cell's shards only: their count is in the pattern.
        assert params['task']['pseudo_data']['input_path'] == os.path.join(
            cell, 'round_1', 'pseudo', 'pseudo-*-of-00002.tfrecord')
    # The student learned from this cell's supervised model's labels.
    with open(os.path.join(cell, 'round_1', 'pseudo',
                           'pseudo_report.json')) as f:
      assert json.load(f)['teacher'] == os.path.join(cell, 'round_1',
                                                     'teacher_export')
    # Each model is scored on the test split once (train.py --mode=eval).
    assert [c.split()[2:4] for c in record['commands']] == [
        ['official_ext.tools.train', '--experiment=supervised_digits_seg'],
        ['official_ext.tools.export_saved_model',
         '--experiment=supervised_digits_seg'],
        ['official_ext.tools.train', '--experiment=supervised_digits_seg'],
        ['official_ext.tools.pseudo_label', f"--teacher={cell}/round_1/"
         'teacher_export'],
        ['official_ext.tools.train', '--experiment=selftrain_digits_seg'],
        ['official_ext.tools.train', '--experiment=selftrain_digits_seg']]
    assert sum('--mode=eval' in c for c in record['commands']) == 2
    assert list(record['wall_time_s']) == [
        'supervised', 'supervised_export', 'supervised_test', 'pseudo_label',
        'selftrain', 'selftrain_test']
    assert all(t > 0 for t in record['wall_time_s'].values())
    for role in ('supervised', 'selftrain'):
      assert 0 < record[f'{role}_test']['mean_iou'] < 1
    # Every stage ran under a record (what a rerun of a stopped cell reads).
    assert len(os.listdir(os.path.join(cell, 'stages'))) == 6


def test_the_pretraining_ran_once_before_the_cells(quick_study):
  out = quick_study['out']
  with open(os.path.join(out, 'pretrain', 'classification',
                         'metrics.json')) as f:
    record = json.load(f)
  assert record['steps'] == 10
  assert 0 <= record['metrics']['accuracy'] <= 1
  assert record['command'].split()[2] == 'official_ext.tools.train'
  assert '--experiment=pretrain_digits_seg' in record['command']
  assert 'classification-*.tfrecord' in record['command']
  assert tf.train.latest_checkpoint(
      os.path.join(out, 'pretrain', 'classification')).endswith('ckpt-10')
  stdout = quick_study['stdout']
  assert stdout.index('[pretrain/classification] done') < stdout.index(
      f'[{CELLS[0]}/round_1/teacher] python')


def test_report_deltas_are_the_cells_differences(quick_study):
  out = quick_study['out']
  with open(os.path.join(out, 'study.json')) as f:
    data = json.load(f)
  # Every model was scored on test: the tables and gains show test.
  assert data['split'] == 'test'
  by_name = {r['name']: {m: r[f'{m}_test'] for m in ('supervised',
                                                     'selftrain')}
             for r in data['cells']}
  assert sorted(by_name) == sorted(CELLS)
  table = next(t for t in data['tables'] if t['axis'] == 'augmentation')
  assert table['columns'] == ['strong']
  random_sup = by_name[CELLS[0]]['supervised']['mean_iou']
  rows = {r['label']: r for r in table['rows']}
  for label, name, model in [
      ('random init', CELLS[0], 'supervised'),
      ('random init + self-training', CELLS[0], 'selftrain'),
      ('classification init', CELLS[1], 'supervised'),
      ('classification init + self-training', CELLS[1], 'selftrain')]:
    value = by_name[name][model]['mean_iou']
    assert rows[label]['values'] == [value], label
    assert rows[label]['deltas'] == [pytest.approx(value - random_sup)]
  assert data['pretrained']['classification']['steps'] == 10
  text = open(os.path.join(out, 'study.md')).read()
  assert text == report.markdown(
      _loaded(quick_study), data['cells'], data['protocol'],
      data['pretrained'])
  assert 'The classification init: pretrain_digits_seg trained 10 steps' in text
  # A quick run says its numbers are a smoke test; the gains table has a row
  # per init (one seed: no claim).
  assert 'QUICK RUN (--quick)' in text and 'equal compute' in text
  assert 'mean_iou on the test set' in text
  assert [(g['init'], g['seeds']) for g in data['gains']] == [
      ('random', [0]), ('classification', [0])]
  for g in data['gains']:
    name = CELLS[0] if g['init'] == 'random' else CELLS[1]
    assert g['gain']['mean'] == pytest.approx(
        by_name[name]['selftrain']['mean_iou'] -
        by_name[name]['supervised']['mean_iou'])
  assert text.count('one seed: no interval, no claim') == 2
  with open(os.path.join(out, 'study.csv')) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == len(data['cells']) * 2  # Each cell's two models.
  for row in rows:  # The json's values, cell by cell.
    cell = next(c for c in data['cells'] if c['name'].startswith(
        row['init'] + '-'))
    assert float(row['mean_iou']) == pytest.approx(
        cell[f"{row['model']}_test"]['mean_iou'], abs=1e-6)
    assert int(row['train_steps']) == 10
  assert_drawn_plot(os.path.join(out, 'study.png'))
  assert ('## mean_iou vs augmentation (labeled fraction 1)' in
          quick_study['stdout'])


def _loaded(quick_study):
  from official_ext.study import study_config  # pylint: disable=g-import-not-at-top
  return study_config.load(str(quick_study['root'] / 'study.yaml'))


def test_rerun_skips_finished_cells_and_workers_take_their_slice(
    quick_study):
  out = quick_study['out']
  index = [os.path.join(out, 'cells', name, 'round_1', model, 'checkpoint')
           for name in CELLS for model in ('teacher', 'student')] + [
               os.path.join(out, 'pretrain', 'classification', 'checkpoint')]
  before = [os.path.getmtime(p) for p in index]
  proc = _study(quick_study['root'], STUDY, f'--output_dir={out}', '--quick',
                '--num_workers=2', '--worker_index=1')
  assert proc.returncode == 0, child_failure(proc, 4000)
  assert (f'[{CELLS[1]}] finished before, from the same inputs: skipped' in
          proc.stdout)
  assert CELLS[0] not in proc.stdout
  assert 'official_ext.tools.train' not in proc.stdout
  assert [os.path.getmtime(p) for p in index] == before
  assert '2 of 2 cells finished' in proc.stdout


def test_bad_study_fails_before_training(tmp_path):
  bad = dict(STUDY, augmentation=[{'name': 'x', 'preset': 's7'}])
  out = tmp_path / 'out'
  proc = _study(tmp_path, bad, f'--output_dir={out}', '--quick')
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert last == ("study.py: error: augmentation[0].preset: 's7' is not one "
                  "of ['s1', 's2', 's3', 's4']")
  assert not out.exists()

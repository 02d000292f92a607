"""Every registered experiment builds, validates and round-trips YAML."""

import glob
import os

import pytest
import yaml

from official.core import exp_factory
from official.modeling import hyperparams
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.configs import retinanet as det_cfg
from official_ext.configs import semantic_segmentation as seg_cfg

from conftest import REPO

EXPERIMENTS = ['supervised_coco', 'supervised_pascal', 'supervised_digits',
               'supervised_digits_seg', 'selftrain_coco', 'selftrain_digits',
               'selftrain_pascal', 'selftrain_digits_seg']
RECIPES = sorted(glob.glob(os.path.join(REPO, 'configs/experiments/*.yaml')))


def assert_schedule_spans_the_run(params):
  """A decaying learning rate ends at the last step, not before or after."""
  lr = params.trainer.optimizer_config.learning_rate
  steps = params.trainer.train_steps
  if lr.type in ('cosine', 'polynomial'):
    assert lr.get().decay_steps == steps, (lr.type, lr.get().decay_steps, steps)
  elif lr.type == 'stepwise':
    assert max(lr.stepwise.boundaries) < steps, (lr.stepwise.boundaries, steps)


@pytest.mark.parametrize('name', EXPERIMENTS)
def test_experiment_builds_validates_and_round_trips(name, tmp_path):
  params = exp_factory.get_exp_config(name)
  params.validate()
  assert_schedule_spans_the_run(params)
  assert isinstance(params.task, (det_cfg.RetinaNetTask,
                                  seg_cfg.SemanticSegmentationTask))
  # YAML round trip through the same override path train.py uses.
  path = tmp_path / 'params.yaml'
  hyperparams.save_params_dict_to_yaml(params, str(path))
  reloaded = hyperparams.override_params_dict(
      exp_factory.get_exp_config(name), str(path), is_strict=True)
  assert reloaded.as_dict() == params.as_dict()
  overridden = hyperparams.override_params_dict(
      reloaded, 'task.train_data.augmentation_preset=s4,'
      'task.train_data.subset.fraction=0.2,trainer.train_steps=7',
      is_strict=True)
  assert overridden.task.train_data.augmentation_preset == 's4'
  assert overridden.task.train_data.subset.fraction == 0.2
  assert overridden.trainer.train_steps == 7
  overridden.validate()


def test_unknown_field_is_rejected():
  params = exp_factory.get_exp_config('supervised_digits')
  with pytest.raises(KeyError):
    hyperparams.override_params_dict(
        params, 'task.train_data.augmentation_presets=s4', is_strict=True)


def test_model_garden_recipe_is_rehosted_unchanged():
  ours = exp_factory.get_exp_config('supervised_pascal').as_dict()
  theirs = exp_factory.get_exp_config('seg_deeplabv3plus_pascal').as_dict()
  for key in ('model', 'losses', 'init_checkpoint'):
    assert ours['task'][key] == theirs['task'][key]
  assert ours['trainer'] == theirs['trainer']


def test_recipes_exist():
  names = {os.path.basename(p) for p in RECIPES}
  for expected in ('supervised_coco_spinenet143_1280.yaml',
                   'supervised_coco_spinenet190_1280.yaml',
                   'supervised_coco_spinenet49_640_gpu.yaml',
                   'supervised_pascal_deeplabv3plus.yaml',
                   'supervised_digits_cpu.yaml',
                   'selftrain_coco_spinenet143_1280.yaml',
                   'selftrain_coco_spinenet190_1280.yaml',
                   'selftrain_coco_spinenet49_640_gpu.yaml',
                   'selftrain_digits_cpu.yaml',
                   'selftrain_pascal_deeplabv3plus.yaml',
                   'selftrain_digits_seg_cpu.yaml',
                   'pretrain_digits_cpu.yaml',
                   'pretrain_digits_seg_cpu.yaml'):
    assert expected in names


@pytest.mark.parametrize('path', RECIPES, ids=os.path.basename)
def test_recipe_applies_to_its_experiment(path):
  with open(path) as f:
    header = f.readline()
  assert header.startswith('# experiment: '), 'first line names the experiment'
  name = header.split(':', 1)[1].strip()
  params = hyperparams.override_params_dict(
      exp_factory.get_exp_config(name), path, is_strict=True)
  params.validate()
  assert_schedule_spans_the_run(params)
  with open(path) as f:
    raw = yaml.safe_load(f)
  # Spot-check that every leaf in the YAML landed in the config.
  def leaves(d, prefix=()):
    for k, v in d.items():
      if isinstance(v, dict):
        yield from leaves(v, prefix + (k,))
      else:
        yield prefix + (k,), v
  flat = params.as_dict()
  for keys, value in leaves(raw):
    node = flat
    for k in keys:
      node = node[k]
    if isinstance(value, float):
      assert node == pytest.approx(value), keys
    elif not isinstance(value, list):
      assert node == value, keys


def test_spinenet190_student_recipe_matches_released_config():
  path = os.path.join(REPO, 'configs/experiments/'
                      'selftrain_coco_spinenet190_1280.yaml')
  params = hyperparams.override_params_dict(
      exp_factory.get_exp_config('selftrain_coco'), path, is_strict=True)
  task = params.task
  assert task.model.backbone.spinenet.model_id == '190'
  assert task.model.backbone.spinenet.stochastic_depth_drop_rate == 0.2
  assert (task.model.head.num_convs, task.model.head.num_filters) == (7, 512)
  assert task.model.norm_activation.use_sync_bn
  assert task.model.norm_activation.activation == 'swish'
  assert task.losses.l2_weight_decay == pytest.approx(4e-5)
  assert params.trainer.train_steps == 185200
  lr = params.trainer.optimizer_config.learning_rate.stepwise
  assert lr.boundaries == [171310, 180570] and lr.values[0] == 0.3
  assert params.trainer.optimizer_config.warmup.linear.warmup_steps == 2000
  for data in (task.train_data, task.pseudo_data):
    assert data.global_batch_size == 256
    assert (data.parser.aug_scale_min, data.parser.aug_scale_max) == (0.1, 1.9)
    assert data.parser.aug_type.type == 'randaug'
  assert task.self_training.loss_normalization


def test_pascal_student_recipe_is_paper_scale():
  path = os.path.join(REPO, 'configs/experiments/'
                      'selftrain_pascal_deeplabv3plus.yaml')
  params = hyperparams.override_params_dict(
      exp_factory.get_exp_config('selftrain_pascal'), path, is_strict=True)
  assert params.task.model.as_dict() == exp_factory.get_exp_config(
      'supervised_pascal').task.model.as_dict()
  for data in (params.task.train_data, params.task.pseudo_data):
    assert data.output_size == [512, 512] and data.global_batch_size == 256
    assert (data.aug_scale_min, data.aug_scale_max) == (0.2, 1.5)
    assert data.aug_type.type == 'randaug'
  assert params.trainer.train_steps == 20000
  assert params.trainer.optimizer_config.learning_rate.type == 'cosine'
  assert params.task.losses.ignore_label == 255

"""selftrain_digits end to end, as one train.py command: the task labels the
unlabeled images with the teacher on first use -> student -> eval; a restart
reuses the labels. (Student export and round 2: demo_test.)"""

import json
import math
import os

import pytest
import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
from official.modeling.hyperparams import params_dict
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.configs import recipes
from official_ext.self_training import first_use
from official_ext.self_training import task as st_task

from conftest import FAST_DETECTOR
from conftest import read_scalars
from conftest import run_tool

STEPS = 40


def _overrides(data, pseudo_path, threshold, extra=()):
  return ','.join([
      f"task.train_data.input_path={data['train']}",
      f'task.pseudo_data.input_path={pseudo_path}',
      f"task.validation_data.input_path={data['val']}",
      f'task.self_training.score_threshold={threshold}',
      *recipes.schedule_overrides(STEPS, interval=20, warmup=5),
      *FAST_DETECTOR, *extra])


@pytest.fixture(scope='module')
def student(digits_data, digits_teacher, teacher_threshold, tmp_path_factory):
  root = str(tmp_path_factory.mktemp('student'))
  model_dir = os.path.join(root, 'model')
  overrides = _overrides(digits_data, digits_data['unlabeled'],
                         teacher_threshold,
                         extra=[f'task.self_training.teacher={digits_teacher}'])
  run_tool(['train.py', '--experiment=selftrain_digits',
            '--mode=train_and_eval', f'--model_dir={model_dir}',
            f'--params_override={overrides}'])
  return dict(root=root, model_dir=model_dir,
              overrides=overrides,
              pseudo=os.path.join(model_dir, first_use.PSEUDO_LABEL_SUBDIR))


def test_labels_on_first_use(student):
  shards = sorted(tf.io.gfile.glob(
      os.path.join(student['pseudo'], 'pseudo-*.tfrecord')))
  assert len(shards) == 2
  with open(os.path.join(student['pseudo'], 'pseudo_report.json')) as f:
    report = json.load(f)
  assert report['images_labeled'] == 16
  assert report['shards_complete'] == report['num_shards'] == 2
  # Labeled before Model Garden's driver started (it writes params.yaml
  # first, then builds the strategy that takes the devices).
  params_written = os.path.getmtime(
      os.path.join(student['model_dir'], 'params.yaml'))
  assert all(os.path.getmtime(s) <= params_written for s in shards)


def test_student_logs_the_self_training_scalars(student):
  scalars = read_scalars(os.path.join(student['model_dir'], 'train'))
  for tag in ('human_loss', 'pseudo_loss', 'total_loss', 'loss_norm_ratio',
              'loss_norm_ratio_clipped', 'pseudo_boxes_per_image',
              'human_cls_loss', 'human_box_loss', 'human_model_loss',
              'pseudo_cls_loss', 'pseudo_box_loss', 'pseudo_model_loss'):
    values = [v for _, v in sorted(scalars[tag])]
    assert len(values) == STEPS // 20 and all(map(math.isfinite, values)), tag
  # No half's part under Model Garden's batch-wide names.
  assert not {'cls_loss', 'box_loss', 'model_loss'} & set(scalars)
  # Each half's loss is its Model Garden model_loss (no aux losses).
  for half in ('human', 'pseudo'):
    assert [v for _, v in sorted(scalars[f'{half}_loss'])] == pytest.approx(
        [v for _, v in sorted(scalars[f'{half}_model_loss'])], rel=1e-5)
  assert [v for _, v in scalars['loss_norm_ratio_clipped']] == [0.0] * (
      STEPS // 20)
  human = [v for _, v in sorted(scalars['human_loss'])]
  assert human[-1] < human[0], human
  ratio = [v for _, v in sorted(scalars['loss_norm_ratio'])]
  assert all(r > 0 for r in ratio)
  with open(os.path.join(student['pseudo'], 'pseudo_report.json')) as f:
    report = json.load(f)
  boxes = [v for _, v in scalars['pseudo_boxes_per_image']]
  assert 0 < sum(boxes) / len(boxes) <= 10
  assert report['boxes_per_image_mean'] > 0


def test_student_evaluates_with_coco_ap(student):
  scalars = read_scalars(os.path.join(student['model_dir'], 'validation'))
  # pycocotools' figures, at the last step: AP (IoU .5:.95) <= AP50.
  assert scalars['AP'][-1][0] == scalars['AP50'][-1][0] == STEPS
  assert scalars['AP'][-1][1] <= scalars['AP50'][-1][1]
  assert scalars['ARmax100'][-1][1] >= scalars['ARmax1'][-1][1]


def test_checkpoint_holds_the_loss_averages(student):
  names = [n for n, _ in tf.train.list_variables(
      tf.train.latest_checkpoint(student['model_dir']))]
  for var in ('human_average', 'pseudo_average', 'num_updates'):
    assert any(st_task.NORMALIZER_ATTR in n and var in n for n in names), var
  reader = tf.train.load_checkpoint(student['model_dir'])
  key = [n for n in names if n.endswith('num_updates/.ATTRIBUTES/VARIABLE_VALUE')]
  assert reader.get_tensor(key[0]) == STEPS


def test_bad_self_training_config_fails_fast(digits_data):
  params = exp_factory.get_exp_config('selftrain_digits')
  params.task.train_data.input_path = digits_data['train']
  params.task.pseudo_data.input_path = digits_data['train']
  task = task_factory.get_task(params.task)
  params.task.self_training.alpha = -1.0
  with pytest.raises(ValueError, match='alpha=-1.0'):
    task.build_inputs(params.task.train_data)
  params.task.self_training.alpha = 1.0
  params.task.pseudo_data.global_batch_size = 0
  with pytest.raises(ValueError, match='pseudo_data.global_batch_size=0'):
    task.build_inputs(params.task.train_data)
  params.task.pseudo_data.global_batch_size = 8
  params.task.pseudo_data.input_path = ''
  with pytest.raises(ValueError, match='pseudo_data.input_path is empty'):
    task.build_inputs(params.task.train_data)


def test_restart_reuses_the_labels(student):
  """A restarted train.py builds its task again on the same model_dir: its
  pseudo_data then points at the finished shards, not at a new labeling run
  (the same call train.py makes; resuming the checkpoint is Model Garden's,
  run by self_train_test's kill test)."""
  shards = sorted(tf.io.gfile.glob(
      os.path.join(student['pseudo'], 'pseudo-*.tfrecord')))
  mtimes = [os.path.getmtime(s) for s in shards]
  params = params_dict.read_yaml_to_params_dict(
      os.path.join(student['model_dir'], 'params.yaml'))
  config = exp_factory.get_exp_config('selftrain_digits')
  config.override(params.as_dict(), is_strict=False)
  task = task_factory.get_task(config.task, logging_dir=student['model_dir'])
  pattern = task.pseudo_data_config().input_path
  assert pattern == os.path.join(student['pseudo'],
                                 'pseudo-*-of-00002.tfrecord')
  assert sorted(tf.io.gfile.glob(pattern)) == shards
  assert [os.path.getmtime(s) for s in shards] == mtimes

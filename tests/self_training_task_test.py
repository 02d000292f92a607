"""The student tasks' train step in process, as Model Garden tests its own
tasks (official/vision/tasks/*_test.py): Model Garden's `tfexample_utils`
examples in TFRecords, the digits experiments' small models (the detector
with conftest's FAST_DETECTOR), one step of `self_training/task.py`'s
`train_step` on a human + pseudo batch built by the task's one input path.
"""

import numpy as np
import pytest

from official.core import exp_factory
from official.core import task_factory
from official.vision.dataloaders import tfexample_utils
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.self_training import task as st_task

from conftest import fast_detector

SIZE = 128


@pytest.fixture(scope='module')
def records(tmp_path_factory):
  """Four Model Garden test examples per task, in one TFRecord each."""
  root = tmp_path_factory.mktemp('model_garden_examples')
  made = {
      'detection': [tfexample_utils.create_detection_test_example(
          SIZE, SIZE, 3, num_instances=3) for _ in range(4)],
      'segmentation': [tfexample_utils.create_segmentation_test_example(
          SIZE, SIZE, 3) for _ in range(4)]}
  paths = {}
  for task, examples in made.items():
    paths[task] = str(root / f'{task}.tfrecord')
    tfexample_utils.dump_to_tfrecord(paths[task], examples)
  return paths


@pytest.mark.parametrize('experiment,kind', [
    ('selftrain_digits', 'detection'),
    ('selftrain_digits_seg', 'segmentation')])
def test_train_step_learns_from_both_halves(experiment, kind, records):
  params = exp_factory.get_exp_config(experiment)
  if kind == 'detection':
    params = fast_detector(params)
  for data in (params.task.train_data, params.task.pseudo_data):
    data.input_path = records[kind]  # Pseudo labels: Model Garden's too.
    data.global_batch_size = 2
  task = task_factory.get_task(params.task)
  model = task.build_model()
  optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                    params.runtime)
  metrics = task.build_metrics(training=True)
  (human, _), (pseudo, _) = batch = next(iter(task.build_inputs(
      params.task.train_data)))
  assert human.shape[0] == pseudo.shape[0] == 2
  before = [v.numpy() for v in model.trainable_variables]

  logs = task.train_step(batch, model, optimizer, metrics=metrics)

  for name in ('total_loss', 'human_loss', 'pseudo_loss'):
    value = float(logs[name])
    assert np.isfinite(value) and value > 0, (name, value)
  assert float(logs['loss_norm_ratio']) > 0
  normalizer = getattr(model, st_task.NORMALIZER_ATTR)
  assert int(normalizer.num_updates) == 1
  assert float(normalizer.human_average) > 0
  assert float(normalizer.pseudo_average) > 0
  changed = sum(not np.array_equal(b, v.numpy())
                for b, v in zip(before, model.trainable_variables))
  assert changed > len(before) // 2, (changed, len(before))
  assert set(st_task.SelfTrainingMixin.PSEUDO_STAT_NAMES) <= set(logs)
  assert set(type(task).PSEUDO_STAT_NAMES) <= set(logs)

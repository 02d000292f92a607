"""The tiny recipes train, evaluate and export through the real commands.

train.py (Model Garden's driver, --mode=train_and_eval) ->
tools/export_saved_model.py, as a user runs them, on the digits data. The
runs are the session's test teachers (conftest), so they are trained once;
the detector with conftest.FAST_DETECTOR laid over its recipe.
"""

import math
import os

import numpy as np
import pytest
import tensorflow as tf

from official.modeling.hyperparams import params_dict

from conftest import layer_traces
from conftest import read_scalars

METRIC = {'detection': 'AP', 'segmentation': 'mean_iou'}


@pytest.fixture(scope='module', params=sorted(METRIC))
def trained(request):
  name = ('digits_teacher_run' if request.param == 'detection'
          else 'digits_seg_teacher_run')
  run = dict(request.getfixturevalue(name))
  run.update(name=request.param, metric=METRIC[request.param])
  return run


def test_training_lowers_the_loss(trained):
  # model_loss: the task loss without the L2 term, which moves slowly.
  losses = read_scalars(os.path.join(trained['model_dir'], 'train'))
  key = 'model_loss' if trained['name'] == 'detection' else 'training_loss'
  curve = [v for _, v in sorted(losses[key])]
  assert len(curve) == trained['steps'] // trained['summary_interval']
  assert all(math.isfinite(v) for v in curve)
  # The trend of the whole curve, not its two ends: the fitted slope is
  # negative and the later half lies below the earlier half.
  assert np.polyfit(np.arange(len(curve)), curve, 1)[0] < 0, curve
  half = len(curve) // 2
  assert np.mean(curve[-half:]) < 0.97 * np.mean(curve[:half]), curve


def test_checkpoint_and_config_written(trained):
  model_dir = trained['model_dir']
  assert tf.train.latest_checkpoint(model_dir).endswith(
      f"ckpt-{trained['steps']}")
  # Model Garden's driver wrote the whole config, our fields included.
  params = params_dict.read_yaml_to_params_dict(
      os.path.join(model_dir, 'params.yaml'))
  assert params.trainer.train_steps == trained['steps']
  train_data = params.task.train_data
  assert train_data.augmentation_preset == ''
  assert train_data.subset.as_dict() == {'num_examples': -1, 'fraction': 1.0,
                                         'seed': 0}


def test_evaluation_reports_metrics(trained):
  scalars = read_scalars(os.path.join(trained['model_dir'], 'validation'))
  metric = trained['metric']
  assert metric in scalars, sorted(scalars)
  step, value = scalars[metric][-1]
  assert step == trained['steps']
  assert 0.0 <= value <= 1.0
  if trained['name'] == 'detection':
    # An untrained RetinaNet scores AP ~0.0; the 400-step test teacher
    # (conftest.FAST_DETECTOR) scored 0.34 when this was written.
    assert value > 0.05, value
    for key in ('AP50', 'AP75', 'APs', 'ARmax100'):
      assert key in scalars


def test_export_signature(trained):
  saved_model = os.path.join(trained['export_dir'], 'saved_model')
  # The exporter's default: serving signatures without Keras layer traces.
  assert not layer_traces(saved_model)
  fn = tf.saved_model.load(saved_model).signatures['serving_default']
  spec = fn.structured_input_signature[1]['inputs']
  assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, None,
                                                              None, 3]
  images = tf.constant(np.random.RandomState(0).randint(
      0, 255, (2, 128, 128, 3)), tf.uint8)
  out = fn(inputs=images)
  if trained['name'] == 'detection':
    assert set(out) >= {'detection_boxes', 'detection_scores',
                        'detection_classes', 'num_detections'}
    assert out['detection_boxes'].shape[:1] == [2]
    assert out['detection_boxes'].shape[-1] == 4
    assert out['detection_boxes'].dtype == tf.float32
    assert out['num_detections'].shape == [2]
    assert out['detection_classes'].dtype in (tf.int32, tf.int64,
                                              tf.float32)
  else:
    assert out['logits'].shape == [2, 128, 128, 11]
    assert out['logits'].dtype == tf.float32

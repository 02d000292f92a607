"""The tiny recipes train, evaluate and export through the real commands.

train.py (Model Garden's driver, --mode=train_and_eval) ->
tools/export_saved_model.py, as a user runs them, on the digits data. The
runs are the session's test teachers (conftest), so they are trained once.
"""

import math
import os

import numpy as np
import pytest
import tensorflow as tf

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
  assert curve[-1] < 0.97 * curve[0], curve


def test_checkpoint_and_config_written(trained):
  model_dir = trained['model_dir']
  assert tf.train.latest_checkpoint(model_dir).endswith(
      f"ckpt-{trained['steps']}")
  with open(os.path.join(model_dir, 'params.yaml')) as f:
    text = f.read()
  assert 'augmentation_preset' in text and 'subset' in text


def test_evaluation_reports_metrics(trained):
  scalars = read_scalars(os.path.join(trained['model_dir'], 'validation'))
  metric = trained['metric']
  assert metric in scalars, sorted(scalars)
  step, value = scalars[metric][-1]
  assert step == trained['steps']
  assert 0.0 <= value <= 1.0
  if trained['name'] == 'detection':
    # An untrained RetinaNet scores AP ~0.0; the 500-step test teacher
    # scored 0.18 when this was written.
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

"""The tiny recipes train, evaluate and export through the real commands.

train.py (Model Garden's driver) -> `--mode=eval` -> tools/export_saved_model.py,
as a user runs them, on the digits data.
"""

import math
import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import read_scalars
from conftest import run_tool

STEPS = 60
CASES = {
    'detection': dict(experiment='supervised_digits', metric='AP',
                      recipe='configs/experiments/supervised_digits_cpu.yaml'),
    'segmentation': dict(
        experiment='supervised_digits_seg', metric='mean_iou',
        recipe='configs/experiments/supervised_digits_seg_cpu.yaml'),
}


def _overrides(data, extra=''):
  return ','.join(filter(None, [
      f"task.train_data.input_path={data['train']}",
      f"task.validation_data.input_path={data['val']}",
      f'trainer.train_steps={STEPS}', 'trainer.steps_per_loop=20',
      'trainer.summary_interval=20', f'trainer.checkpoint_interval={STEPS}',
      f'trainer.validation_interval={STEPS}',
      'trainer.optimizer_config.warmup.linear.warmup_steps=5',
      f'trainer.optimizer_config.learning_rate.cosine.decay_steps={STEPS}',
      extra]))


@pytest.fixture(scope='module', params=sorted(CASES))
def trained(request, digits_data, tmp_path_factory):
  case = dict(CASES[request.param], name=request.param)
  model_dir = str(tmp_path_factory.mktemp(request.param))
  extra = ''
  if request.param == 'detection':  # Eval against the COCO json file.
    extra = f"task.annotation_file={digits_data['val_annotations']}"
  overrides = _overrides(digits_data, extra)
  run_tool(['train.py', f"--experiment={case['experiment']}", '--mode=train',
            f'--model_dir={model_dir}', f"--config_file={case['recipe']}",
            f'--params_override={overrides}'])
  run_tool(['train.py', f"--experiment={case['experiment']}", '--mode=eval',
            f'--model_dir={model_dir}', f"--config_file={case['recipe']}",
            f'--params_override={overrides}'])
  export_dir = os.path.join(model_dir, 'export')
  run_tool(['tools/export_saved_model.py',
            f"--experiment={case['experiment']}",
            f"--config_file={os.path.join(model_dir, 'params.yaml')}",
            f'--checkpoint_path={model_dir}', f'--export_dir={export_dir}'])
  case.update(model_dir=model_dir, export_dir=export_dir)
  return case


def test_training_lowers_the_loss(trained):
  # model_loss: the task loss without the L2 term, which moves slowly.
  losses = read_scalars(os.path.join(trained['model_dir'], 'train'))
  key = 'model_loss' if trained['name'] == 'detection' else 'training_loss'
  curve = [v for _, v in sorted(losses[key])]
  assert len(curve) == STEPS // 20
  assert all(math.isfinite(v) for v in curve)
  assert curve[-1] < 0.97 * curve[0], curve


def test_checkpoint_and_config_written(trained):
  model_dir = trained['model_dir']
  assert tf.train.latest_checkpoint(model_dir).endswith(f'ckpt-{STEPS}')
  with open(os.path.join(model_dir, 'params.yaml')) as f:
    text = f.read()
  assert 'augmentation_preset' in text and 'subset' in text


def test_eval_mode_reports_metrics(trained):
  scalars = read_scalars(os.path.join(trained['model_dir'], 'validation'))
  metric = trained['metric']
  assert metric in scalars, sorted(scalars)
  step, value = scalars[metric][-1]
  assert step == STEPS
  assert 0.0 <= value <= 1.0
  if trained['name'] == 'detection':
    for key in ('AP50', 'AP75', 'APs', 'ARmax100'):
      assert key in scalars


def test_export_signature(trained):
  saved_model = os.path.join(trained['export_dir'], 'saved_model')
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

"""Loads a teacher SavedModel written by Model Garden's exporter and checks it.

Detection teachers return detection_boxes (ymin/xmin/ymax/xmax in pixels of
their resized input, or [0, 1] with export_config.output_normalized_coordinates),
detection_scores, detection_classes, num_detections; segmentation teachers
return logits. Inputs: `image_tensor`, uint8 [B, H, W, 3].
"""

import os
import time
from typing import Dict, List, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from official.modeling.hyperparams import params_dict
from official.vision.ops import preprocess_ops

REQUIRED_OUTPUTS = {
    'detection': ('detection_boxes', 'detection_scores', 'detection_classes',
                  'num_detections'),
    'segmentation': ('logits',),
}
SIGNATURE = 'serving_default'
# Detection-generator NMS versions that serve fast on CPU/GPU. Model Garden's
# default 'v2' served SpineNet-Mobile-49XS at 2.7 img/s vs 191-230 img/s with
# 'batched' (2-core CPU, 128x128, issue 7); the boxes are the same NMS.
FAST_NMS_VERSIONS = ('batched',)


def resolve_saved_model_dir(path: str) -> str:
  """The dir holding saved_model.pb: `path` or Model Garden's `path/saved_model`."""
  for candidate in (path, os.path.join(path, 'saved_model')):
    if tf.io.gfile.exists(os.path.join(candidate, 'saved_model.pb')):
      return candidate
  if not tf.io.gfile.exists(path):
    raise FileNotFoundError(f'teacher {path!r} does not exist.')
  raise FileNotFoundError(
      f'teacher {path!r} holds no saved_model.pb (nor does '
      f'{os.path.join(path, "saved_model")}); pass the --export_dir of '
      'tools/export_saved_model.py.')


def _export_params(saved_model_dir: str) -> Optional[dict]:
  """The params.yaml Model Garden's exporter writes next to the SavedModel,
  read with Model Garden's own YAML reader."""
  for candidate in (saved_model_dir, os.path.dirname(saved_model_dir)):
    path = os.path.join(candidate, 'params.yaml')
    if tf.io.gfile.exists(path):
      return params_dict.read_yaml_to_params_dict(path).as_dict()
  return None


class Teacher:
  """A checked, callable teacher SavedModel."""

  def __init__(self, path: str, task: str,
               num_classes: Optional[int] = None):
    if task not in REQUIRED_OUTPUTS:
      raise ValueError(f'task={task!r}: use one of {sorted(REQUIRED_OUTPUTS)}.')
    self.task = task
    self.path = resolve_saved_model_dir(path)
    self._model = tf.saved_model.load(self.path)
    signatures = dict(self._model.signatures)
    if SIGNATURE not in signatures:
      raise ValueError(
          f'teacher {path}: no {SIGNATURE!r} signature (has '
          f'{sorted(signatures)}); export with tools/export_saved_model.py.')
    self._fn = signatures[SIGNATURE]
    inputs = self._fn.structured_input_signature[1]
    if len(inputs) != 1:
      raise ValueError(f'teacher {path}: expected one image input, got '
                       f'{sorted(inputs)}.')
    self.input_name, spec = next(iter(inputs.items()))
    if spec.dtype != tf.uint8 or spec.shape.rank != 4:
      raise ValueError(
          f'teacher {path}: input {self.input_name!r} is {spec.dtype.name} '
          f'{spec.shape}; pseudo-labeling needs --input_type=image_tensor '
          '(uint8 [B, H, W, 3]). Re-export the teacher with it.')
    outputs = self._fn.structured_outputs
    missing = [k for k in REQUIRED_OUTPUTS[task] if k not in outputs]
    if missing:
      kind = ('classification' if 'logits' in outputs and task == 'detection'
              else 'this')
      raise ValueError(
          f'teacher {path} is not a {task} model: its {SIGNATURE} outputs '
          f'{sorted(outputs)} lack {missing} ({kind} SavedModel?).')
    self.params = _export_params(self.path)
    self.num_classes = self._num_classes(outputs)
    if num_classes is not None and self.num_classes is not None and (
        int(num_classes) != self.num_classes):
      raise ValueError(
          f'teacher {path} predicts {self.num_classes} classes but the '
          f'student has task.model.num_classes={num_classes}; use a teacher '
          'trained on the same label set or fix the student config.')
    self.input_size = self._input_size()
    self.pad_value = self._pad_value()
    self.normalized_boxes = bool(
        task == 'detection' and self.params and
        (self.params['task'].get('export_config') or {}).get(
            'output_normalized_coordinates'))
    self.batch_size = spec.shape[0]
    self.slow_export_reason = self._slow_export_reason()
    if self.slow_export_reason:
      logging.warning('Teacher %s: %s', self.path, self.slow_export_reason)

  def _slow_export_reason(self) -> Optional[str]:
    """Why this export likely serves far below the model's speed, or None."""
    if self.task != 'detection' or not self.params:
      return None
    generator = self.params['task']['model'].get('detection_generator') or {}
    version = generator.get('nms_version', 'v2')
    if version in FAST_NMS_VERSIONS:
      return None
    return (f'exported with detection_generator.nms_version={version!r}, '
            'which served ~70x slower than "batched" in our measurements. '
            'Re-export with --params_override=task.model.detection_generator.'
            'nms_version=batched (our configs\' default) for fast '
            'pseudo-labeling.')

  def _num_classes(self, outputs) -> Optional[int]:
    if self.task == 'segmentation':
      return outputs['logits'].shape[-1]
    if self.params:
      return int(self.params['task']['model']['num_classes'])
    return None

  def _pad_value(self) -> List[int]:
    """RGB its exporter pads with: the normalization mean (normalized 0)."""
    mean = preprocess_ops.MEAN_RGB  # What the detection export uses.
    if self.params and self.task == 'segmentation':
      feature = self.params['task'].get('train_data', {}).get(
          'image_feature') or {}
      mean = feature.get('mean') or mean
    return [int(round(float(m))) for m in mean]

  def _input_size(self) -> Optional[List[int]]:
    """[H, W] the exported model resizes to, when its params.yaml says."""
    if not self.params:
      return None
    size = self.params['task']['model'].get('input_size') or []
    if len(size) >= 2 and size[0] and size[1]:
      return [int(size[0]), int(size[1])]
    output_size = self.params['task'].get('validation_data', {}).get(
        'output_size')
    if output_size:
      return [int(x) for x in output_size[:2]]
    return None

  def warm_up(self, batch_size: int) -> float:
    """Runs one zero batch (the first call of a loaded SavedModel optimizes
    its graph: ~0.7 s on CPU); returns the seconds it took."""
    height, width = self.input_size or (64, 64)
    start = time.perf_counter()
    self(np.zeros([batch_size, height, width, 3], np.uint8))
    return time.perf_counter() - start

  def __call__(self, images) -> Dict[str, np.ndarray]:
    outputs = self._fn(**{self.input_name: tf.convert_to_tensor(images)})
    return {k: v.numpy() for k, v in outputs.items()}

"""Loads a teacher SavedModel written by Model Garden's exporter and checks it.

Detection teachers return detection_boxes (ymin/xmin/ymax/xmax in pixels of
their resized input, or [0, 1] with export_config.output_normalized_coordinates),
detection_scores, detection_classes, num_detections; segmentation teachers
return logits. Inputs: `image_tensor`, uint8 [B, H, W, 3].
"""

import dataclasses
import os
from typing import Dict, List, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from tensorflow.core.protobuf import saved_model_pb2
from official.modeling.hyperparams import params_dict
from official.vision.ops import preprocess_ops
from official_ext.configs import nms

REQUIRED_OUTPUTS = {
    'detection': ('detection_boxes', 'detection_scores', 'detection_classes',
                  'num_detections'),
    'segmentation': ('logits',),
}
SIGNATURE = 'serving_default'
# Detection-generator NMS versions that serve fast on a CPU (configs/nms.py).
FAST_NMS_VERSIONS = (nms.LABELING_NMS,)


def resolve_saved_model_dir(path: str) -> str:
  """The folder holding saved_model.pb.

  Args:
    path: a SavedModel, or Model Garden's export folder (with
      `saved_model/` inside).

  Returns:
    `path` or `path/saved_model`, whichever holds saved_model.pb.

  Raises:
    FileNotFoundError: neither does, or `path` does not exist.
  """
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


def read_signature(saved_model_dir: str
                   ) -> Dict[str, Dict[str, tf.TensorSpec]]:
  """A SavedModel's signatures, read without loading the model.

  Args:
    saved_model_dir: the folder holding saved_model.pb.

  Returns:
    {signature: {'inputs': {name: spec}, 'outputs': {name: spec}}} of its
    serving MetaGraph.
  """
  proto = saved_model_pb2.SavedModel()
  with tf.io.gfile.GFile(os.path.join(saved_model_dir, 'saved_model.pb'),
                         'rb') as f:
    proto.ParseFromString(f.read())
  graphs = [g for g in proto.meta_graphs
            if tf.saved_model.SERVING in g.meta_info_def.tags]
  if not graphs:
    return {}

  def specs(infos):  # (An init op's signature has DT_INVALID entries.)
    return {name: tf.TensorSpec(tf.TensorShape(info.tensor_shape),
                                tf.as_dtype(info.dtype), name)
            for name, info in infos.items() if info.dtype}

  return {name: {'inputs': specs(sig.inputs), 'outputs': specs(sig.outputs)}
          for name, sig in graphs[0].signature_def.items()}


@dataclasses.dataclass
class Checked:
  """What `check` found in a teacher's signature and params.yaml."""
  path: str          # The dir holding saved_model.pb.
  input_name: str
  batch_size: Optional[int]
  params: Optional[dict]
  num_classes: Optional[int]


def check(path: str, task: str, num_classes: Optional[int] = None) -> Checked:
  """Checks a teacher SavedModel from its MetaGraph and params.yaml (what a
  trainer's preflight needs: nothing is loaded).

  Args:
    path: the teacher (`resolve_saved_model_dir`).
    task: what it must predict, 'detection' or 'segmentation'.
    num_classes: the student's class count, compared when given.

  Returns:
    What was found: the SavedModel's folder, input name, fixed batch size,
    export params and class count.

  Raises:
    ValueError: the wrong kind of model or class count, naming the fix.
    FileNotFoundError: no SavedModel at `path`.
  """
  if task not in REQUIRED_OUTPUTS:
    raise ValueError(f'task={task!r}: use one of {sorted(REQUIRED_OUTPUTS)}.')
  saved_model_dir = resolve_saved_model_dir(path)
  signatures = read_signature(saved_model_dir)
  if SIGNATURE not in signatures:
    raise ValueError(
        f'teacher {path}: no {SIGNATURE!r} signature (has '
        f'{sorted(signatures)}); export with tools/export_saved_model.py.')
  inputs = signatures[SIGNATURE]['inputs']
  if len(inputs) != 1:
    raise ValueError(f'teacher {path}: expected one image input, got '
                     f'{sorted(inputs)}.')
  input_name, spec = next(iter(inputs.items()))
  if spec.dtype != tf.uint8 or spec.shape.rank != 4:
    raise ValueError(
        f'teacher {path}: input {input_name!r} is {spec.dtype.name} '
        f'{spec.shape}; pseudo-labeling needs --input_type=image_tensor '
        '(uint8 [B, H, W, 3]). Re-export the teacher with it.')
  outputs = signatures[SIGNATURE]['outputs']
  missing = [k for k in REQUIRED_OUTPUTS[task] if k not in outputs]
  if missing:
    kind = ('classification' if 'logits' in outputs and task == 'detection'
            else 'this')
    raise ValueError(
        f'teacher {path} is not a {task} model: its {SIGNATURE} outputs '
        f'{sorted(outputs)} lack {missing} ({kind} SavedModel?).')
  params = _export_params(saved_model_dir)
  if task == 'detection' and params is None and 'image_info' not in outputs:
    # Model Garden's detector resizes its input and returns boxes in that
    # frame: without either, they would be read as the image's pixels.
    raise ValueError(
        f'teacher {path}: no params.yaml beside saved_model.pb and no '
        'image_info output, so the frame of its boxes is unknown; export it '
        'with tools/export_saved_model.py (it writes params.yaml there), or '
        "copy the training run's params.yaml next to saved_model.pb.")
  if task == 'segmentation':
    found = outputs['logits'].shape[-1]
  else:
    found = int(params['task']['model']['num_classes']) if params else None
  if num_classes is not None and found is not None and (
      int(num_classes) != found):
    raise ValueError(
        f'teacher {path} predicts {found} classes but the '
        f'student has task.model.num_classes={num_classes}; use a teacher '
        'trained on the same label set or fix the student config.')
  return Checked(saved_model_dir, input_name, spec.shape[0], params, found)


class Teacher:
  """A checked, callable teacher SavedModel."""

  def __init__(self, path: str, task: str,
               num_classes: Optional[int] = None):
    checked = check(path, task, num_classes)
    self.task = task
    self.path = checked.path
    self.input_name = checked.input_name
    self.params = checked.params
    self.num_classes = checked.num_classes
    self.batch_size = checked.batch_size
    self._model = tf.saved_model.load(self.path)
    self._fn = self._model.signatures[SIGNATURE]
    self.input_size = self._input_size()
    self.pad_value = self._pad_value()
    self.normalized_boxes = bool(
        task == 'detection' and self.params and
        (self.params['task'].get('export_config') or {}).get(
            'output_normalized_coordinates'))
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
    return (f'exported with {nms.FIELD}={version!r}, which served ~70x '
            'slower on a CPU than "batched" in our measurements. Re-export '
            f'with --params_override={nms.labeling_override()} to label on '
            'a CPU or a GPU host (configs/nms.py).')

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

  def __call__(self, images) -> Dict[str, np.ndarray]:
    outputs = self._fn(**{self.input_name: tf.convert_to_tensor(images)})
    return {k: v.numpy() for k, v in outputs.items()}

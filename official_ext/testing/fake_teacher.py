"""A teacher SavedModel that costs nothing to make or run, for plumbing tests.

It has the interface of Model Garden's export (`serving_default`, input
`inputs` uint8 [B, H, W, 3], the detection or segmentation outputs and a
params.yaml beside it) but no trained network: its outputs are a fixed,
cheap function of the image (patch means), so different images get
different boxes, scores and masks, and the same image always the same ones.
Tests of sharding, resume, bad inputs, Beam and the report use it instead of
a trained teacher; what needs a real model (quality, training on the labels)
keeps the trained fixtures.
"""

import os
from typing import Optional

import tensorflow as tf
import yaml

from official.vision.ops import preprocess_ops

# Boxes per image before the score cut; a 4 x 4 grid of cells.
NUM_BOXES = 16
_GRID = 4


class _Detector(tf.Module):
  """Per grid cell: a box on the cell, score = the cell's mean brightness."""

  def __init__(self, num_classes: int, size: int):
    super().__init__()
    self._num_classes = num_classes
    self._size = size

  def outputs(self, images):
    images = tf.cast(images, tf.float32) / 255.0
    batch = tf.shape(images)[0]
    cells = tf.image.resize(images, [_GRID, _GRID], method='area')
    brightness = tf.reshape(tf.reduce_mean(cells, -1), [batch, NUM_BOXES])
    cell = self._size / _GRID
    ys, xs = tf.meshgrid(tf.range(_GRID, dtype=tf.float32),
                         tf.range(_GRID, dtype=tf.float32), indexing='ij')
    boxes = tf.stack([ys * cell, xs * cell, (ys + 1) * cell,
                      (xs + 1) * cell], -1)
    boxes = tf.tile(tf.reshape(boxes, [1, NUM_BOXES, 4]), [batch, 1, 1])
    red = tf.reshape(cells[..., 0], [batch, NUM_BOXES])
    classes = 1 + tf.cast(red * 997.0, tf.int32) % (self._num_classes - 1)
    # Sorted by score, as a detection generator returns them.
    order = tf.argsort(brightness, axis=-1, direction='DESCENDING',
                       stable=True)
    return {
        'detection_boxes': tf.gather(boxes, order, batch_dims=1),
        'detection_scores': tf.gather(brightness, order, batch_dims=1),
        'detection_classes': tf.cast(
            tf.gather(classes, order, batch_dims=1), tf.float32),
        'num_detections': tf.fill([batch], float(NUM_BOXES)),
    }


class _Segmenter(tf.Module):
  """Logits at 1/4 of the input: class c's logit is a fixed mix of the
  pixel's colour, so masks follow the image."""

  def __init__(self, num_classes: int, size: int):
    super().__init__()
    self._weights = tf.constant(
        [[(3.0 * c + k) % 7 - 3.0 for c in range(num_classes)]
         for k in range(3)], tf.float32)
    self._size = size

  def outputs(self, images):
    images = tf.cast(images, tf.float32) / 255.0
    small = tf.image.resize(images, [self._size // 4, self._size // 4],
                            method='area')
    return {'logits': tf.einsum('bhwk,kc->bhwc', small, self._weights) * 4.0}


def _params(task: str, num_classes: int, size: int) -> dict:
  """The fields of Model Garden's params.yaml the labeling tools read."""
  model = {'num_classes': num_classes, 'input_size': [size, size, 3]}
  if task == 'detection':
    model['detection_generator'] = {'nms_version': 'batched'}
  return {'task': {'model': model,
                   'train_data': {'image_feature': {
                       'mean': [float(m) for m in preprocess_ops.MEAN_RGB]}},
                   'validation_data': {'output_size': [size, size]}}}


def _busy(images, work: int):
  """`work` 256 x 256 matrix products that change no output: a teacher as
  slow as a small real one, for tests that kill a labeler mid-run."""
  x = tf.reshape(tf.image.resize(tf.cast(images[:1], tf.float32),
                                 [256, 256]), [256, 768])[:, :256]
  x = tf.while_loop(lambda i, m: i < work,
                    lambda i, m: (i + 1, tf.tanh(tf.matmul(m, m) / 256.0)),
                    (tf.constant(0), x))[1]
  return tf.minimum(tf.reduce_sum(tf.abs(x)), 0.0)  # Always 0.


def export(export_dir: str, task: str, num_classes: int = 11,
           size: int = 128, batch_size: Optional[int] = None,
           work: int = 0) -> str:
  """Writes the fake teacher to `export_dir` (saved_model.pb + params.yaml
  beside it, as Model Garden's exporter lays them out); returns the dir.
  `work` > 0 makes each call that much slower (see `_busy`)."""
  module = (_Detector if task == 'detection' else _Segmenter)(num_classes,
                                                              size)

  def serve_fn(inputs):
    outputs = module.outputs(inputs)
    if work:
      zero = _busy(inputs, work)
      outputs = {k: v + tf.cast(zero, v.dtype) for k, v in outputs.items()}
    return outputs

  spec = tf.TensorSpec([batch_size, size, size, 3], tf.uint8, name='inputs')
  serve = tf.function(serve_fn, input_signature=[spec])
  tf.saved_model.save(module, export_dir,
                      signatures={'serving_default': serve})
  with tf.io.gfile.GFile(os.path.join(export_dir, 'params.yaml'), 'w') as f:
    yaml.safe_dump(_params(task, num_classes, size), f)
  return export_dir

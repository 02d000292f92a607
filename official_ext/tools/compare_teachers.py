"""Do two detection teacher exports give the same pseudo labels?

Typical use: a checkpoint exported with Model Garden's default NMS
(`nms_version=v2`) and with the fast `batched` NMS our configs default to.
Both run on the same decoded images; each teacher's detections at or above
the threshold are matched one to one (same class, IoU above --min_iou).

  python tools/compare_teachers.py --teacher_a=T/export_batched \
    --teacher_b=T/export_v2 --input_pattern='DATA/val-*' --num_images=64

Prints one JSON line: boxes kept by each, matched, the largest score
difference of a matched pair, and each teacher's images/s on these images.
"""

import json
import time
from typing import Dict

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from official_ext.self_training import labeling
from official_ext.self_training import teacher as teacher_lib

_A = flags.DEFINE_string('teacher_a', None, 'First detection SavedModel.')
_B = flags.DEFINE_string('teacher_b', None, 'Second detection SavedModel.')
_INPUT = flags.DEFINE_string('input_pattern', None, 'TFRecords of images.')
_NUM = flags.DEFINE_integer('num_images', 64, 'Images to compare.')
_BATCH = flags.DEFINE_integer('batch_size', 8, 'Teacher batch size.')
_THRESHOLD = flags.DEFINE_float('score_threshold', 0.3, 'Detections kept.')
_MIN_IOU = flags.DEFINE_float('min_iou', 0.95, 'IoU for a matched pair.')


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """[N, 4] x [M, 4] (ymin, xmin, ymax, xmax) -> [N, M] IoU."""
  top = np.maximum(a[:, None, :2], b[None, :, :2])
  bottom = np.minimum(a[:, None, 2:], b[None, :, 2:])
  inter = np.prod(np.clip(bottom - top, 0, None), axis=-1)
  area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=-1)
  return inter / (area(a)[:, None] + area(b)[None, :] - inter + 1e-9)


def _kept(outputs, i, threshold):
  n = int(outputs['num_detections'][i])
  scores = outputs['detection_scores'][i][:n]
  keep = scores >= threshold
  return (outputs['detection_boxes'][i][:n][keep].astype(np.float32),
          outputs['detection_classes'][i][:n][keep].astype(np.int64),
          scores[keep].astype(np.float32))


def match(a, b, min_iou: float):
  """Greedy one-to-one matching of two (boxes, classes, scores) sets, in a's
  score order; returns the matched pairs' score differences."""
  if not len(a[0]) or not len(b[0]):
    return []
  iou = _iou(a[0], b[0])
  iou[a[1][:, None] != b[1][None, :]] = 0.0
  taken, diffs = set(), []
  for i in np.argsort(-a[2], kind='stable'):
    for j in np.argsort(-iou[i], kind='stable'):
      if iou[i, j] < min_iou:
        break
      if j not in taken:
        taken.add(j)
        diffs.append(abs(float(a[2][i]) - float(b[2][j])))
        break
  return diffs


def compare(path_a: str, path_b: str, pattern: str, num_images: int,
            batch_size: int, threshold: float, min_iou: float) -> Dict:
  teachers = [teacher_lib.Teacher(p, 'detection') for p in (path_a, path_b)]
  if teachers[0].input_size != teachers[1].input_size:
    raise ValueError(f'input sizes differ: {teachers[0].input_size} vs '
                     f'{teachers[1].input_size}')
  dataset = labeling.build_dataset(
      labeling.input_files(pattern), batch_size, teachers[0].input_size,
      pad_value=teachers[0].pad_value)
  batches = [b['image'] for b in dataset.unbatch().take(num_images).batch(
      batch_size)]
  if not batches:
    raise ValueError(f'--input_pattern={pattern}: no image decoded.')
  outputs, rates = [], []
  for teacher in teachers:
    def call(images, teacher=teacher):
      missing = (teacher.batch_size or 0) - len(images)  # Fixed-batch export.
      if missing > 0:
        images = tf.pad(images, [[0, missing], [0, 0], [0, 0], [0, 0]])
      return teacher(images)
    call(batches[0])  # Warm-up: the first call traces.
    start, outs = time.perf_counter(), []
    for images in batches:
      outs.append(call(images))
    rates.append(sum(len(b) for b in batches) /
                 (time.perf_counter() - start))
    outputs.append(outs)
  kept_a = kept_b = 0
  diffs = []
  for out_a, out_b, images in zip(outputs[0], outputs[1], batches):
    for i in range(len(images)):
      a, b = _kept(out_a, i, threshold), _kept(out_b, i, threshold)
      kept_a, kept_b = kept_a + len(a[0]), kept_b + len(b[0])
      diffs += match(a, b, min_iou)
  return {'images': sum(len(b) for b in batches),
          'score_threshold': threshold, 'min_iou': min_iou,
          'boxes_a': kept_a, 'boxes_b': kept_b, 'matched': len(diffs),
          'max_score_difference': max(diffs) if diffs else None,
          'images_per_second_a': rates[0], 'images_per_second_b': rates[1]}


def main(_):
  for flag in (_A, _B, _INPUT):
    if not flag.value:
      raise app.UsageError(f'--{flag.name} is required.')
  print(json.dumps(compare(_A.value, _B.value, _INPUT.value, _NUM.value,
                           _BATCH.value, _THRESHOLD.value, _MIN_IOU.value)))


def run():
  app.run(main)


if __name__ == '__main__':
  run()

"""Do two detection teacher exports give the same pseudo labels?

Typical use: a checkpoint exported with Model Garden's default NMS
(`nms_version=v2`) and with the fast `batched` NMS our configs default to.
Both label the same decoded images through tools/pseudo_label.py's pipeline
and labeler; their pseudo boxes (score >= --score_threshold) are matched one
to one (same class, IoU >= --min_iou).

  python tools/compare_teachers.py --teacher_a=T/export_batched \
    --teacher_b=T/export_v2 --input_pattern='DATA/val-*' --num_images=64

Prints one JSON line: boxes kept by each, matched, the largest score
difference of a matched pair, and each teacher's images/s on these images.
"""

import json
import time
from typing import Dict, List

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from official.vision.ops import iou_similarity
from official_ext.labeling import input_pipeline
from official_ext.labeling import labelers
from official_ext.labeling import shard_plan
from official_ext.labeling import teacher as teacher_lib

_A = flags.DEFINE_string('teacher_a', None, 'First detection SavedModel.')
_B = flags.DEFINE_string('teacher_b', None, 'Second detection SavedModel.')
_INPUT = flags.DEFINE_string('input_pattern', None, 'TFRecords of images.')
_NUM = flags.DEFINE_integer('num_images', 64, 'Images to compare.')
_BATCH = flags.DEFINE_integer('batch_size', 8, 'Teacher batch size.')
_THRESHOLD = flags.DEFINE_float('score_threshold', 0.3, 'Detections kept.')
_MIN_IOU = flags.DEFINE_float('min_iou', 0.95, 'IoU for a matched pair.')


def match(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray],
          min_iou: float) -> List[float]:
  """Greedy one-to-one matching of two images' pseudo labels ('boxes',
  'classes', 'scores'), in a's score order; returns the matched pairs'
  score differences."""
  if not len(a['boxes']) or not len(b['boxes']):
    return []
  overlap = iou_similarity.iou(tf.constant(a['boxes'], tf.float32),
                               tf.constant(b['boxes'], tf.float32)).numpy()
  overlap[a['classes'][:, None] != b['classes'][None, :]] = 0.0
  taken, diffs = set(), []
  for i in np.argsort(-a['scores'], kind='stable'):
    for j in np.argsort(-overlap[i], kind='stable'):
      if overlap[i, j] < min_iou:
        break
      if j not in taken:
        taken.add(j)
        diffs.append(abs(float(a['scores'][i]) - float(b['scores'][j])))
        break
  return diffs


def compare(path_a: str, path_b: str, pattern: str, num_images: int,
            batch_size: int, threshold: float, min_iou: float) -> Dict:
  teachers = [teacher_lib.Teacher(p, 'detection') for p in (path_a, path_b)]
  if teachers[0].input_size != teachers[1].input_size:
    raise ValueError(f'input sizes differ: {teachers[0].input_size} vs '
                     f'{teachers[1].input_size}')
  dataset = input_pipeline.build_dataset(
      shard_plan.input_files(pattern), batch_size, teachers[0].input_size,
      pad_value=teachers[0].pad_value)
  batches = list(dataset.unbatch().take(num_images).batch(batch_size))
  if not batches:
    raise ValueError(f'--input_pattern={pattern}: no image decoded.')
  # Each teacher's pseudo labels exactly as tools/pseudo_label.py would
  # write them (same pipeline, padding and labeler).
  labels, rates = [], []
  for teacher in teachers:
    labeler = labelers.for_teacher(teacher, threshold)
    teacher(input_pipeline.pad_batch(batches[0]['image'], teacher.batch_size))
    start, outputs = time.perf_counter(), []  # After the tracing call.
    for batch in batches:
      outputs.append(teacher(input_pipeline.pad_batch(batch['image'],
                                                teacher.batch_size)))
    rates.append(sum(len(b['image']) for b in batches) /
                 (time.perf_counter() - start))
    labels.append([label for batch, out in zip(batches, outputs)
                   for label in labeler.batch_labels(
                       out, batch['scale'].numpy(), batch['height'].numpy(),
                       batch['width'].numpy())])
  diffs = [d for a, b in zip(*labels) for d in match(a, b, min_iou)]
  return {'images': len(labels[0]),
          'score_threshold': threshold, 'min_iou': min_iou,
          'boxes_a': sum(len(a['boxes']) for a in labels[0]),
          'boxes_b': sum(len(b['boxes']) for b in labels[1]),
          'matched': len(diffs),
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

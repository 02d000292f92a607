"""The teacher on held-out labeled images: how good its pseudo labels are.

`measure` runs a loaded teacher over labeled TFRecords (Model Garden's
TFExample format, the student's labeled data or a slice the student does
not train on) through the labeling pipeline and labelers, and compares
with the labels (`quality`): per class precision/recall at thresholds
0.05..0.95, boxes per image, the teacher's COCO AP (Model Garden's
COCOEvaluator, pycocotools) for detection; per class pixel precision/recall
and the mIoU of the thresholded masks for segmentation.
`class_shares` reads only the labels, for the bias warnings.
"""

import contextlib
import sys
from typing import Dict, List, Optional, Tuple

import numpy as np
import tensorflow as tf

from official.vision.evaluation import coco_evaluator

from official_ext.labeling import input_pipeline
from official_ext.labeling import labelers
from official_ext.labeling import segmentation_masks
from official_ext.quality import measures

_MASK_KEY = 'image/segmentation/class/encoded'


def _records(files: List[str]) -> tf.data.Dataset:
  """(file index, record index, serialized) in order; unreadable records
  are left out, as the labeling pipeline does."""
  ds = tf.data.Dataset.from_tensor_slices(
      (tf.constant(files, tf.string), tf.range(len(files), dtype=tf.int64)))
  return ds.flat_map(lambda f, i: tf.data.TFRecordDataset(f).enumerate().map(
      lambda k, r: (i, k, r))).ignore_errors()


def ground_truth(files: List[str], task: str
                 ) -> Dict[Tuple[int, int], dict]:
  """The human labels of labeled TFRecords, without decoding the images.

  Args:
    files: the record files.
    task: 'detection' or 'segmentation'.

  Returns:
    (file, record) -> the record's labels: detection 'boxes' ([0, 1]
    yxyx), 'classes', 'is_crowd'; segmentation 'mask' (pixel classes).
  """
  if task == 'detection':
    # Model Garden's TFExample keys (tf_example_decoder), without decoding
    # the image.
    spec = {f'image/object/bbox/{k}': tf.io.VarLenFeature(tf.float32)
            for k in ('ymin', 'xmin', 'ymax', 'xmax')}
    spec['image/object/class/label'] = tf.io.VarLenFeature(tf.int64)
    spec['image/object/is_crowd'] = tf.io.VarLenFeature(tf.int64)

    def decode(i, k, serialized):
      d = {n: tf.sparse.to_dense(v) for n, v in
           tf.io.parse_single_example(serialized, spec).items()}
      classes = d['image/object/class/label']
      crowd = d['image/object/is_crowd']
      crowd = tf.cond(tf.size(crowd) > 0, lambda: crowd,
                      lambda: tf.zeros_like(classes))
      return i, k, {'boxes': tf.stack([d[f'image/object/bbox/{c}'] for c in (
          'ymin', 'xmin', 'ymax', 'xmax')], axis=-1),
                    'classes': classes, 'is_crowd': tf.cast(crowd, tf.bool)}
  else:
    def decode(i, k, serialized):
      feats = tf.io.parse_single_example(serialized, {
          _MASK_KEY: tf.io.FixedLenFeature([], tf.string, default_value='')})
      return i, k, {'mask': tf.io.decode_image(
          feats[_MASK_KEY], channels=1, expand_animations=False)[..., 0]}
  out = {}
  for i, k, labels in _records(files).map(decode).ignore_errors():
    out[(int(i), int(k))] = {n: v.numpy() for n, v in labels.items()}
  if not out:
    raise ValueError(f'no {task} labels could be read from {files[:3]}...: '
                     'the calibration set needs labeled TFExamples.')
  return out


def class_shares(files: List[str], task: str) -> Dict[str, int]:
  """How the labeled set's labels spread over the classes.

  Args:
    files: labeled record files.
    task: 'detection' or 'segmentation'.

  Returns:
    Boxes (detection) or pixels (segmentation) per class, and the mean
    boxes per image under key 'per_image'.
  """
  counts, images = {}, 0
  for labels in ground_truth(files, task).values():
    images += 1
    values = labels['classes'] if task == 'detection' else labels['mask']
    ids, n = np.unique(np.asarray(values).reshape(-1), return_counts=True)
    for c, v in zip(ids, n):
      if c != measures.IGNORE_LABEL:
        counts[str(int(c))] = counts.get(str(int(c)), 0) + int(v)
  per_image = (sum(counts.values()) / max(images, 1)
               if task == 'detection' else None)
  return {'counts': counts, 'per_image': per_image, 'images': images}


def measure(teacher, files: List[str], score_threshold: float,
            class_thresholds: Optional[Dict[int, float]] = None,
            batch_size: int = 8) -> dict:
  """The teacher's pseudo-label quality on labeled files (see the module).

  Args:
    teacher: a loaded Teacher.
    files: labeled record files no model trained on.
    score_threshold: the labeling threshold.
    class_thresholds: {class id: threshold} over it, or None.
    batch_size: the teacher's batch.

  Returns:
    The table: precision, recall (or mIoU) by threshold and class.
  """
  return measure_with_counts(teacher, files, score_threshold,
                             class_thresholds, batch_size)[0]


def measure_with_counts(teacher, files: List[str], score_threshold: float,
                        class_thresholds: Optional[Dict[int, float]] = None,
                        batch_size: int = 8):
  """`measure`'s table and its counts, for figures at other thresholds
  without another teacher pass.

  Args:
    teacher, files, score_threshold, class_thresholds, batch_size: as
      `measure`'s.

  Returns:
    (the table, its measures.DetectionCounts or SegmentationCounts).
  """
  truth = ground_truth(files, teacher.task)
  num_classes = int(teacher.num_classes or 0)
  dataset = input_pipeline.build_dataset(files, batch_size,
                                         teacher.input_size, None,
                                         teacher.pad_value)
  if teacher.task == 'detection':
    counts = measures.DetectionCounts(num_classes)
    labeler = labelers.DetectionLabeler(
        0.0, normalized_boxes=teacher.normalized_boxes)
    coco = coco_evaluator.COCOEvaluator(
        annotation_file=None, include_mask=False, need_rescale_bboxes=False)
  else:
    counts = measures.SegmentationCounts(num_classes, score_threshold)
    vector = labelers.threshold_vector(score_threshold, class_thresholds,
                                       num_classes)
  image_id = 0
  for batch in dataset:
    outputs = teacher(input_pipeline.pad_batch(batch['image'],
                                               teacher.batch_size))
    outputs = {k: np.asarray(v) for k, v in outputs.items()}
    meta = {k: batch[k].numpy() for k in ('scale', 'height', 'width', 'file',
                                          'record')}
    n = len(meta['height'])
    if teacher.task == 'detection':
      labels = labeler.batch_labels(outputs, meta['scale'], meta['height'],
                                    meta['width'])
    else:
      logits, valid, sizes = labelers.SegmentationLabeler.logits_frames(
          outputs, meta['scale'], meta['height'], meta['width'])
    for i in range(n):
      gt = truth.get((int(meta['file'][i]), int(meta['record'][i])))
      if gt is None:
        continue
      image_id += 1
      if teacher.task == 'detection':
        _add_detection(counts, coco, image_id, labels[i], gt,
                       int(meta['height'][i]), int(meta['width'][i]),
                       outputs['detection_scores'].shape[1])
      else:
        classes, confidence = segmentation_masks.class_and_confidence(
            logits[i], valid[i], sizes[i])
        counts.add(classes.numpy(), confidence.numpy(), gt['mask'],
                   class_thresholds=vector)
  table = counts.table()
  if teacher.task == 'detection' and image_id:
    with contextlib.redirect_stdout(sys.stderr):  # pycocotools prints.
      result = coco.result()
    table['teacher_coco'] = {k: float(result[k]) for k in ('AP', 'AP50')}
  return table, counts


def _add_detection(counts, coco, image_id, labels, gt, height, width,
                   max_detections):
  """One image into the counts and the COCO evaluator (pixel boxes; the
  predictions padded to the teacher's fixed count, as Model Garden's
  evaluation gets them)."""
  counts.add(labels['boxes'], labels['classes'], labels['scores'],
             gt['boxes'], gt['classes'], gt['is_crowd'])
  scale = np.array([height, width, height, width], np.float32)
  pad = max_detections - len(labels['classes'])
  padded = {k: np.pad(labels[k], [(0, pad)] + [(0, 0)] * (labels[k].ndim - 1))
            for k in ('boxes', 'classes', 'scores')}
  as_tensors = lambda d: {k: tf.constant(v) for k, v in d.items()}
  coco.update_state(*map(as_tensors, (
      {'source_id': np.array([image_id]), 'height': np.array([height]),
       'width': np.array([width]),
       'num_detections': np.array([len(gt['classes'])]),
       'boxes': (gt['boxes'] * scale)[None],
       'classes': gt['classes'][None],
       'is_crowds': gt['is_crowd'].astype(np.int32)[None]},
      {'source_id': np.array([image_id]),
       'num_detections': np.array([len(labels['classes'])]),
       'detection_boxes': (padded['boxes'] * scale)[None],
       'detection_classes': padded['classes'][None],
       'detection_scores': padded['scores'][None]})))

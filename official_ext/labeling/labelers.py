"""Teacher outputs -> pseudo labels, per task; with their statistics.

A labeler turns a batch's teacher outputs into each image's labels
(`batch_labels`), those into the fields of a Model Garden TFExample
(`example_fields`), keeps counts for the JSON report, and
draws overlays. `labeling` runs any of them through one pipeline. A
segmenter's logits become masks in segmentation_masks.py.
"""

from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from official.vision.ops import box_ops
from official_ext.labeling import labeler
from official_ext.labeling import segmentation_masks

SCORE_BINS = segmentation_masks.SCORE_BINS
BOX_COUNT_BINS = 11  # 0..9 and >= 10 boxes per image.
IGNORE_LABEL = segmentation_masks.IGNORE_LABEL


def threshold_vector(score_threshold: float,
                     class_thresholds: Optional[Dict[int, float]],
                     num_classes: int) -> np.ndarray:
  """Each class id's threshold: its own where given, else the global one.

  Args:
    score_threshold: the global threshold.
    class_thresholds: {class id: threshold}, or None.
    num_classes: the vector's length (class ids 0..num_classes-1).

  Returns:
    A float32 [num_classes] vector.
  """
  vector = np.full([num_classes], score_threshold, np.float32)
  for c, t in (class_thresholds or {}).items():
    if int(c) < num_classes:
      vector[int(c)] = t
  return vector


def thresholds_record(score_threshold: float,
                      class_thresholds: Optional[Dict[int, float]]) -> dict:
  """The thresholds as the shard stats and the report keep them.

  Args:
    score_threshold: the global threshold.
    class_thresholds: {class id: threshold}, or None.

  Returns:
    {'score_threshold', 'class_thresholds': {"class id": threshold}} (JSON
    keys; compared as a whole by provenance.py).
  """
  return {'score_threshold': score_threshold,
          'class_thresholds': {str(c): float(t) for c, t in
                               sorted((class_thresholds or {}).items())}}


def _histogram_bin(value: float) -> int:
  return int(min(SCORE_BINS - 1, max(0, value * SCORE_BINS)))


def _add_counts(counts: Dict[str, int], keys, values=None):
  values = np.ones(len(keys), np.int64) if values is None else values
  for k, v in zip(keys, values):
    counts[str(int(k))] = counts.get(str(int(k)), 0) + int(v)


def _sorted_counts(counts: Dict[str, int]) -> Dict[str, int]:
  return dict(sorted(counts.items(), key=lambda kv: int(kv[0])))


class DetectionLabeler(labeler.Labeler):
  """Teacher detections -> boxes >= threshold, normalized to [0, 1].

  Its labels: per image, {'boxes' [k, 4] in [0, 1], 'classes' [k],
  'scores' [k]}.
  """

  task = 'detection'

  def __init__(self, score_threshold: float, normalized_boxes: bool = False,
               class_thresholds: Optional[Dict[int, float]] = None):
    self.score_threshold = score_threshold
    self.class_thresholds = dict(class_thresholds or {})
    # Teachers exported with export_config.output_normalized_coordinates
    # return [0, 1] boxes; others pixels of their resized input.
    self.normalized_boxes = normalized_boxes

  def _input_pixels(self, outputs, n: int) -> np.ndarray:
    """The batch's boxes [n, max detections, 4] in pixels of the images we
    fed the teacher.

    Model Garden's detection export resizes its input to fit the model and
    returns boxes in that resized frame (image_info row 2 is the scale), or
    normalized by the input size (image_info row 0).
    """
    boxes = np.asarray(outputs['detection_boxes'][:n], np.float32)
    info = outputs.get('image_info')
    if self.normalized_boxes:
      if info is None:
        raise ValueError('a teacher with normalized boxes must return '
                         'image_info to map them back to pixels.')
      frame = np.asarray(info[:n], np.float32)[:, 0]
      return boxes * np.tile(frame, 2)[:, None]
    if info is not None:
      scale = np.asarray(info[:n], np.float32)[:, 2]
      return boxes / np.tile(scale, 2)[:, None]
    return boxes

  def batch_labels(self, outputs, scales, heights, widths) -> List[dict]:
    """Each image's boxes >= its class's threshold, in [0, 1] of the
    original image: whole-batch array ops, then one slice per image.

    Args:
      outputs: the teacher's outputs on the batch (Model Garden's detection
        export: num_detections, detection_boxes/scores/classes), padded to
        the teacher's batch size.
      scales: each image's resize factor into the teacher's input.
      heights: each image's original height (the batch's real length).
      widths: each image's original width.

    Returns:
      Per image, {'boxes' [k, 4] in [0, 1], 'classes' [k], 'scores' [k]}.
    """
    n = len(heights)
    counts = np.asarray(outputs['num_detections'][:n]).astype(np.int64)
    scores = np.asarray(outputs['detection_scores'][:n], np.float32)
    classes = np.asarray(outputs['detection_classes'][:n]).astype(np.int64)
    valid = np.arange(scores.shape[1])[None] < counts[:, None]
    thresholds = threshold_vector(
        self.score_threshold, self.class_thresholds,
        int(classes[valid].max(initial=0)) + 1)
    keep = valid & (scores >= thresholds[np.where(valid, classes, 0)])
    # Teacher input pixels -> original pixels (our resize) -> [0, 1]
    # (Model Garden's box_ops, broadcast over the batch).
    boxes = self._input_pixels(outputs, n) / np.asarray(
        scales, np.float32)[:n, None, None]
    size = np.stack([heights, widths], -1).astype(np.float32)[:n, None]
    boxes = box_ops.clip_boxes(box_ops.normalize_boxes(boxes, size),
                               [1.0, 1.0]).numpy()
    return [{'boxes': boxes[i][keep[i]], 'classes': classes[i][keep[i]],
             'scores': scores[i][keep[i]]} for i in range(n)]

  def example_fields(self, labels) -> Dict[str, np.ndarray]:
    return labels

  def new_stats(self) -> dict:
    return {'num_boxes': 0, 'boxes_per_image_histogram': [0] * BOX_COUNT_BINS,
            'class_counts': {}, 'score_histogram': [0] * SCORE_BINS}

  def update_stats(self, stats, labels):
    n = len(labels['classes'])
    stats['num_boxes'] += n
    stats['boxes_per_image_histogram'][min(n, BOX_COUNT_BINS - 1)] += 1
    _add_counts(stats['class_counts'], labels['classes'])
    for s in labels['scores']:
      stats['score_histogram'][_histogram_bin(float(s))] += 1

  def report(self, total: dict, num_images: int) -> dict:
    if 'num_boxes' not in total:
      return {}
    return {
        'boxes_per_image_mean': total['num_boxes'] / max(num_images, 1),
        'empty_image_fraction': total['boxes_per_image_histogram'][0] / max(
            num_images, 1),
        'boxes_per_image_histogram': total['boxes_per_image_histogram'],
        'class_counts': _sorted_counts(total['class_counts']),
        'score_histogram': total['score_histogram'],
        'score_histogram_bins': [i / SCORE_BINS for i in
                                 range(SCORE_BINS + 1)],
    }

  def draw(self, image: np.ndarray, labels) -> np.ndarray:
    from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    h, w = image.shape[:2]
    for box, cls, score in zip(labels['boxes'], labels['classes'],
                               labels['scores']):
      y0, x0, y1, x1 = box * [h, w, h, w]
      draw.rectangle([x0, y0, x1, y1], outline=(255, 40, 40), width=2)
      draw.text((x0 + 2, y0 + 1), f'{int(cls)}:{score:.2f}',
                fill=(255, 255, 0))
    return np.asarray(canvas)


class SegmentationLabeler(labeler.Labeler):
  """Teacher logits -> per-pixel class where max prob >= threshold, else 255,
  at the original image size (PNG-encoded, as the TFExample stores it).

  Its labels: per image, {'encoded_mask' (PNG bytes), 'class_pixels' [256],
  'confidence_histogram' [SCORE_BINS]}.
  """

  task = 'segmentation'

  def __init__(self, score_threshold: float,
               class_thresholds: Optional[Dict[int, float]] = None):
    self.score_threshold = score_threshold
    self.class_thresholds = dict(class_thresholds or {})

  @staticmethod
  def logits_frames(outputs, scales, heights, widths):
    """The batch's logits and where each image lies in them.

    Args:
      outputs: the teacher's outputs (logits; image_info when the teacher
        resizes again).
      scales: each image's resize factor into the teacher's input.
      heights: each image's original height.
      widths: each image's original width.

    Returns:
      (logits [n, h, w, classes] float32, each image's valid part of them
      [n, 2], its original size [n, 2]).
    """
    n = len(heights)
    logits = outputs['logits'][:n]
    sizes = np.stack([heights, widths], axis=-1).astype(np.int32)
    # Our pipeline resized by `scale`; a teacher that resizes again says so
    # in its image_info ([original, scaled, scale, offset] rows).
    extra = (np.asarray(outputs['image_info'])[:n, 2] if 'image_info' in outputs
             else np.ones([n, 2]))
    valid = np.round(sizes * np.asarray(scales)[:, None] * extra).astype(
        np.int32)
    valid = np.clip(valid, 1, np.array(logits.shape[1:3], np.int32))
    return tf.cast(logits, tf.float32), valid, sizes

  def batch_labels(self, outputs, scales, heights, widths) -> List[dict]:
    n = len(heights)
    logits, valid, sizes = self.logits_frames(outputs, scales, heights,
                                              widths)
    thresholds = threshold_vector(self.score_threshold, self.class_thresholds,
                                  logits.shape[-1])
    pngs, counts, histograms = (t.numpy() for t in
                                segmentation_masks.segment_batch(
                                    logits, valid, sizes, thresholds))
    return [{'encoded_mask': pngs[i], 'class_pixels': counts[i],
             'confidence_histogram': histograms[i]} for i in range(n)]

  def example_fields(self, labels) -> Dict[str, bytes]:
    return {'encoded_mask': labels['encoded_mask']}

  def new_stats(self) -> dict:
    return {'num_pixels': 0, 'ignored_pixels': 0, 'class_pixel_counts': {},
            'confidence_histogram': [0] * SCORE_BINS, 'empty_images': 0}

  def update_stats(self, stats, labels):
    counts = labels['class_pixels']
    stats['num_pixels'] += int(counts.sum())
    stats['ignored_pixels'] += int(counts[IGNORE_LABEL])
    stats['empty_images'] += int(counts[:IGNORE_LABEL].sum() == 0)
    classes = np.flatnonzero(counts[:IGNORE_LABEL])
    _add_counts(stats['class_pixel_counts'], classes, counts[classes])
    stats['confidence_histogram'] = [
        a + int(b) for a, b in zip(stats['confidence_histogram'],
                                   labels['confidence_histogram'])]

  def report(self, total: dict, num_images: int) -> dict:
    if 'num_pixels' not in total:
      return {}
    return {
        'ignored_fraction': total['ignored_pixels'] / max(
            total['num_pixels'], 1),
        'empty_image_fraction': total.get('empty_images', 0) / max(
            num_images, 1),
        'class_pixel_counts': _sorted_counts(total['class_pixel_counts']),
        'confidence_histogram': total['confidence_histogram'],
        'confidence_histogram_bins': [i / SCORE_BINS for i in
                                      range(SCORE_BINS + 1)],
    }

  def draw(self, image: np.ndarray, labels) -> np.ndarray:
    mask = tf.io.decode_png(labels['encoded_mask']).numpy()[..., 0]
    rng = np.random.RandomState(0)
    palette = rng.randint(40, 256, size=(256, 3)).astype(np.float32)
    palette[0] = 0  # Background stays as it is.
    palette[IGNORE_LABEL] = 128
    colour = palette[mask]
    alpha = np.where(mask == 0, 0.0, 0.5)[..., None]
    out = image.astype(np.float32) * (1 - alpha) + colour * alpha
    return out.astype(np.uint8)


LABELERS = {'detection': DetectionLabeler,
            'segmentation': SegmentationLabeler}


def for_teacher(teacher, score_threshold: float,
                class_thresholds: Optional[Dict[int, float]] = None):
  """The labeler for a teacher's task and outputs.

  Args:
    teacher: a loaded teacher_lib.Teacher.
    score_threshold: the labeling threshold.
    class_thresholds: {class id: threshold} over it, or None.

  Returns:
    Its task's Labeler.
  """
  if teacher.task == 'detection':
    return DetectionLabeler(score_threshold,
                            normalized_boxes=teacher.normalized_boxes,
                            class_thresholds=class_thresholds)
  return LABELERS[teacher.task](score_threshold, class_thresholds)

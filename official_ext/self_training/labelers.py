"""Teacher outputs -> pseudo labels, per task; with their statistics.

A labeler turns one image's teacher outputs into the fields of a Model
Garden TFExample (`example_fields`), keeps counts for the JSON report, and
draws overlays. `labeling` runs any of them through one pipeline.
"""

from typing import Dict

import numpy as np
import tensorflow as tf

SCORE_BINS = 10
BOX_COUNT_BINS = 11  # 0..9 and >= 10 boxes per image.
IGNORE_LABEL = 255


def _histogram_bin(value: float) -> int:
  return int(min(SCORE_BINS - 1, max(0, value * SCORE_BINS)))


def _add_counts(counts: Dict[str, int], keys, values=None):
  values = np.ones(len(keys), np.int64) if values is None else values
  for k, v in zip(keys, values):
    counts[str(int(k))] = counts.get(str(int(k)), 0) + int(v)


def _sorted_counts(counts: Dict[str, int]) -> Dict[str, int]:
  return dict(sorted(counts.items(), key=lambda kv: int(kv[0])))


class DetectionLabeler:
  """Teacher detections -> boxes >= threshold, normalized to [0, 1]."""

  task = 'detection'

  def __init__(self, score_threshold: float, normalized_boxes: bool = False):
    self.score_threshold = score_threshold
    # Teachers exported with export_config.output_normalized_coordinates
    # return [0, 1] boxes; others pixels of their resized input.
    self.normalized_boxes = normalized_boxes

  def _input_pixels(self, outputs, i) -> np.ndarray:
    """Image i's boxes in pixels of the image we fed the teacher.

    Model Garden's detection export resizes its input to fit the model and
    returns boxes in that resized frame (image_info row 2 is the scale), or
    normalized by the input size (image_info row 0).
    """
    n = int(outputs['num_detections'][i])
    boxes = outputs['detection_boxes'][i][:n].astype(np.float32)
    info = outputs.get('image_info')
    if self.normalized_boxes:
      if info is None:
        raise ValueError('a teacher with normalized boxes must return '
                         'image_info to map them back to pixels.')
      return boxes * np.tile(info[i][0], 2).astype(np.float32)
    if info is not None:
      return boxes / np.tile(info[i][2], 2).astype(np.float32)
    return boxes

  def labels(self, outputs, i, scale, height, width) -> Dict[str, np.ndarray]:
    n = int(outputs['num_detections'][i])
    scores = outputs['detection_scores'][i][:n].astype(np.float32)
    keep = scores >= self.score_threshold
    # Teacher input pixels -> original pixels (our resize) -> [0, 1].
    boxes = self._input_pixels(outputs, i)[keep] / scale
    boxes = boxes / np.array([height, width, height, width], np.float32)
    boxes = np.clip(boxes, 0.0, 1.0)
    classes = outputs['detection_classes'][i][:n][keep].astype(np.int64)
    return {'boxes': boxes, 'classes': classes, 'scores': scores[keep]}

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


def segmentation_probabilities(logits: np.ndarray, valid_height: int,
                               valid_width: int, height: int,
                               width: int) -> np.ndarray:
  """Teacher logits at its padded input size -> softmax at the original size.

  The exported model sees the image resized to fit its input and padded at
  the bottom/right; its logits cover that padded input. The image's part is
  the top-left `valid_height x valid_width`; it is cropped, resized back to
  `height x width` (bilinear, on logits) and turned into probabilities.
  """
  valid_height = max(1, min(valid_height, logits.shape[0]))
  valid_width = max(1, min(valid_width, logits.shape[1]))
  cropped = logits[:valid_height, :valid_width].astype(np.float32)
  if (valid_height, valid_width) != (height, width):
    cropped = tf.image.resize(cropped[None], [height, width],
                              method='bilinear')[0].numpy()
  cropped -= cropped.max(axis=-1, keepdims=True)
  probs = np.exp(cropped)
  return probs / probs.sum(axis=-1, keepdims=True)


class SegmentationLabeler:
  """Teacher logits -> per-pixel class where max prob >= threshold, else 255,
  at the original image size."""

  task = 'segmentation'

  def __init__(self, score_threshold: float):
    self.score_threshold = score_threshold

  def labels(self, outputs, i, scale, height, width) -> Dict[str, np.ndarray]:
    # Our pipeline resized by `scale`; a teacher that resizes again says so
    # in its image_info ([original, scaled, scale, offset] rows).
    extra = (outputs['image_info'][i][2] if 'image_info' in outputs
             else np.ones(2))
    valid = [int(np.round(height * scale * extra[0])),
             int(np.round(width * scale * extra[1]))]
    probs = segmentation_probabilities(outputs['logits'][i], valid[0],
                                       valid[1], height, width)
    confidence = probs.max(axis=-1)
    mask = np.where(confidence >= self.score_threshold,
                    probs.argmax(axis=-1), IGNORE_LABEL).astype(np.uint8)
    return {'mask': mask, 'confidence': confidence}

  def example_fields(self, labels) -> Dict[str, np.ndarray]:
    return {'mask': labels['mask']}

  def new_stats(self) -> dict:
    return {'num_pixels': 0, 'ignored_pixels': 0, 'class_pixel_counts': {},
            'confidence_histogram': [0] * SCORE_BINS}

  def update_stats(self, stats, labels):
    mask = labels['mask']
    stats['num_pixels'] += int(mask.size)
    classes, counts = np.unique(mask, return_counts=True)
    kept = classes != IGNORE_LABEL
    stats['ignored_pixels'] += int(counts[~kept].sum())
    _add_counts(stats['class_pixel_counts'], classes[kept], counts[kept])
    hist, _ = np.histogram(labels['confidence'], bins=SCORE_BINS,
                           range=(0.0, 1.0))
    stats['confidence_histogram'] = [
        a + int(b) for a, b in zip(stats['confidence_histogram'], hist)]

  def report(self, total: dict, num_images: int) -> dict:
    del num_images
    if 'num_pixels' not in total:
      return {}
    return {
        'ignored_fraction': total['ignored_pixels'] / max(
            total['num_pixels'], 1),
        'class_pixel_counts': _sorted_counts(total['class_pixel_counts']),
        'confidence_histogram': total['confidence_histogram'],
        'confidence_histogram_bins': [i / SCORE_BINS for i in
                                      range(SCORE_BINS + 1)],
    }

  def draw(self, image: np.ndarray, labels) -> np.ndarray:
    mask = labels['mask']
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


def for_teacher(teacher, score_threshold: float):
  """The labeler for a loaded `teacher_lib.Teacher`'s task and outputs."""
  if teacher.task == 'detection':
    return DetectionLabeler(score_threshold,
                            normalized_boxes=teacher.normalized_boxes)
  return LABELERS[teacher.task](score_threshold)

"""Pseudo-label quality against held-out labels, per-class thresholds from
it, and warnings about a biased or silent teacher.

Counts are accumulated per image (`DetectionCounts.add`,
`SegmentationCounts.add`) and turned into precision/recall per class at the
thresholds `THRESHOLDS` (`table`). Detection matching is pycocotools'
COCOeval at one IoU: predictions by descending score, each to the unmatched
ground-truth box of its class with the highest IoU >= 0.5; crowd regions are
not ground truths and a prediction on one (by IoA) counts neither way. With
greedy matching in score order, the predictions kept at a threshold are a
prefix of that order, so one matching serves every threshold.

`thresholds.auto_thresholds` picks per class the lowest threshold whose
precision reaches a target from these tables; `bias.warnings` compares
pseudo labels with the labeled set.
"""

import contextlib
import io
from typing import Dict, List, Optional, Sequence

import numpy as np
from pycocotools import coco
from pycocotools import cocoeval

THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05..0.95
IOU = 0.5
IGNORE_LABEL = 255


def _at_thresholds(scores: np.ndarray, flags: np.ndarray,
                   thresholds: Sequence[float]) -> np.ndarray:
  """For each threshold, how many of `flags` (with `scores`) are set among
  scores >= threshold."""
  order = np.argsort(-scores, kind='stable')
  scores, flags = scores[order], flags[order].astype(np.int64)
  cumulative = np.concatenate([[0], np.cumsum(flags)])
  kept = np.searchsorted(-scores, -np.asarray(thresholds), side='right')
  return cumulative[kept]


class DetectionCounts:
  """True/false positives per class and threshold, ground truths per class.

  Matching is pycocotools' own (`COCOeval.evaluateImg` at IoU 0.5, one area
  range, every detection), run once over all images when the table is
  asked for: per class, detections by descending score each take the
  unmatched ground truth with the highest IoU >= 0.5; a detection on a
  crowd region (IoA, as COCO measures crowds) counts neither way, and crowd
  boxes are not ground truths.
  """

  def __init__(self, num_classes: int,
               thresholds: Sequence[float] = THRESHOLDS):
    self.num_classes = num_classes
    self.thresholds = tuple(thresholds)
    self.ground_truths = np.zeros(num_classes, np.int64)
    self.images = 0
    self.gt_boxes = 0
    self.kept_boxes = np.zeros(len(self.thresholds), np.int64)
    self.empty_images = np.zeros(len(self.thresholds), np.int64)
    self._gt, self._dt = [], []  # COCO annotations, boxes as [x, y, w, h].

  def add(self, boxes, classes, scores, gt_boxes, gt_classes, gt_crowd=None):
    """Counts one image.

    Args:
      boxes: predicted boxes (ymin, xmin, ymax, xmax).
      classes: their classes.
      scores: their scores.
      gt_boxes: ground-truth boxes, in the same frame.
      gt_classes: their classes.
      gt_crowd: their is_crowd flags, or None.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    classes = np.asarray(classes, np.int64).reshape(-1)
    scores = np.asarray(scores, np.float32).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    gt_classes = np.asarray(gt_classes, np.int64).reshape(-1)
    crowd = (np.zeros(len(gt_classes), bool) if gt_crowd is None else
             np.asarray(gt_crowd, bool).reshape(-1))
    self.images += 1
    image_id = self.images
    self.gt_boxes += int((~crowd).sum())
    kept = np.array([(scores >= t).sum() for t in self.thresholds])
    self.kept_boxes += kept
    self.empty_images += kept == 0
    np.add.at(self.ground_truths, gt_classes[~crowd], 1)
    for box, c, is_crowd in zip(gt_boxes, gt_classes, crowd):
      self._gt.append(_annotation(len(self._gt) + 1, image_id, box, c,
                                  iscrowd=int(is_crowd)))
    for box, c, score in zip(boxes, classes, scores):
      self._dt.append(_annotation(len(self._dt) + 1, image_id, box, c,
                                  score=float(score)))

  def _counts(self):
    """(true positives, predictions) per class and threshold."""
    shape = (self.num_classes, len(self.thresholds))
    true_positives = np.zeros(shape, np.int64)
    predictions = np.zeros(shape, np.int64)
    matched, counted = _coco_matches(self._gt, self._dt, self.images,
                                     self.num_classes)
    classes = np.array([d['category_id'] for d in self._dt], np.int64)
    scores = np.array([d['score'] for d in self._dt], np.float32)
    for c in np.unique(classes[counted]):
      mine = counted & (classes == c)
      predictions[c] = _at_thresholds(scores[mine], np.ones(mine.sum(), bool),
                                      self.thresholds)
      true_positives[c] = _at_thresholds(scores[mine], matched[mine],
                                         self.thresholds)
    return true_positives, predictions

  def table(self) -> dict:
    """Precision and recall per class (and over all classes) per threshold;
    boxes per image kept vs ground truth."""
    true_positives, predictions = self._counts()
    return _table(self.thresholds, true_positives, predictions,
                  self.ground_truths, 'boxes') | {
        'images': self.images,
        'gt_boxes_per_image': self.gt_boxes / max(self.images, 1),
        'boxes_per_image': (self.kept_boxes / max(self.images, 1)).tolist(),
        'empty_image_fraction': (self.empty_images /
                                 max(self.images, 1)).tolist()}


def _annotation(ann_id, image_id, box, category, **extra) -> dict:
  """A COCO annotation of a (ymin, xmin, ymax, xmax) box."""
  ymin, xmin, ymax, xmax = (float(v) for v in box)
  w, h = xmax - xmin, ymax - ymin
  return dict(id=ann_id, image_id=image_id, category_id=int(category),
              bbox=[xmin, ymin, w, h], area=w * h, **extra)


def _coco_matches(gt: List[dict], dt: List[dict], num_images: int,
                  num_classes: int):
  """(matched, counted): per detection of `dt`, whether COCOeval matched it
  to a ground truth at IoU >= IOU, and whether it counts (not matched to a
  crowd region)."""
  matched = np.zeros(len(dt), bool)
  counted = np.ones(len(dt), bool)
  if not dt:
    return matched, counted
  images = [{'id': i} for i in range(1, num_images + 1)]
  categories = [{'id': c} for c in range(num_classes)]
  coco_gt, coco_dt = coco.COCO(), coco.COCO()
  coco_gt.dataset = {'images': images, 'categories': categories,
                     'annotations': gt}
  coco_dt.dataset = {'images': images, 'categories': categories,
                     'annotations': dt}
  with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints.
    coco_gt.createIndex()
    coco_dt.createIndex()
    evaluation = cocoeval.COCOeval(coco_gt, coco_dt, 'bbox')
    evaluation.params.iouThrs = np.array([IOU])
    evaluation.params.areaRng = [[0.0, np.inf]]
    evaluation.params.areaRngLbl = ['all']
    per_image = np.bincount([d['image_id'] for d in dt])
    evaluation.params.maxDets = [int(per_image.max())]
    evaluation.evaluate()
  for result in evaluation.evalImgs:
    if result is None:
      continue
    index = np.asarray(result['dtIds'], np.int64) - 1
    matched[index] = result['dtMatches'][0] > 0
    counted[index] = ~result['dtIgnore'][0].astype(bool)
  return matched, counted


class SegmentationCounts:
  """Pixel true/false positives per class and confidence threshold; the
  confusion matrix of the masks at the labeling threshold, and per
  confidence bin, so that `at_class_thresholds` gives the masks' mIoU at
  other per-class thresholds of the grid without another teacher pass."""

  def __init__(self, num_classes: int, score_threshold: float,
               thresholds: Sequence[float] = THRESHOLDS):
    self.thresholds = tuple(thresholds)
    self.num_classes = num_classes
    self.score_threshold = score_threshold
    shape = (num_classes, len(self.thresholds))
    self.true_positives = np.zeros(shape, np.int64)
    self.predictions = np.zeros(shape, np.int64)
    self.ground_truths = np.zeros(num_classes, np.int64)
    self.confusion = np.zeros((num_classes, num_classes), np.int64)
    # Bin b holds the pixels with b edges <= their confidence.
    self.edges = np.array(sorted(set(self.thresholds) | {score_threshold}))
    self.confusion_by_bin = np.zeros(
        (len(self.edges) + 1, num_classes, num_classes), np.int64)
    self.pixels = 0
    self.images = 0

  def add(self, classes, confidence, gt_mask,
          class_thresholds: Optional[np.ndarray] = None):
    """Counts one image.

    Args:
      classes: the teacher's argmax class per pixel.
      confidence: its max probability per pixel.
      gt_mask: the ground-truth mask (IGNORE_LABEL pixels are left out).
      class_thresholds: [classes], each class's threshold for the masks'
        confusion (the pixels kept); None: the labeling threshold.
    """
    classes = np.asarray(classes, np.int64).reshape(-1)
    confidence = np.asarray(confidence, np.float32).reshape(-1)
    gt = np.asarray(gt_mask, np.int64).reshape(-1)
    valid = gt != IGNORE_LABEL
    classes, confidence, gt = classes[valid], confidence[valid], gt[valid]
    self.images += 1
    self.pixels += len(gt)
    np.add.at(self.ground_truths, gt, 1)
    correct = classes == gt
    for c in np.unique(classes):
      mine = classes == c
      self.predictions[c] += _at_thresholds(
          confidence[mine], np.ones(mine.sum(), bool), self.thresholds)
      self.true_positives[c] += _at_thresholds(
          confidence[mine], correct[mine], self.thresholds)
    limit = (self.score_threshold if class_thresholds is None
             else np.asarray(class_thresholds, np.float32)[classes])
    kept = confidence >= limit
    np.add.at(self.confusion, (gt[kept], classes[kept]), 1)
    bins = np.searchsorted(self.edges, confidence, side='right')
    np.add.at(self.confusion_by_bin, (bins, gt, classes), 1)

  def _masks(self, confusion: np.ndarray) -> dict:
    """The thresholded masks' IoU from their confusion matrix."""
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    present = union > 0
    iou = np.where(present, tp / np.maximum(union, 1), np.nan)
    return {'mean_iou_at_threshold': float(np.nanmean(iou))
                                     if present.any() else None,
            'iou_at_threshold': {str(c): float(iou[c])
                                 for c in np.flatnonzero(present)},
            'ignored_fraction_at_threshold':
                (self.pixels - int(confusion.sum())) / max(self.pixels, 1)}

  def at_class_thresholds(self, class_thresholds: Dict[int, float]) -> dict:
    """The masks had each predicted class been kept at its own threshold.

    Args:
      class_thresholds: {class: threshold} (default the labeling
        threshold); each one of the grid's or the labeling threshold.

    Returns:
      The masks' mIoU and ignored pixels.

    Raises:
      ValueError: a threshold off the grid.
    """
    confusion = np.zeros_like(self.confusion)
    for c in range(self.num_classes):
      t = class_thresholds.get(c, self.score_threshold)
      if not np.isclose(self.edges, t).any():
        raise ValueError(f'class {c}: threshold {t} is not one of '
                         f'{self.edges.tolist()}')
      first = int(np.flatnonzero(np.isclose(self.edges, t))[0]) + 1
      confusion[:, c] = self.confusion_by_bin[first:, :, c].sum(0)
    return self._masks(confusion)

  def table(self) -> dict:
    return _table(self.thresholds, self.true_positives, self.predictions,
                  self.ground_truths, 'pixels') | {
                      'images': self.images, **self._masks(self.confusion)}


def _ratio(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return np.where(b > 0, a / np.maximum(b, 1), np.nan)


def _rounded(values) -> List[Optional[float]]:
  return [None if np.isnan(v) else round(float(v), 6) for v in values]


def _table(thresholds, tp, predictions, ground_truths, unit) -> dict:
  classes = np.flatnonzero((ground_truths > 0) | (predictions[:, 0] > 0))
  per_class = {}
  for c in classes:
    per_class[str(c)] = {
        f'ground_truth_{unit}': int(ground_truths[c]),
        'precision': _rounded(_ratio(tp[c], predictions[c])),
        'recall': _rounded(_ratio(tp[c], np.full(len(thresholds),
                                                 ground_truths[c]))),
        'true_positives': tp[c].tolist(),
        'predictions': predictions[c].tolist()}
  total_tp, total_pred = tp.sum(0), predictions.sum(0)
  return {'thresholds': list(thresholds), 'per_class': per_class,
          'overall': {
              'precision': _rounded(_ratio(total_tp, total_pred)),
              'recall': _rounded(_ratio(total_tp, np.full(
                  len(thresholds), ground_truths.sum())))}}

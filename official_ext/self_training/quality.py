"""Pseudo-label quality against held-out labels, per-class thresholds from
it, and warnings about a biased or silent teacher.

Counts are accumulated per image (`DetectionCounts.add`,
`SegmentationCounts.add`) and turned into precision/recall per class at the
thresholds `THRESHOLDS` (`table`). Detection matches as pycocotools does at
one IoU: predictions by descending score, each to the unmatched ground-truth
box of its class with the highest IoU >= 0.5 (crowd boxes are left out of
both sides). With greedy matching in score order, the predictions kept at a
threshold are a prefix of that order, so one matching serves every
threshold.

`auto_thresholds` picks per class the lowest threshold whose precision
reaches a target, `warnings` compares pseudo labels with the labeled set.
"""

from typing import Dict, List, Optional, Sequence

import numpy as np

from official.vision.ops import box_ops

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
  """True/false positives per class and threshold, ground truths per class."""

  def __init__(self, num_classes: int,
               thresholds: Sequence[float] = THRESHOLDS):
    self.thresholds = tuple(thresholds)
    shape = (num_classes, len(self.thresholds))
    self.true_positives = np.zeros(shape, np.int64)
    self.predictions = np.zeros(shape, np.int64)
    self.ground_truths = np.zeros(num_classes, np.int64)
    self.images = 0
    self.gt_boxes = 0
    self.kept_boxes = np.zeros(len(self.thresholds), np.int64)
    self.empty_images = np.zeros(len(self.thresholds), np.int64)

  def add(self, boxes, classes, scores, gt_boxes, gt_classes, gt_crowd=None):
    """One image: predicted and ground-truth boxes in the same frame."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    classes = np.asarray(classes, np.int64).reshape(-1)
    scores = np.asarray(scores, np.float32).reshape(-1)
    gt_boxes = np.asarray(gt_boxes, np.float32).reshape(-1, 4)
    gt_classes = np.asarray(gt_classes, np.int64).reshape(-1)
    if gt_crowd is not None and np.any(gt_crowd):
      crowd = np.asarray(gt_crowd, bool).reshape(-1)
      if len(boxes):  # Predictions on a crowd region count neither way.
        iou = box_ops.bbox_overlap(boxes[None], gt_boxes[crowd][None])
        keep = np.asarray(iou)[0].max(axis=1) < IOU
        boxes, classes, scores = boxes[keep], classes[keep], scores[keep]
      gt_boxes, gt_classes = gt_boxes[~crowd], gt_classes[~crowd]
    self.images += 1
    self.gt_boxes += len(gt_classes)
    kept = np.array([(scores >= t).sum() for t in self.thresholds])
    self.kept_boxes += kept
    self.empty_images += kept == 0
    np.add.at(self.ground_truths, gt_classes, 1)
    matched = self._match(boxes, classes, scores, gt_boxes, gt_classes)
    for c in np.unique(classes):
      mine = classes == c
      self.predictions[c] += _at_thresholds(
          scores[mine], np.ones(mine.sum(), bool), self.thresholds)
      self.true_positives[c] += _at_thresholds(
          scores[mine], matched[mine], self.thresholds)

  @staticmethod
  def _match(boxes, classes, scores, gt_boxes, gt_classes) -> np.ndarray:
    matched = np.zeros(len(scores), bool)
    if not len(scores) or not len(gt_classes):
      return matched
    iou = box_ops.bbox_overlap(boxes[None], gt_boxes[None]).numpy()[0]
    taken = np.zeros(len(gt_classes), bool)
    for i in np.argsort(-scores, kind='stable'):
      candidates = np.where((gt_classes == classes[i]) & ~taken &
                            (iou[i] >= IOU), iou[i], -1.0)
      j = int(np.argmax(candidates))
      if candidates[j] >= IOU:
        taken[j] = matched[i] = True
    return matched

  def table(self) -> dict:
    """Precision and recall per class (and over all classes) per threshold;
    boxes per image kept vs ground truth."""
    return _table(self.thresholds, self.true_positives, self.predictions,
                  self.ground_truths, 'boxes') | {
        'images': self.images,
        'gt_boxes_per_image': self.gt_boxes / max(self.images, 1),
        'boxes_per_image': (self.kept_boxes / max(self.images, 1)).tolist(),
        'empty_image_fraction': (self.empty_images /
                                 max(self.images, 1)).tolist()}


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
    """One image: the teacher's argmax class and max probability per pixel,
    and the ground-truth mask (IGNORE_LABEL pixels are left out)."""
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
    """The masks' mIoU (and ignored pixels) had each predicted class c been
    kept at class_thresholds[c] (default the labeling threshold); every
    threshold must be one of the grid's or the labeling threshold."""
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


def check_threshold_options(class_thresholds: str, calibration_pattern: str,
                            target_precision: float, name=lambda f: f):
  """Raises ValueError for per-class threshold options that cannot work;
  `name(field)` is how the user spells a field (a flag or a config path)."""
  if class_thresholds == 'auto' and not calibration_pattern:
    raise ValueError(
        f"{name('class_thresholds')}=auto needs "
        f"{name('calibration_pattern')} (labeled TFRecords the student does "
        'not train on).')
  if not 0.0 < target_precision <= 1.0:
    raise ValueError(f"{name('target_precision')}={target_precision}: must "
                     'be in (0, 1].')


def auto_thresholds(table: dict, target_precision: float, fallback: float,
                    min_ground_truths: int) -> Dict[str, dict]:
  """Per class of `table` (from `.table()`): the lowest threshold whose
  precision reaches `target_precision`; `fallback` where the class has
  fewer than `min_ground_truths` ground truths or never reaches it."""
  chosen = {}
  for c, row in table['per_class'].items():
    count = next(v for k, v in row.items() if k.startswith('ground_truth_'))
    reached = [t for t, p in zip(table['thresholds'], row['precision'])
               if p is not None and p >= target_precision]
    if count < min_ground_truths:
      chosen[c] = {'threshold': fallback, 'why': f'{count} ground truths '
                   f'(< {min_ground_truths}): the global threshold'}
    elif not reached:
      chosen[c] = {'threshold': fallback, 'why': 'precision never reaches '
                   f'{target_precision}: the global threshold'}
    else:
      chosen[c] = {'threshold': min(reached),
                   'why': f'lowest threshold with precision >= '
                          f'{target_precision}'}
  return chosen


def at_thresholds(table: dict, class_thresholds: Dict[str, float]) -> dict:
  """Overall precision and recall of `table` (from `.table()`) had each
  class c been kept at class_thresholds[c]; every class of the table needs
  a threshold on its grid."""
  grid = np.asarray(table['thresholds'])
  tp = predictions = ground_truths = 0
  for c, row in table['per_class'].items():
    t = class_thresholds[c]
    if not np.isclose(grid, t).any():
      raise ValueError(f'class {c}: threshold {t} is not one of '
                       f'{grid.tolist()}')
    i = int(np.flatnonzero(np.isclose(grid, t))[0])
    tp += row['true_positives'][i]
    predictions += row['predictions'][i]
    ground_truths += next(v for k, v in row.items()
                          if k.startswith('ground_truth_'))
  return {'precision': tp / predictions if predictions else None,
          'recall': tp / ground_truths if ground_truths else None}


def target_precision_sweep(table: dict, targets: Sequence[float],
                           fallback: float, min_ground_truths: int
                           ) -> List[dict]:
  """For each target precision: the overall precision, recall and F1 of
  the labels at the per-class thresholds `auto_thresholds` picks for it,
  measured on the same table (so optimistic: chosen and measured on one
  set). Evidence for choosing the target."""
  rows = []
  for target in targets:
    chosen = auto_thresholds(table, target, fallback, min_ground_truths)
    figures = at_thresholds(table, {c: v['threshold']
                                    for c, v in chosen.items()})
    p, r = figures['precision'], figures['recall']
    f1 = 2 * p * r / (p + r) if p is not None and r and p + r > 0 else None
    rows.append({'target_precision': target, 'precision': p, 'recall': r,
                 'f1': f1})
  return rows


def shares(counts: Dict[str, int]) -> Dict[str, float]:
  total = sum(counts.values())
  return {k: v / total for k, v in counts.items()} if total else {}


def warnings(pseudo_counts: Dict[str, int], labeled_counts: Dict[str, int],
             empty_fraction: Optional[float] = None,
             per_image: Optional[float] = None,
             labeled_per_image: Optional[float] = None,
             max_share_ratio: float = 2.0, max_empty_fraction: float = 0.2,
             max_per_image_ratio: float = 2.0, skip_classes=('0',)
             ) -> List[str]:
  """One line per sign of a biased or silent teacher:
  - a class whose share of the pseudo labels (boxes or pixels) is over
    `max_share_ratio` times its share in the labeled set;
  - more than `max_empty_fraction` of the images with no pseudo label;
  - pseudo boxes per image off by more than `max_per_image_ratio` either
    way from the labeled set's.
  `skip_classes` (background) is left out of the shares."""
  found = []
  pseudo = shares({k: v for k, v in pseudo_counts.items()
                   if k not in skip_classes})
  labeled = shares({k: v for k, v in labeled_counts.items()
                    if k not in skip_classes})
  for c in sorted(pseudo, key=int):
    if not labeled:
      break
    expected = labeled.get(c, 0.0)
    if pseudo[c] > max_share_ratio * expected:
      found.append(
          f'class {c}: {pseudo[c]:.1%} of the pseudo labels vs '
          f'{expected:.1%} of the labeled set (over {max_share_ratio:g}x): '
          'the teacher may be biased toward it')
  if empty_fraction is not None and empty_fraction > max_empty_fraction:
    found.append(f'{empty_fraction:.1%} of the images have no pseudo label '
                 f'(over {max_empty_fraction:.0%}): the threshold may be too '
                 'high or the teacher too weak')
  if per_image is not None and labeled_per_image:
    ratio = per_image / labeled_per_image
    if not 1 / max_per_image_ratio <= ratio <= max_per_image_ratio:
      found.append(f'{per_image:.2f} pseudo boxes per image vs '
                   f'{labeled_per_image:.2f} in the labeled set (off by over '
                   f'{max_per_image_ratio:g}x)')
  return found

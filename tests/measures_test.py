"""official_ext/quality/measures.py, thresholds.py and bias.py against values
computed by hand."""

import numpy as np
import pytest

from official_ext.quality import bias
from official_ext.quality import measures
from official_ext.quality import thresholds as thresholds_lib

T = (0.15, 0.25, 0.5)


def _det():
  counts = measures.DetectionCounts(num_classes=3, thresholds=T)
  counts.add(
      boxes=[[0, 0, 10, 10], [0, 0, 10, 9], [50, 50, 60, 60],
             [20, 20, 30, 31]],
      classes=[1, 1, 2, 2], scores=[0.9, 0.6, 0.3, 0.2],
      gt_boxes=[[0, 0, 10, 10], [20, 20, 30, 30]], gt_classes=[1, 2])
  return counts


def test_detection_precision_recall_by_hand():
  table = _det().table()
  assert table['thresholds'] == list(T)
  one, two = table['per_class']['1'], table['per_class']['2']
  # Class 1: 0.9 matches, 0.6 is a duplicate of the same box (taken).
  assert one == {'ground_truth_boxes': 1, 'precision': [0.5, 0.5, 0.5],
                 'recall': [1.0, 1.0, 1.0], 'true_positives': [1, 1, 1],
                 'predictions': [2, 2, 2]}
  # Class 2: 0.3 is off the box; 0.2 overlaps it with IoU 100/110.
  assert two['precision'] == [0.5, 0.0, None]
  assert two['recall'] == [1.0, 0.0, 0.0]
  assert two['true_positives'] == [1, 0, 0]
  assert two['predictions'] == [2, 1, 0]
  assert table['overall']['precision'] == pytest.approx([0.5, 1 / 3, 0.5],
                                                        abs=1e-6)
  assert table['overall']['recall'] == [1.0, 0.5, 0.5]
  assert table['gt_boxes_per_image'] == 2
  assert table['boxes_per_image'] == [4, 3, 2]
  assert table['empty_image_fraction'] == [0, 0, 0]


def test_detection_matching_is_greedy_by_score_like_pycocotools():
  counts = measures.DetectionCounts(num_classes=2, thresholds=(0.5, 0.85))
  # 0.9 overlaps the box by IoU 0.6, 0.8 by 0.95: the higher score takes it.
  counts.add(boxes=[[0, 0, 10, 6], [0, 0, 10, 9.5]], classes=[1, 1],
             scores=[0.9, 0.8], gt_boxes=[[0, 0, 10, 10]], gt_classes=[1])
  row = counts.table()['per_class']['1']
  assert row['precision'] == [0.5, 1.0]
  assert row['recall'] == [1.0, 1.0]
  # A box of another class never matches; an image with none counts empty.
  counts.add(boxes=[[0, 0, 10, 10]], classes=[0], scores=[0.6],
             gt_boxes=[[0, 0, 10, 10]], gt_classes=[1])
  counts.add(boxes=np.zeros([0, 4]), classes=[], scores=[],
             gt_boxes=[[0, 0, 5, 5]], gt_classes=[1])
  table = counts.table()
  assert table['per_class']['0']['precision'] == [0.0, None]
  assert table['per_class']['1']['recall'] == pytest.approx([1 / 3, 1 / 3],
                                                            abs=1e-6)
  assert table['empty_image_fraction'] == [1 / 3, 2 / 3]


def test_crowd_boxes_count_neither_way():
  counts = measures.DetectionCounts(num_classes=2, thresholds=(0.5,))
  counts.add(boxes=[[0, 0, 10, 10], [20, 20, 30, 30]], classes=[1, 1],
             scores=[0.9, 0.9], gt_boxes=[[0, 0, 10, 10], [20, 20, 30, 30]],
             gt_classes=[1, 1], gt_crowd=[False, True])
  row = counts.table()['per_class']['1']
  assert row == {'ground_truth_boxes': 1, 'precision': [1.0],
                 'recall': [1.0], 'true_positives': [1], 'predictions': [1]}


def test_a_prediction_inside_a_crowd_region_is_ignored_by_ioa():
  """COCO measures crowds by intersection over the prediction's area: a
  small box inside a large crowd region (IoU 0.04, IoA 1) counts neither
  way; the same box off the region is a false positive."""
  counts = measures.DetectionCounts(num_classes=2, thresholds=(0.5,))
  counts.add(boxes=[[0, 0, 10, 10], [20, 20, 30, 30], [70, 70, 80, 80]],
             classes=[1, 1, 1], scores=[0.9, 0.8, 0.7],
             gt_boxes=[[0, 0, 10, 10], [0, 0, 50, 50]], gt_classes=[1, 1],
             gt_crowd=[False, True])
  row = counts.table()['per_class']['1']
  assert row['ground_truth_boxes'] == 1
  assert row['predictions'] == [2]  # The box in the crowd is not counted.
  assert row['true_positives'] == [1]


def test_segmentation_pixels_by_hand():
  counts = measures.SegmentationCounts(num_classes=3, score_threshold=0.5,
                                      thresholds=(0.4, 0.7))
  gt = np.array([[1, 1, 2, 255]])
  classes = np.array([[1, 2, 2, 1]])
  confidence = np.array([[0.8, 0.6, 0.3, 0.9]])
  counts.add(classes, confidence, gt)
  table = counts.table()
  # The 255 pixel is left out. Class 1: one pixel (0.8), correct.
  assert table['per_class']['1'] == {
      'ground_truth_pixels': 2, 'precision': [1.0, 1.0],
      'recall': [0.5, 0.5], 'true_positives': [1, 1], 'predictions': [1, 1]}
  # Class 2: 0.6 wrong (gt 1), 0.3 right.
  assert table['per_class']['2']['precision'] == [0.0, None]
  assert table['per_class']['2']['recall'] == [0.0, 0.0]
  # At 0.5, pixels 0 (1->1) and 1 (gt 1 -> 2) are kept, pixel 2 ignored:
  # IoU class 1 = 1/2, class 2 = 0/1.
  assert table['iou_at_threshold'] == {'1': 0.5, '2': 0.0}
  assert table['mean_iou_at_threshold'] == 0.25
  assert table['ignored_fraction_at_threshold'] == pytest.approx(1 / 3)


def test_segmentation_class_thresholds():
  counts = measures.SegmentationCounts(num_classes=3, score_threshold=0.9)
  counts.add(np.array([1, 2]), np.array([0.6, 0.6]), np.array([1, 2]),
             class_thresholds=np.array([0.5, 0.5, 0.7]))
  table = counts.table()
  assert table['iou_at_threshold'] == {'1': 1.0}
  assert table['ignored_fraction_at_threshold'] == 0.5


def test_auto_thresholds_pick_lowest_reaching_target():
  table = {'thresholds': [0.1, 0.3, 0.5, 0.7],
           'per_class': {
               '1': {'ground_truth_boxes': 50,
                     'precision': [0.5, 0.85, 0.8, 0.95]},
               '2': {'ground_truth_boxes': 50,
                     'precision': [0.2, 0.4, 0.6, None]},
               '3': {'ground_truth_boxes': 3,
                     'precision': [0.9, 0.9, 0.9, 0.9]}}}
  chosen = thresholds_lib.auto_thresholds(table, target_precision=0.8,
                                   fallback=0.5, min_ground_truths=10)
  assert {c: v['threshold'] for c, v in chosen.items()} == {
      '1': 0.3, '2': 0.5, '3': 0.5}
  assert 'never reaches' in chosen['2']['why']
  assert '3 ground truths' in chosen['3']['why']


def test_overall_figures_at_per_class_thresholds_by_hand():
  table = _det().table()
  # Class 1 at 0.5: 1 of 2 right; class 2 at 0.15: 1 of 2 right; 2 boxes.
  assert thresholds_lib.at_thresholds(table, {'1': 0.5, '2': 0.15}) == {
      'precision': 0.5, 'recall': 1.0}
  # Class 2 at 0.25: its one box kept is wrong: 1 of 3 right, 1 of 2 found.
  assert thresholds_lib.at_thresholds(table, {'1': 0.15, '2': 0.25}) == {
      'precision': pytest.approx(1 / 3), 'recall': 0.5}
  # One threshold for all equals the table's overall row.
  for i, t in enumerate(T):
    got = thresholds_lib.at_thresholds(table, {'1': t, '2': t})
    assert got['precision'] == pytest.approx(
        table['overall']['precision'][i] or None, abs=1e-6)
    assert got['recall'] == table['overall']['recall'][i]
  with pytest.raises(ValueError, match='class 2: threshold 0.3 is not one'):
    thresholds_lib.at_thresholds(table, {'1': 0.5, '2': 0.3})


def test_target_precision_sweep_by_hand():
  table = {'thresholds': [0.1, 0.5],
           'per_class': {
               '1': {'ground_truth_boxes': 10, 'true_positives': [8, 6],
                     'predictions': [16, 6]},
               '2': {'ground_truth_boxes': 10, 'true_positives': [9, 5],
                     'predictions': [10, 5]}}}
  for c, row in table['per_class'].items():
    row['precision'] = [tp / n for tp, n in zip(row['true_positives'],
                                                row['predictions'])]
  rows = thresholds_lib.target_precision_sweep(table, [0.5, 0.9], fallback=0.1,
                                        min_ground_truths=5)
  # 0.5: both classes at 0.1: 17 of 26 right, 17 of 20 found.
  assert rows[0] == {'target_precision': 0.5,
                     'precision': pytest.approx(17 / 26), 'recall': 0.85,
                     'f1': pytest.approx(2 * 17 / 46)}
  # 0.9: class 1 needs 0.5 (6 of 6), class 2 reaches 0.9 at 0.1 (9 of 10).
  assert rows[1]['precision'] == pytest.approx(15 / 16)
  assert rows[1]['recall'] == pytest.approx(15 / 20)
  assert rows[1]['f1'] == pytest.approx(2 * 15 / 36)


def test_warnings_name_the_biased_class_and_silence():
  labeled = {'1': 100, '2': 100, '3': 100, '0': 5000}
  assert bias.warnings({'1': 90, '2': 110, '3': 100, '0': 9}, labeled,
                          empty_fraction=0.05, per_image=2.0,
                          labeled_per_image=2.5) == []
  found = bias.warnings({'1': 300, '2': 10, '3': 10}, labeled,
                           empty_fraction=0.5, per_image=0.4,
                           labeled_per_image=2.5)
  assert len(found) == 3
  assert found[0].startswith('class 1: 93.8% of the pseudo labels vs 33.3%')
  assert found[1].startswith('50.0% of the images have no pseudo label')
  assert found[2].startswith('0.40 pseudo boxes per image vs 2.50')


def test_masks_at_other_class_thresholds_without_another_pass():
  """at_class_thresholds equals counting again with those thresholds."""
  rng = np.random.RandomState(0)
  gt = rng.randint(0, 4, (6, 32, 32))
  gt[:, :2] = 255
  classes = np.where(rng.rand(6, 32, 32) < 0.7, gt % 255, rng.randint(0, 4))
  confidence = rng.rand(6, 32, 32).astype(np.float32)
  counts = measures.SegmentationCounts(num_classes=4, score_threshold=0.33)
  for i in range(6):
    counts.add(classes[i], confidence[i], gt[i])
  chosen = {1: 0.05, 2: 0.6, 3: 0.95}  # Class 0 keeps 0.33.
  again = measures.SegmentationCounts(num_classes=4, score_threshold=0.33)
  vector = np.array([0.33, 0.05, 0.6, 0.95], np.float32)
  for i in range(6):
    again.add(classes[i], confidence[i], gt[i], class_thresholds=vector)
  want = again.table()
  got = counts.at_class_thresholds(chosen)
  assert got['iou_at_threshold'] == pytest.approx(want['iou_at_threshold'])
  assert got['mean_iou_at_threshold'] == pytest.approx(
      want['mean_iou_at_threshold'])
  assert got['ignored_fraction_at_threshold'] == pytest.approx(
      want['ignored_fraction_at_threshold'])
  assert 0 < got['ignored_fraction_at_threshold'] < 1
  # The labeling threshold alone: the table's own figures.
  assert counts.at_class_thresholds({}) == {
      k: counts.table()[k] for k in got}
  with pytest.raises(ValueError, match='class 2: threshold 0.61'):
    counts.at_class_thresholds({2: 0.61})

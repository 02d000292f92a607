"""Teacher outputs -> pseudo labels, on hand-made outputs (no model)."""

import numpy as np
import pytest

from official_ext.self_training import labelers


def _outputs(boxes, scores, image_info=None):
  out = {'detection_boxes': np.array([boxes], np.float32),
         'detection_scores': np.array([scores], np.float32),
         'detection_classes': np.array([[3] * len(scores)], np.float32),
         'num_detections': np.array([len(scores)], np.float32)}
  if image_info is not None:
    out['image_info'] = np.array([image_info], np.float32)
  return out


# An original 100x200 image; our pipeline resized it by 0.5 to 50x100 and
# padded it to 64x128 for the teacher. Its box [10, 20, 30, 60] in original
# pixels is [5, 10, 15, 30] in the image the teacher saw.
ORIGINAL = [10.0, 20.0, 30.0, 60.0]
NORMALIZED = [0.1, 0.1, 0.3, 0.3]


def test_pixel_boxes_map_back_through_both_resizes():
  # The teacher resized its 64x128 input by 2 to 128x256 itself.
  info = [[64, 128], [128, 256], [2.0, 2.0], [0, 0]]
  out = _outputs([[10, 20, 30, 60], [0, 0, 4, 4]], [0.9, 0.2], info)
  got = labelers.DetectionLabeler(0.5).labels(out, 0, 0.5, 100, 200)
  np.testing.assert_allclose(got['boxes'], [NORMALIZED], atol=1e-6)
  np.testing.assert_array_equal(got['classes'], [3])
  np.testing.assert_allclose(got['scores'], [0.9])


def test_pixel_boxes_without_image_info_are_the_inputs_frame():
  out = _outputs([[5, 10, 15, 30]], [0.9])
  got = labelers.DetectionLabeler(0.5).labels(out, 0, 0.5, 100, 200)
  np.testing.assert_allclose(got['boxes'], [NORMALIZED], atol=1e-6)


def test_normalized_boxes_are_relative_to_the_teachers_input():
  info = [[64, 128], [128, 256], [2.0, 2.0], [0, 0]]
  out = _outputs([[5 / 64, 10 / 128, 15 / 64, 30 / 128]], [0.9], info)
  labeler = labelers.DetectionLabeler(0.5, normalized_boxes=True)
  got = labeler.labels(out, 0, 0.5, 100, 200)
  np.testing.assert_allclose(got['boxes'], [NORMALIZED], atol=1e-6)
  with pytest.raises(ValueError, match='image_info'):
    labeler.labels(_outputs([[0, 0, 1, 1]], [0.9]), 0, 0.5, 100, 200)


def test_boxes_are_clipped_and_threshold_is_inclusive():
  out = _outputs([[-4, -4, 80, 75]], [0.5])
  got = labelers.DetectionLabeler(0.5).labels(out, 0, 0.5, 100, 200)
  np.testing.assert_allclose(got['boxes'], [[0, 0, 1, 0.75]], atol=1e-6)


def test_stats_and_report_count_every_box():
  labeler = labelers.DetectionLabeler(0.0)
  stats = labeler.new_stats()
  for scores in ([0.95, 0.15], [], [0.55]):
    out = _outputs([[0, 0, 1, 1]] * len(scores) or np.zeros([0, 4]), scores)
    labeler.update_stats(stats, labeler.labels(out, 0, 1.0, 10, 10))
  report = labeler.report(stats, 3)
  assert report['boxes_per_image_mean'] == pytest.approx(1.0)
  assert report['boxes_per_image_histogram'][:3] == [1, 1, 1]
  assert report['class_counts'] == {'3': 3}
  assert report['score_histogram'][1] == 1
  assert report['score_histogram'][5] == 1
  assert report['score_histogram'][9] == 1

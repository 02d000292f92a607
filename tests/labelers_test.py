"""Teacher outputs -> pseudo labels, on hand-made outputs (no model)."""

import numpy as np
import pytest

from official_ext.labeling import labelers
from official_ext.labeling import segmentation_masks


def _outputs(boxes, scores, image_info=None):
  out = {'detection_boxes': np.array([boxes], np.float32),
         'detection_scores': np.array([scores], np.float32),
         'detection_classes': np.array([[3] * len(scores)], np.float32),
         'num_detections': np.array([len(scores)], np.float32)}
  if image_info is not None:
    out['image_info'] = np.array([image_info], np.float32)
  return out


def _labels(labeler, outputs, scale, height, width):
  """The labels of the batch's one image."""
  return labeler.batch_labels(outputs, np.array([scale], np.float32),
                              np.array([height]), np.array([width]))[0]


# An original 100x200 image; our pipeline resized it by 0.5 to 50x100 and
# padded it to 64x128 for the teacher. Its box [10, 20, 30, 60] in original
# pixels is [5, 10, 15, 30] in the image the teacher saw.
ORIGINAL = [10.0, 20.0, 30.0, 60.0]
NORMALIZED = [0.1, 0.1, 0.3, 0.3]


def test_pixel_boxes_map_back_through_both_resizes():
  # The teacher resized its 64x128 input by 2 to 128x256 itself.
  info = [[64, 128], [128, 256], [2.0, 2.0], [0, 0]]
  out = _outputs([[10, 20, 30, 60], [0, 0, 4, 4]], [0.9, 0.2], info)
  got = _labels(labelers.DetectionLabeler(0.5), out, 0.5, 100, 200)
  np.testing.assert_allclose(got['boxes'], [NORMALIZED], atol=1e-6)
  np.testing.assert_array_equal(got['classes'], [3])
  np.testing.assert_allclose(got['scores'], [0.9])


def test_pixel_boxes_without_image_info_are_the_inputs_frame():
  out = _outputs([[5, 10, 15, 30]], [0.9])
  got = _labels(labelers.DetectionLabeler(0.5), out, 0.5, 100, 200)
  np.testing.assert_allclose(got['boxes'], [NORMALIZED], atol=1e-6)


def test_normalized_boxes_are_relative_to_the_teachers_input():
  info = [[64, 128], [128, 256], [2.0, 2.0], [0, 0]]
  out = _outputs([[5 / 64, 10 / 128, 15 / 64, 30 / 128]], [0.9], info)
  labeler = labelers.DetectionLabeler(0.5, normalized_boxes=True)
  got = _labels(labeler, out, 0.5, 100, 200)
  np.testing.assert_allclose(got['boxes'], [NORMALIZED], atol=1e-6)
  with pytest.raises(ValueError, match='image_info'):
    _labels(labeler, _outputs([[0, 0, 1, 1]], [0.9]), 0.5, 100, 200)


def test_boxes_are_clipped_and_threshold_is_inclusive():
  out = _outputs([[-4, -4, 80, 75]], [0.5])
  got = _labels(labelers.DetectionLabeler(0.5), out, 0.5, 100, 200)
  np.testing.assert_allclose(got['boxes'], [[0, 0, 1, 0.75]], atol=1e-6)


def test_a_batch_labels_each_image_in_its_own_frame():
  """One call over a batch: each image keeps its own detections (up to its
  num_detections), scale, size and teacher resize."""
  info = np.array([[[64, 128], [128, 256], [2.0, 2.0], [0, 0]],
                   [[64, 128], [64, 128], [1.0, 1.0], [0, 0]]], np.float32)
  out = {'detection_boxes': np.array([[[10, 20, 30, 60], [0, 0, 4, 4],
                                       [2, 2, 6, 6]],
                                      [[5, 10, 15, 30], [8, 8, 90, 200],
                                       [1, 1, 2, 2]]], np.float32),
         'detection_scores': np.array([[0.9, 0.6, 0.7],
                                       [0.8, 0.55, 0.95]], np.float32),
         'detection_classes': np.array([[3, 5, 7], [5, 3, 1]], np.float32),
         'num_detections': np.array([2, 3], np.float32),
         'image_info': info}
  labeler = labelers.DetectionLabeler(0.5, class_thresholds={5: 0.65})
  got = labeler.batch_labels(out, np.array([0.5, 0.25], np.float32),
                             np.array([100, 200]), np.array([200, 400]))
  # Image 0: its third detection is past num_detections; class 5 at 0.6 is
  # under its own 0.65.
  np.testing.assert_allclose(got[0]['boxes'], [NORMALIZED], atol=1e-6)
  np.testing.assert_array_equal(got[0]['classes'], [3])
  # Image 1: no teacher resize, 1/4 of a 200x400 original; the second box
  # is clipped at the image's edge.
  np.testing.assert_allclose(got[1]['boxes'], [
      [0.1, 0.1, 0.3, 0.3], [0.16, 0.08, 1.0, 1.0], [0.02, 0.01, 0.04, 0.02]],
                             atol=1e-6)
  np.testing.assert_array_equal(got[1]['classes'], [5, 3, 1])
  np.testing.assert_allclose(got[1]['scores'], [0.8, 0.55, 0.95])
  assert got[1]['boxes'].dtype == np.float32
  assert got[1]['classes'].dtype == np.int64


def test_stats_and_report_count_every_box():
  labeler = labelers.DetectionLabeler(0.0)
  stats = labeler.new_stats()
  for scores in ([0.95, 0.15], [], [0.55]):
    out = _outputs([[0, 0, 1, 1]] * len(scores) or np.zeros([0, 4]), scores)
    labeler.update_stats(stats, _labels(labeler, out, 1.0, 10, 10))
  report = labeler.report(stats, 3)
  assert report['boxes_per_image_mean'] == pytest.approx(1.0)
  assert report['boxes_per_image_histogram'][:3] == [1, 1, 1]
  assert report['class_counts'] == {'3': 3}
  assert report['score_histogram'][1] == 1
  assert report['score_histogram'][5] == 1
  assert report['score_histogram'][9] == 1


def _reference_mask(logits, valid, size, threshold):
  """NumPy/TF eager reference: crop, resize logits, softmax, threshold."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  cropped = logits[:valid[0], :valid[1]]
  if tuple(valid) != tuple(size):
    cropped = tf.image.resize(cropped[None], size, method='bilinear')[0].numpy()
  e = np.exp(cropped - cropped.max(-1, keepdims=True))
  probs = e / e.sum(-1, keepdims=True)
  conf = probs.max(-1)
  return np.where(conf >= threshold, probs.argmax(-1), 255).astype(np.uint8), conf


def test_segmentation_masks_crop_resize_and_threshold_in_one_batch():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(0)
  # A batch padded to 32x32: a 20x30 original resized by 0.5 (10x15 valid),
  # a 32x32 one not resized, and a 40x20 one whose teacher resized by 2 again.
  logits = (rng.randn(3, 32, 32, 4) * 2).astype(np.float32)
  info = np.zeros([3, 4, 2], np.float32)
  info[:, 2] = [[1, 1], [1, 1], [2, 2]]
  outputs = {'logits': logits, 'image_info': info}
  scales, heights, widths = [0.5, 1.0, 0.25], [20, 32, 40], [30, 32, 20]
  labeler = labelers.SegmentationLabeler(0.6)
  got = labeler.batch_labels(outputs, np.array(scales), np.array(heights),
                             np.array(widths))
  stats = labeler.new_stats()
  valids = [(10, 15), (32, 32), (20, 10)]
  ignored = 0
  for i, labels in enumerate(got):
    mask = tf.io.decode_png(labels['encoded_mask']).numpy()[..., 0]
    want, conf = _reference_mask(logits[i], valids[i],
                                 (heights[i], widths[i]), 0.6)
    assert mask.shape == (heights[i], widths[i])
    assert np.mean(mask == want) > 0.999  # Float rounding at the threshold.
    assert 0 < np.sum(want == 255) < want.size
    np.testing.assert_array_equal(labels['class_pixels'][:4],
                                  np.bincount(mask.ravel(), minlength=256)[:4])
    hist, _ = np.histogram(conf, bins=labelers.SCORE_BINS, range=(0, 1))
    assert np.abs(labels['confidence_histogram'] - hist).sum() <= 2
    labeler.update_stats(stats, labels)
    ignored += int(np.sum(mask == 255))
  report = labeler.report(stats, 3)
  assert stats['num_pixels'] == 20 * 30 + 32 * 32 + 40 * 20
  assert report['ignored_fraction'] == pytest.approx(
      ignored / stats['num_pixels'])
  assert sum(report['class_pixel_counts'].values()) + ignored == (
      stats['num_pixels'])


def test_class_thresholds_override_the_global_one_per_class():
  out = _outputs([[0, 0, 4, 4]] * 3, [0.9, 0.45, 0.2])
  out['detection_classes'] = np.array([[3, 5, 3]], np.float32)
  # Class 5 at 0.4 keeps its 0.45 box; class 3 stays at the global 0.5.
  got = _labels(labelers.DetectionLabeler(0.5, class_thresholds={5: 0.4}),
                out, 1.0, 10, 10)
  np.testing.assert_array_equal(got['classes'], [3, 5])
  got = _labels(labelers.DetectionLabeler(0.5, class_thresholds={3: 0.1}),
                out, 1.0, 10, 10)
  np.testing.assert_array_equal(got['classes'], [3, 3])
  np.testing.assert_allclose(got['scores'], [0.9, 0.2])


def test_segmentation_class_thresholds():
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  # Two pixels, both with max probability ~0.6: class 1 and class 2.
  logit = np.log(0.6 / 0.2)
  logits = np.zeros([1, 1, 2, 3], np.float32)
  logits[0, 0, 0, 1] = logits[0, 0, 1, 2] = logit
  outputs = {'logits': logits}
  args = (outputs, np.array([1.0]), np.array([1]), np.array([2]))
  def mask(labeler):
    labels = labeler.batch_labels(*args)[0]
    return tf.io.decode_png(labels['encoded_mask']).numpy()[0, :, 0].tolist()
  assert mask(labelers.SegmentationLabeler(0.5)) == [1, 2]
  assert mask(labelers.SegmentationLabeler(0.7)) == [255, 255]
  assert mask(labelers.SegmentationLabeler(0.7, {2: 0.5})) == [255, 2]
  assert mask(labelers.SegmentationLabeler(0.5, {1: 0.7})) == [255, 2]


def test_segmentation_masks_are_made_on_the_cpu():
  """Under op determinism a GPU bincount raises; every op of the mask graph
  (the map's body included) asks for the CPU."""
  graph = segmentation_masks.segment_batch.get_concrete_function().graph
  bodies = [f.graph for f in graph._functions.values()  # pylint: disable=protected-access
            if hasattr(f, 'graph')]
  ops = [op for g in [graph, *bodies] for op in g.get_operations()
         if op.type not in ('Placeholder', 'Identity')]
  assert {'DenseBincount', 'EncodePng', 'ResizeBilinear'} <= {
      op.type for op in ops}
  assert [op.type for op in ops if 'CPU' not in op.device] == []

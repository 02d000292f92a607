"""A segmenter's logits -> per-pixel class, confidence and thresholded
pseudo mask (IGNORE_LABEL where the teacher is unsure).

One definition for everything that turns logits into a mask: the offline
labeler (labelers.SegmentationLabeler, `segment_batch`), the online teacher
inside the train step (`class_and_max_probability`, `threshold_mask`) and
calibration (`class_and_confidence`).
"""

import tensorflow as tf

SCORE_BINS = 10  # The confidence histogram's bins over [0, 1].
IGNORE_LABEL = 255


def class_and_max_probability(logits):
  """Each pixel's class and the teacher's confidence in it.

  The softmax's max is 1 / sum(exp(logits - max logit)); top_k is faster
  than argmax on CPU and also breaks ties to the lower class.

  Args:
    logits: [..., classes].

  Returns:
    (the argmax class [...], int32; the softmax's max [...]).
  """
  top = tf.math.top_k(logits, k=1)
  confidence = 1.0 / tf.reduce_sum(tf.exp(logits - top.values), axis=-1)
  return top.indices[..., 0], confidence


def threshold_mask(classes, confidence, thresholds):
  """The pseudo mask: each pixel's class where the teacher is sure enough.

  Args:
    classes: each pixel's class (`class_and_max_probability`).
    confidence: its max probability.
    thresholds: [classes] float, each class's threshold.

  Returns:
    The class where confidence >= thresholds[class], else IGNORE_LABEL.
  """
  return tf.where(confidence >= tf.gather(thresholds, classes), classes,
                  IGNORE_LABEL)


def _class_and_confidence(logits, valid, size):
  """One image's teacher logits at its padded input size -> its argmax class
  and the softmax's max per pixel, at the original size.

  The exported model sees the image resized to fit its input and padded at
  the bottom/right; its logits cover that padded input. The image's part is
  the top-left `valid` (height, width); it is cropped and resized back to
  the original `size` (bilinear, on logits).
  """
  cropped = logits[:valid[0], :valid[1]]
  resized = tf.cond(
      tf.reduce_all(tf.equal(valid, size)), lambda: cropped,
      lambda: tf.image.resize(cropped[None], size, method='bilinear')[0])
  return class_and_max_probability(resized)


def _segment_image(logits, valid, size, thresholds):
  """One image's pseudo mask (`threshold_mask`) at its original size.

  Returns the mask as PNG bytes, its per-class pixel counts [256] and the
  histogram of the max probability [SCORE_BINS].
  """
  classes, confidence = _class_and_confidence(logits, valid, size)
  mask = threshold_mask(classes, confidence, thresholds)
  counts = tf.math.bincount(mask, minlength=256, maxlength=256)
  histogram = tf.histogram_fixed_width(confidence, [0.0, 1.0],
                                       nbins=SCORE_BINS)
  # zlib level 1: faster than the default on noisy masks, a little larger.
  png = tf.io.encode_png(tf.cast(mask, tf.uint8)[..., None], compression=1)
  return png, counts, histogram


@tf.function(input_signature=[
    tf.TensorSpec([None, None, None, None], tf.float32),
    tf.TensorSpec([None, 2], tf.int32),
    tf.TensorSpec([None, 2], tf.int32),
    tf.TensorSpec([None], tf.float32)])
def segment_batch(logits, valid, sizes, thresholds):
  """`_segment_image` over a batch in one graph call: no per-pixel work in
  Python, and TensorFlow releases the GIL for the teacher meanwhile.

  On the CPU wherever the teacher runs: under op determinism (the labeling
  tools' setting) the GPU's bincount is refused (UnimplementedError), and
  CPU kernels make a mask the same bytes on any host.

  Args:
    logits: [batch, height, width, classes] at the padded input size.
    valid: [batch, 2], each image's part of the logits (height, width).
    sizes: [batch, 2], each image's original size.
    thresholds: [classes], each class's threshold.

  Returns:
    (each mask as PNG bytes [batch], its per-class pixel counts
    [batch, 256], its confidence histogram [batch, SCORE_BINS]).
  """
  with tf.device('/CPU:0'):
    return tf.map_fn(
        lambda args: _segment_image(*args, thresholds), (logits, valid, sizes),
        fn_output_signature=(tf.TensorSpec([], tf.string),
                             tf.TensorSpec([256], tf.int32),
                             tf.TensorSpec([SCORE_BINS], tf.int32)),
        parallel_iterations=4)


@tf.function(input_signature=[
    tf.TensorSpec([None, None, None], tf.float32),
    tf.TensorSpec([2], tf.int32), tf.TensorSpec([2], tf.int32)])
def class_and_confidence(logits, valid, size):
  """One image's class and confidence per pixel, at its original size (for
  calibration).

  Args:
    logits: [height, width, classes] at the padded input size.
    valid: (height, width) of the image's part of them.
    size: its original (height, width).

  Returns:
    (classes, confidence), each [height, width] of the original size.
  """
  return _class_and_confidence(logits, valid, size)

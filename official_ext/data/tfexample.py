"""Model Garden TFExamples: detection boxes and/or segmentation masks.

Keys follow Model Garden's `TfExampleDecoder` and segmentation `Decoder`, so
both read these records unchanged. One record may carry boxes and a mask.
"""

import hashlib
from typing import Optional

import numpy as np
import tensorflow as tf

from official.vision.data import tf_example_builder
from official.vision.data import tfrecord_lib


def encode_png(array: np.ndarray) -> bytes:
  """A uint8 image or mask as PNG bytes (Model Garden's encoder)."""
  return tfrecord_lib.encode_mask_as_png(np.asarray(array, np.uint8))


def numeric_id(key: bytes) -> str:
  """A stable positive int64 id string for any key (Model Garden's parsers
  read `image/source_id` as an integer)."""
  return str(int(hashlib.sha1(key).hexdigest()[:15], 16))


def make_example(image: Optional[np.ndarray],
                 source_id: str,
                 encoded_image: Optional[bytes] = None,
                 image_format: str = 'png',
                 height: Optional[int] = None,
                 width: Optional[int] = None,
                 boxes: Optional[np.ndarray] = None,
                 classes: Optional[np.ndarray] = None,
                 scores: Optional[np.ndarray] = None,
                 mask: Optional[np.ndarray] = None,
                 encoded_mask: Optional[bytes] = None,
                 filename: Optional[str] = None,
                 original_source_id: Optional[str] = None
                 ) -> tf.train.Example:
  """Builds one example.

  Args:
    image: uint8 [H, W, 3], encoded as PNG unless `encoded_image` is given;
      may be None when `encoded_image`, `height` and `width` are given.
    source_id: unique id string of the image (numeric for COCO eval).
    encoded_image: the original encoded bytes, kept as they are when given.
    image_format: format of `encoded_image`.
    height: image height when `image` is None.
    width: image width when `image` is None.
    boxes: [N, 4] normalized ymin, xmin, ymax, xmax; None writes no box keys.
    classes: [N] int class ids.
    scores: [N] float scores (pseudo labels); None writes no score key.
    mask: uint8 [H, W] class ids, 255 = ignore; None writes no mask.
    encoded_mask: such a mask already PNG-encoded (instead of `mask`).
    filename: the image's original path, kept in `image/filename`.
    original_source_id: the input's own id, kept in
      `image/original_source_id` when `source_id` had to be renumbered.
  """
  if image is not None:
    height, width = int(image.shape[0]), int(image.shape[1])
  if encoded_image is None:
    encoded_image, image_format = encode_png(image), 'png'
  # Model Garden's builder writes the keys. The image goes in through the
  # generic feature calls, not `add_encoded_image_feature`, which would
  # upper-case the input's `image/format` (and refuse a format it does not
  # list, e.g. 'jpg') and add `image/channels`: a pseudo record keeps the
  # input's own format string.
  builder = tf_example_builder.TfExampleBuilder()
  builder.add_bytes_feature('image/encoded', encoded_image)
  builder.add_bytes_feature('image/format', image_format)
  builder.add_bytes_feature('image/source_id', str(source_id))
  builder.add_ints_feature('image/height', height)
  builder.add_ints_feature('image/width', width)
  if filename is not None:
    builder.add_bytes_feature('image/filename', filename)
  if original_source_id is not None:
    builder.add_bytes_feature('image/original_source_id', original_source_id)
  if boxes is not None:
    boxes = np.asarray(boxes, np.float32).reshape([-1, 4])
    classes = np.asarray(classes, np.int64).reshape([-1])
    if len(classes) != len(boxes):
      raise ValueError(f'{len(boxes)} boxes but {len(classes)} classes.')
    areas = ((boxes[:, 2] - boxes[:, 0]) * height *
             (boxes[:, 3] - boxes[:, 1]) * width)
    builder.add_boxes_feature(
        xmins=boxes[:, 1].tolist(), xmaxs=boxes[:, 3].tolist(),
        ymins=boxes[:, 0].tolist(), ymaxs=boxes[:, 2].tolist(),
        labels=classes.tolist())
    builder.add_floats_feature('image/object/area', areas.tolist())
    builder.add_ints_feature('image/object/is_crowd', [0] * len(boxes))
    if scores is not None:
      # DESIGN's key (the builder's `confidences` go to .../bbox/confidence).
      builder.add_floats_feature('image/object/score',
                                 np.asarray(scores, np.float32).tolist())
  if mask is not None:
    mask = np.asarray(mask, np.uint8)
    if mask.shape[:2] != (height, width):
      raise ValueError(f'mask {mask.shape} does not match image '
                       f'{(height, width)}')
    encoded_mask = encode_png(mask)
  if encoded_mask is not None:
    builder.add_encoded_semantic_mask_feature(encoded_mask, mask_format='png')
  return builder.example

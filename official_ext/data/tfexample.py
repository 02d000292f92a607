"""Model Garden TFExamples: detection boxes and/or segmentation masks.

Keys follow Model Garden's `TfExampleDecoder` and segmentation `Decoder`, so
both read these records unchanged. One record may carry boxes and a mask.
"""

import hashlib
from typing import Optional

import numpy as np
import tensorflow as tf

from official.vision.data import tfrecord_lib


def encode_png(array: np.ndarray) -> bytes:
  """A uint8 image or mask as PNG bytes (Model Garden's encoder)."""
  return tfrecord_lib.encode_mask_as_png(np.asarray(array, np.uint8))


def numeric_id(key: bytes) -> str:
  """A stable positive int64 id string for any key (Model Garden's parsers
  read `image/source_id` as an integer)."""
  return str(int(hashlib.sha1(key).hexdigest()[:15], 16))


# Model Garden's feature helper: lists and arrays of bytes, floats, ints.
_feature = tfrecord_lib.convert_to_feature


def _bytes(values):
  return _feature(list(values), 'bytes_list')


def _floats(values):
  return _feature(values, 'float_list')


def _ints(values):
  return _feature(values, 'int64_list')


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
  feature = {
      'image/encoded': _bytes([encoded_image]),
      'image/format': _bytes([image_format.encode()]),
      'image/source_id': _bytes([str(source_id).encode()]),
      'image/height': _ints([height]),
      'image/width': _ints([width]),
  }
  if filename is not None:
    feature['image/filename'] = _bytes([filename.encode()])
  if original_source_id is not None:
    feature['image/original_source_id'] = _bytes(
        [original_source_id.encode()])
  if boxes is not None:
    boxes = np.asarray(boxes, np.float32).reshape([-1, 4])
    classes = np.asarray(classes, np.int64).reshape([-1])
    if len(classes) != len(boxes):
      raise ValueError(f'{len(boxes)} boxes but {len(classes)} classes.')
    areas = ((boxes[:, 2] - boxes[:, 0]) * height *
             (boxes[:, 3] - boxes[:, 1]) * width)
    feature.update({
        'image/object/bbox/ymin': _floats(boxes[:, 0]),
        'image/object/bbox/xmin': _floats(boxes[:, 1]),
        'image/object/bbox/ymax': _floats(boxes[:, 2]),
        'image/object/bbox/xmax': _floats(boxes[:, 3]),
        'image/object/class/label': _ints(classes),
        'image/object/area': _floats(areas),
        'image/object/is_crowd': _ints(np.zeros(len(boxes))),
    })
    if scores is not None:
      feature['image/object/score'] = _floats(scores)
  if mask is not None:
    mask = np.asarray(mask, np.uint8)
    if mask.shape[:2] != (height, width):
      raise ValueError(f'mask {mask.shape} does not match image '
                       f'{(height, width)}')
    encoded_mask = encode_png(mask)
  if encoded_mask is not None:
    feature['image/segmentation/class/encoded'] = _bytes([encoded_mask])
    feature['image/segmentation/class/format'] = _bytes([b'png'])
  return tf.train.Example(features=tf.train.Features(feature=feature))

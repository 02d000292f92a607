"""Photometric AutoAugment/RandAugment for Model Garden's segmentation
parser, and its raw-image input for online self-training.

Model Garden's augment ops transform boxes but not masks, so only ops that
leave pixel positions alone are applied here (photometric.py; to the image,
the mask is untouched). Geometry comes from the parser's own scale jitter,
crop and flip.
"""

from typing import Optional

import tensorflow as tf

from official_ext.dataloaders import photometric

MASK_KEY = 'image/segmentation/class/encoded'


def photometric_fn(aug_type, image_feature):
  """parsed image -> the image with the photometric ops of `aug_type`
  (None: no augmenter), in the image feature's normalization."""
  return photometric.on_normalized(aug_type, image_feature.mean,
                                   image_feature.stddev,
                                   image_feature.num_channels)


def photometric_parse_wrapper(aug_type, image_feature):
  """A wrapper of Model Garden's segmentation parse function that applies
  `photometric_fn` to the parsed image (None: no augmenter)."""
  augment = photometric_fn(aug_type, image_feature)
  if augment is None:
    return None

  def wrap(parse):
    def parse_and_augment(data):
      image, labels = parse(data)
      return augment(image), labels
    return parse_and_augment

  return wrap


def zero_mask(data):
  """A decoded record with an all-zero mask of its image's size in place of
  any it has: Model Garden's parser requires one, and an unlabeled image's
  `masks` label is then 0 on the image and the ignore label on the padding
  around it."""
  size = tf.cast(tf.stack([data['image/height'], data['image/width'], 1]),
                 tf.int32)
  data[MASK_KEY] = tf.io.encode_png(tf.zeros(size, tf.uint8))
  return data


def two_view_parse_wrapper(strong_fn: Optional[object], view_key: str):
  """Online self-training's raw unlabeled segmentation records: two views
  of one geometry (photometric.two_view_parse_wrapper), the record's own
  mask (if any) not read."""
  return photometric.two_view_parse_wrapper(strong_fn, view_key, zero_mask)

"""Photometric AutoAugment/RandAugment for Model Garden's segmentation parser.

Model Garden's augment ops transform boxes but not masks, so only ops that
leave pixel positions alone are applied here (to the image; the mask is
untouched). Geometry comes from the parser's own scale jitter, crop and flip.
"""

from typing import Optional

import tensorflow as tf

from official.vision.ops import augment

from official_ext.configs import augmentation_presets


def photometric_augmenter(aug_type) -> Optional[augment.ImageAugment]:
  """AutoAugment/RandAugment restricted to ops that keep pixel positions."""
  if aug_type is None or aug_type.type is None:
    return None
  geometric = set(augmentation_presets.GEOMETRIC_OPS)
  if aug_type.type == 'autoaug':
    name = aug_type.autoaug.augmentation_name
    policies = augment.AutoAugment(augmentation_name=name).policies
    # Sub-policies must keep their length: a geometric op becomes an op that
    # is never applied (probability 0); all-geometric sub-policies go.
    kept = []
    for sub_policy in policies:
      ops = [op if op[0] not in geometric else ('Equalize', 0.0, 0)
             for op in sub_policy]
      if any(op[1] > 0 for op in ops):
        kept.append(ops)
    return augment.AutoAugment(
        augmentation_name=name, policies=kept,
        cutout_const=aug_type.autoaug.cutout_const,
        translate_const=aug_type.autoaug.translate_const)
  if aug_type.type == 'randaug':
    cfg = aug_type.randaug
    return augment.RandAugment(
        num_layers=cfg.num_layers, magnitude=cfg.magnitude,
        cutout_const=cfg.cutout_const, translate_const=cfg.translate_const,
        magnitude_std=cfg.magnitude_std, prob_to_apply=cfg.prob_to_apply,
        exclude_ops=sorted(set(cfg.exclude_ops) | geometric))
  raise ValueError(
      f'aug_type.type={aug_type.type!r} is not supported for segmentation; '
      "use 'autoaug' or 'randaug'.")


def photometric_fn(aug_type, image_feature):
  """parsed image -> the same image with the photometric augmenter applied
  (None: no augmenter).

  The parsed image is normalized, `(pixel - mean) / stddev`; it is mapped
  back to uint8 pixels, augmented, and normalized again: no re-encoding or
  second decode. It runs after the parser's scale jitter and crop, so
  pixels the parser padded are augmented too (the mask ignores them).
  """
  augmenter = photometric_augmenter(aug_type)
  if augmenter is None:
    return None
  channels = image_feature.num_channels
  mean = tf.constant(image_feature.mean, tf.float32)[:channels]
  stddev = tf.constant(image_feature.stddev, tf.float32)[:channels]

  def augment(image):
    pixels = tf.cast(image[..., :channels], tf.float32) * stddev + mean
    pixels = tf.cast(tf.clip_by_value(tf.round(pixels), 0, 255), tf.uint8)
    pixels = augmenter.distort(pixels)
    normalized = (tf.cast(pixels, tf.float32) - mean) / stddev
    return tf.concat([tf.cast(normalized, image.dtype),
                      image[..., channels:]], axis=-1)

  return augment


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


def two_view_parse_wrapper(strong_fn, view_key: str):
  """For raw unlabeled records (online self-training): a wrapper of Model
  Garden's segmentation parse function that returns (strong view, labels)
  with the weak view under `labels[view_key]`.

  One decode and one draw of the parser's geometry (scale jitter, crop,
  flip) make the weak view; `strong_fn` (photometric ops only; None: none)
  makes the strong one from it, so a mask the teacher predicts on the weak
  view lines up with the strong one pixel for pixel. Any mask in the record
  is not read: the parser is given an all-zero mask of the image's size,
  so its `masks` label is 0 on the image and the ignore label on the
  padding around it.
  """
  mask_key = 'image/segmentation/class/encoded'

  def wrap(parse):
    def two_views(data):
      data = dict(data)
      size = tf.cast(tf.stack([data['image/height'], data['image/width'], 1]),
                     tf.int32)
      data[mask_key] = tf.io.encode_png(tf.zeros(size, tf.uint8))
      image, labels = parse(data)
      strong = image if strong_fn is None else strong_fn(image)
      return strong, dict(labels, **{view_key: image})
    return two_views

  return wrap

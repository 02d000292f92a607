"""Photometric AutoAugment/RandAugment: ops that leave pixels in place.

Model Garden's augment ops move boxes but not masks; the ops kept here move
neither, so they apply to a segmentation image without its mask and to the
strong view of online self-training without moving the teacher's boxes or
masks. Used on a parsed (normalized) image: mapped back to uint8 pixels,
augmented, normalized again; no re-encoding or second decode.
"""

from typing import Callable, Optional, Sequence

from absl import logging
import tensorflow as tf

from official.vision.ops import augment

from official_ext.configs import augmentation_presets


def augmenter(aug_type) -> Optional[augment.ImageAugment]:
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
      f'aug_type.type={aug_type.type!r} has no photometric ops here; '
      "use 'autoaug' or 'randaug'.")


def on_normalized(aug_type, mean: Sequence[float], stddev: Sequence[float],
                  channels: int = 3) -> Optional[Callable]:
  """parsed image -> the same image with `augmenter(aug_type)` applied
  (None: no augmenter). `mean`, `stddev`: the parser's normalization, in
  pixel units, `(pixel - mean) / stddev`; channels past `channels` (extra
  dense features) are left as they are. Pixels the parser padded are
  augmented too (their labels are ignored or empty)."""
  distort = augmenter(aug_type)
  if distort is None:
    return None
  mean = tf.constant(mean, tf.float32)[:channels]
  stddev = tf.constant(stddev, tf.float32)[:channels]

  def augment_image(image):
    pixels = tf.cast(image[..., :channels], tf.float32) * stddev + mean
    pixels = tf.cast(tf.clip_by_value(tf.round(pixels), 0, 255), tf.uint8)
    pixels = distort.distort(pixels)
    normalized = (tf.cast(pixels, tf.float32) - mean) / stddev
    return tf.concat([tf.cast(normalized, image.dtype),
                      image[..., channels:]], axis=-1)

  return augment_image


def two_view_parse_wrapper(strong_fn: Optional[Callable], view_key: str,
                           prepare: Optional[Callable] = None):
  """For raw unlabeled records (online self-training): a wrapper of a Model
  Garden parse function that returns (strong view, labels) with the weak
  view under `labels[view_key]`.

  One decode and one draw of the parser's geometry (scale jitter, crop,
  flip) make the weak view; `strong_fn` (photometric ops only; None: none)
  makes the strong one from it, so boxes or masks the teacher predicts on
  the weak view line up with the strong one pixel for pixel. `prepare`
  edits the decoded record first (e.g. a mask the parser requires).
  """
  if strong_fn is None:
    logging.warning(
        'task.pseudo_data has no aug_type (nor a preset with one): the '
        "student's view of the unlabeled images is the teacher's; online "
        'self-training learns from the difference (e.g. aug_type: randaug).')

  def wrap(parse):
    def two_views(data):
      if prepare is not None:
        data = prepare(dict(data))
      image, labels = parse(data)
      strong = image if strong_fn is None else strong_fn(image)
      return strong, dict(labels, **{view_key: image})
    return two_views

  return wrap

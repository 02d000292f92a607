"""Model Garden's segmentation parser plus photometric AutoAugment/RandAugment.

Model Garden's augment ops transform boxes but not masks, so only ops that
leave pixel positions alone are applied here (to the image; the mask is
untouched). Geometry comes from the parser's own scale jitter, crop and flip.
"""

from typing import Optional

import tensorflow as tf

from official.vision.dataloaders import segmentation_input
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


class Parser(segmentation_input.Parser):
  """Segmentation parser with an optional photometric augmenter (training)."""

  def __init__(self, augmenter: Optional[augment.ImageAugment] = None,
               **kwargs):
    super().__init__(**kwargs)
    self._augmenter = augmenter

  def _parse_train_data(self, data):
    if self._augmenter is None:
      return super()._parse_train_data(data)
    # Augment the decoded uint8 image, then hand Model Garden's parser an
    # already-augmented image through the same feature key.
    image = tf.io.decode_image(
        data[self._image_feature.feature_name],
        channels=self._image_feature.num_channels, dtype=tf.uint8,
        expand_animations=False)
    image = self._augmenter.distort(image)
    data = dict(data)
    data[self._image_feature.feature_name] = tf.io.encode_png(image)
    return super()._parse_train_data(data)

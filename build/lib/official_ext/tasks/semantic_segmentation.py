"""Segmentation task: Model Garden's, with presets, photometric aug, subsets."""

from typing import Optional

from absl import logging
import tensorflow as tf

from official.core import task_factory
from official.vision.dataloaders import segmentation_input as mg_seg_input
from official.vision.tasks import semantic_segmentation as mg_seg

from official_ext.configs import augmentation_presets
from official_ext.configs import semantic_segmentation as exp_cfg
from official_ext.dataloaders import reader
from official_ext.dataloaders import segmentation_input


def build_parser(losses_config, params) -> segmentation_input.Parser:
  """Model Garden's segmentation parser (+ augmenter) from configs."""
  augmenter = None
  if params.is_training:
    augmenter = segmentation_input.photometric_augmenter(params.get('aug_type'))
  return segmentation_input.Parser(
      augmenter=augmenter,
      output_size=params.output_size,
      crop_size=params.crop_size,
      ignore_label=losses_config.ignore_label,
      resize_eval_groundtruth=params.resize_eval_groundtruth,
      gt_is_matting_map=losses_config.gt_is_matting_map,
      groundtruth_padded_size=params.groundtruth_padded_size,
      aug_scale_min=params.aug_scale_min,
      aug_scale_max=params.aug_scale_max,
      aug_rand_hflip=params.aug_rand_hflip,
      preserve_aspect_ratio=params.preserve_aspect_ratio,
      dtype=params.dtype,
      image_feature=params.image_feature,
      additional_dense_features=params.additional_dense_features,
      centered_crop=params.centered_crop)


@task_factory.register_task_cls(exp_cfg.SemanticSegmentationTask)
class SemanticSegmentationTask(mg_seg.SemanticSegmentationTask):
  """Model Garden's segmentation task; inputs honor presets and subsets."""

  def resolve_data_config(self, params):
    params = augmentation_presets.apply_segmentation_preset(params)
    if params.get('augmentation_preset'):
      logging.info('Preset %s -> scale [%s, %s], flip %s, aug %s',
                   params.augmentation_preset, params.aug_scale_min,
                   params.aug_scale_max, params.aug_rand_hflip,
                   params.aug_type.as_dict() if params.aug_type else None)
    return params

  def build_inputs(self, params,
                   input_context: Optional[tf.distribute.InputContext] = None):
    if params.tfds_name:
      return super().build_inputs(params, input_context)
    params = self.resolve_data_config(params)
    decoder = mg_seg_input.Decoder(
        image_feature=params.image_feature,
        additional_dense_features=params.additional_dense_features)
    parser = build_parser(self.task_config.losses, params)
    return reader.read(params, decoder.decode,
                       self.make_parse_fn(parser, params), input_context)

  def make_parse_fn(self, parser, params):
    """The per-example parse function (a hook for subclasses)."""
    return parser.parse_fn(params.is_training)

"""Segmentation task: Model Garden's, with presets, photometric aug, subsets."""

from typing import Optional

from absl import logging
import tensorflow as tf

from official.core import task_factory
from official.vision.tasks import semantic_segmentation as mg_seg

from official_ext.configs import augmentation_presets
from official_ext.configs import semantic_segmentation as exp_cfg
from official_ext.dataloaders import reader
from official_ext.dataloaders import segmentation_input


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
    params = reader.with_record_files(self.resolve_data_config(params))
    augment = None
    if params.is_training:
      augment = segmentation_input.photometric_parse_wrapper(
          params.get('aug_type'), params.image_feature)
    with reader.extended(augment):
      return super().build_inputs(params, input_context)

"""Segmentation task: Model Garden's, with presets, photometric aug, subsets."""

from absl import logging

from official.core import task_factory
from official.vision.tasks import semantic_segmentation as mg_seg

from official_ext.configs import augmentation_presets
from official_ext.configs import semantic_segmentation as exp_cfg
from official_ext.dataloaders import segmentation_input
from official_ext.tasks import inputs
from official_ext.tasks import seeding


@task_factory.register_task_cls(exp_cfg.SemanticSegmentationTask)
class SemanticSegmentationTask(seeding.SeededTask, inputs.ExtendedInputs,
                               mg_seg.SemanticSegmentationTask):
  """Model Garden's segmentation task; inputs honor presets and subsets, and
  `task.seed` makes a run repeatable."""

  def resolve_data_config(self, params):
    params = augmentation_presets.apply_segmentation_preset(params)
    if params.get('augmentation_preset'):
      logging.info('Preset %s -> scale [%s, %s], flip %s, aug %s',
                   params.augmentation_preset, params.aug_scale_min,
                   params.aug_scale_max, params.aug_rand_hflip,
                   params.aug_type.as_dict() if params.aug_type else None)
    return params

  def parse_wrapper(self, params):
    """Photometric AutoAugment/RandAugment on the parsed training image."""
    if not params.is_training:
      return None
    return segmentation_input.photometric_parse_wrapper(
        params.get('aug_type'), params.image_feature)

"""Self-training segmentation configs: `selftrain_pascal`, `selftrain_digits_seg`."""

import dataclasses

from official.core import config_definitions as cfg
from official.core import exp_factory

from official_ext.configs import self_training as st_config
from official_ext.configs import semantic_segmentation as seg_config


@dataclasses.dataclass
class SelfTrainingSegmentationTask(seg_config.SemanticSegmentationTask):
  """Segmentation task + pseudo-labeled data + the self-training block.

  Each step sees train_data.global_batch_size human-labeled images and
  pseudo_data.global_batch_size pseudo-labeled ones (default 1:1); pseudo
  masks hold 255 (ignored by the loss) where the teacher was unsure.
  """
  pseudo_data: seg_config.DataConfig = dataclasses.field(
      default_factory=lambda: seg_config.DataConfig(is_training=True))
  self_training: st_config.SelfTrainingConfig = dataclasses.field(
      default_factory=st_config.SelfTrainingConfig)


def student_from(teacher: cfg.ExperimentConfig) -> cfg.ExperimentConfig:
  return st_config.student_from(teacher, lambda t: seg_config.from_model_garden(
      t, SelfTrainingSegmentationTask))


@exp_factory.register_config_factory('selftrain_pascal')
def selftrain_pascal() -> cfg.ExperimentConfig:
  """PASCAL VOC DeepLabV3+ student, RandAugment colour ops + scale jitter (s4)."""
  return student_from(exp_factory.get_exp_config('supervised_pascal'))


@exp_factory.register_config_factory('selftrain_digits_seg')
def selftrain_digits_seg() -> cfg.ExperimentConfig:
  """Tiny CPU student on the digits masks, same model as supervised_digits_seg."""
  return student_from(exp_factory.get_exp_config('supervised_digits_seg'))

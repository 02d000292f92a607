"""Self-training RetinaNet configs: `selftrain_coco`, `selftrain_digits`."""

import dataclasses

from official.core import config_definitions as cfg
from official.core import exp_factory

from official_ext.configs import retinanet
from official_ext.configs import self_training as st_config


@dataclasses.dataclass
class SelfTrainingRetinaNetTask(retinanet.RetinaNetTask):
  """RetinaNet task + pseudo-labeled data + the self-training block.

  Each step sees train_data.global_batch_size human-labeled images and
  pseudo_data.global_batch_size pseudo-labeled ones (default 1:1).
  """
  pseudo_data: retinanet.DataConfig = dataclasses.field(
      default_factory=lambda: retinanet.DataConfig(is_training=True))
  self_training: st_config.SelfTrainingConfig = dataclasses.field(
      default_factory=st_config.SelfTrainingConfig)


def student_from(teacher: cfg.ExperimentConfig) -> cfg.ExperimentConfig:
  return st_config.student_from(teacher, lambda t: retinanet.from_model_garden(
      t, SelfTrainingRetinaNetTask))


@exp_factory.register_config_factory('selftrain_coco')
def selftrain_coco() -> cfg.ExperimentConfig:
  """COCO student: RetinaNet + SpineNet-49 at 640, RandAugment + LSJ (s4)."""
  return student_from(exp_factory.get_exp_config('supervised_coco'))


@exp_factory.register_config_factory('selftrain_digits')
def selftrain_digits() -> cfg.ExperimentConfig:
  """Tiny CPU student on the digits data, same model as supervised_digits."""
  return student_from(exp_factory.get_exp_config('supervised_digits'))

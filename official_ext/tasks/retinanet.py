"""RetinaNet task: Model Garden's, with augmentation presets, subsets, a seed."""

from absl import logging
import tensorflow as tf

from official.core import task_factory
from official.vision.tasks import retinanet as mg_retinanet

from official_ext.configs import augmentation_presets
from official_ext.configs import nms
from official_ext.configs import retinanet as exp_cfg
from official_ext.tasks import inputs
from official_ext.tasks import seeding


def compiles_every_step() -> bool:
  """Whether the steps of this program are compiled with XLA: under a
  TPUStrategy every step is."""
  return isinstance(tf.distribute.get_strategy(), tf.distribute.TPUStrategy)


@task_factory.register_task_cls(exp_cfg.RetinaNetTask)
class RetinaNetTask(seeding.SeededTask, inputs.ExtendedInputs,
                    mg_retinanet.RetinaNetTask):
  """Model Garden's RetinaNetTask; inputs honor presets and subsets, and
  `task.seed` makes a run repeatable.

  On a TPU, a model whose NMS has no XLA kernel (`batched`, the CPU digits
  recipes') is built with `v2` instead, so its validation step and an
  online teacher's step compile (configs/nms.py).
  """

  def build_model(self):
    generator = self.task_config.model.detection_generator
    if compiles_every_step() and not nms.compiles(generator.nms_version):
      logging.warning(
          '%s=%r has no XLA kernel and this strategy compiles every step; '
          'building the model with %r.', nms.FIELD, generator.nms_version,
          nms.XLA_NMS)
      generator.nms_version = nms.for_compiled_step(generator.nms_version)
    return super().build_model()

  def resolve_data_config(self, params):
    """The data config with its augmentation preset applied.

    Args:
      params: a data config of the task.

    Returns:
      The config, the preset's parser fields set.
    """
    params = augmentation_presets.apply_detection_preset(params)
    if params.get('augmentation_preset'):
      logging.info('Preset %s -> parser %s', params.augmentation_preset,
                   params.parser.as_dict())
    return params

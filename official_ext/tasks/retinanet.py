"""RetinaNet task: Model Garden's, with augmentation presets, subsets, a seed."""

from absl import logging

from official.core import task_factory
from official.vision.tasks import retinanet as mg_retinanet

from official_ext.configs import augmentation_presets
from official_ext.configs import retinanet as exp_cfg
from official_ext.tasks import inputs
from official_ext.tasks import seeding


@task_factory.register_task_cls(exp_cfg.RetinaNetTask)
class RetinaNetTask(seeding.SeededTask, inputs.ExtendedInputs,
                    mg_retinanet.RetinaNetTask):
  """Model Garden's RetinaNetTask; inputs honor presets and subsets, and
  `task.seed` makes a run repeatable."""

  def resolve_data_config(self, params):
    """The data config with its augmentation preset applied."""
    params = augmentation_presets.apply_detection_preset(params)
    if params.get('augmentation_preset'):
      logging.info('Preset %s -> parser %s', params.augmentation_preset,
                   params.parser.as_dict())
    return params

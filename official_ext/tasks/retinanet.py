"""RetinaNet task: Model Garden's, with augmentation presets and subsets."""

from typing import Callable, Optional

from absl import logging
import tensorflow as tf

from official.core import task_factory
from official.vision.tasks import retinanet as mg_retinanet

from official_ext.configs import augmentation_presets
from official_ext.configs import retinanet as exp_cfg
from official_ext.dataloaders import reader


@task_factory.register_task_cls(exp_cfg.RetinaNetTask)
class RetinaNetTask(mg_retinanet.RetinaNetTask):
  """Model Garden's RetinaNetTask; inputs honor presets and subsets."""

  def resolve_data_config(self, params):
    """The data config with its augmentation preset applied."""
    params = augmentation_presets.apply_detection_preset(params)
    if params.get('augmentation_preset'):
      logging.info('Preset %s -> parser %s', params.augmentation_preset,
                   params.parser.as_dict())
    return params

  def build_inputs(self, params,
                   input_context: Optional[tf.distribute.InputContext] = None):
    if params.tfds_name:
      return super().build_inputs(params, input_context)
    params = reader.with_record_files(self.resolve_data_config(params))
    with reader.extended(self.parse_wrapper(params)):
      return super().build_inputs(params, input_context)

  def parse_wrapper(self, params) -> Optional[Callable]:
    """Wraps Model Garden's parse function (None: used as it is)."""
    del params
    return None

"""RetinaNet (SpineNet) experiment configs: the supervised teachers."""

import dataclasses
from typing import Optional

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import optimization
from official.vision.configs import backbones
from official.vision.configs import common as mg_common
from official.vision.configs import decoders
from official.vision.configs import retinanet as mg_retinanet

from official_ext.configs import common
from official_ext.configs import nms


@dataclasses.dataclass
class DataConfig(mg_retinanet.DataConfig):
  """Model Garden RetinaNet data config + augmentation preset + subset."""
  augmentation_preset: str = ''
  subset: common.SubsetConfig = dataclasses.field(
      default_factory=common.SubsetConfig)


@dataclasses.dataclass
class RetinaNetTask(mg_retinanet.RetinaNetTask):
  train_data: DataConfig = dataclasses.field(
      default_factory=lambda: DataConfig(is_training=True))
  validation_data: DataConfig = dataclasses.field(
      default_factory=lambda: DataConfig(is_training=False))
  # Seeds the model's init, augmentation and input order (tasks/seeding.py
  # states what repeats); None: Model Garden's behaviour.
  seed: Optional[int] = None


def from_model_garden(mg_config: cfg.ExperimentConfig,
                      task_cls=RetinaNetTask) -> cfg.ExperimentConfig:
  """Re-hosts a Model Garden RetinaNet experiment on our task config class."""
  return common.rehost(mg_config, task_cls)


@exp_factory.register_config_factory('supervised_coco')
def supervised_coco() -> cfg.ExperimentConfig:
  """COCO RetinaNet + SpineNet-49 at 640 (Model Garden's recipe).

  YAML in configs/experiments/ selects SpineNet-143/190 at 1280. The model
  keeps Model Garden's `v2` NMS, which a TPU compiles; a teacher exported to
  label on a CPU or GPU host takes `batched` at export (configs/nms.py).
  """
  config = from_model_garden(
      exp_factory.get_exp_config('retinanet_spinenet_coco'))
  config.task.model.detection_generator.nms_version = nms.XLA_NMS
  return config


@exp_factory.register_config_factory('supervised_digits')
def supervised_digits() -> cfg.ExperimentConfig:
  """Tiny RetinaNet (SpineNet-Mobile-49XS, 128x128) that trains on a CPU."""
  batch_size = 8
  size = common.DIGITS_IMAGE_SIZE
  config = cfg.ExperimentConfig(
      runtime=cfg.RuntimeConfig(mixed_precision_dtype='float32'),
      task=RetinaNetTask(
          model=mg_retinanet.RetinaNet(
              num_classes=common.DIGITS_NUM_CLASSES,
              input_size=[size, size, 3],
              min_level=3,
              max_level=5,
              backbone=backbones.Backbone(
                  type='spinenet_mobile',
                  spinenet_mobile=backbones.SpineNetMobile(
                      model_id='49XS',
                      stochastic_depth_drop_rate=0.0,
                      min_level=3,
                      max_level=5,
                      use_keras_upsampling_2d=False)),
              decoder=decoders.Decoder(
                  type='identity', identity=decoders.Identity()),
              head=mg_retinanet.RetinaNetHead(
                  num_convs=2, num_filters=48, use_separable_conv=True),
              anchor=mg_retinanet.Anchor(anchor_size=3),
              norm_activation=mg_common.NormActivation(
                  use_sync_bn=False, activation='swish'),
              detection_generator=mg_retinanet.DetectionGenerator(
                  # A CPU recipe: the NMS that serves fast on a CPU (a
                  # TPU swaps in v2, configs/nms.py).
                  nms_version=nms.LABELING_NMS, max_num_detections=50,
                  pre_nms_top_k=1000)),
          losses=mg_retinanet.Losses(l2_weight_decay=4e-5),
          seed=0,  # repeatable on a CPU (tasks/seeding.py)
          train_data=DataConfig(
              input_path='', is_training=True, global_batch_size=batch_size,
              dtype='float32', shuffle_buffer_size=1000,
              parser=mg_retinanet.Parser(
                  aug_rand_hflip=False, aug_scale_min=0.8, aug_scale_max=1.2,
                  max_num_instances=20)),
          validation_data=DataConfig(
              input_path='', is_training=False, global_batch_size=batch_size,
              dtype='float32', drop_remainder=False,
              parser=mg_retinanet.Parser(max_num_instances=20))),
      trainer=cfg.TrainerConfig(
          train_steps=1500,
          validation_steps=-1,
          validation_interval=500,
          steps_per_loop=50,
          summary_interval=50,
          checkpoint_interval=500,
          max_to_keep=2,
          optimizer_config=optimization.OptimizationConfig({
              'optimizer': {'type': 'sgd', 'sgd': {'momentum': 0.9}},
              'learning_rate': {
                  'type': 'cosine',
                  'cosine': {'initial_learning_rate': 0.08,
                             'decay_steps': 1500}},
              'warmup': {
                  'type': 'linear',
                  'linear': {'warmup_steps': 100,
                             'warmup_learning_rate': 0.008}},
          })),
      restrictions=[
          'task.train_data.is_training != None',
          'task.validation_data.is_training != None',
      ])
  return config

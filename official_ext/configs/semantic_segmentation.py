"""DeepLabV3+ semantic segmentation experiment configs: the supervised teachers."""

import dataclasses
from typing import Optional

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import optimization
from official.vision.configs import backbones
from official.vision.configs import common as mg_common
from official.vision.configs import decoders
from official.vision.configs import semantic_segmentation as mg_seg

from official_ext.configs import common


@dataclasses.dataclass
class DataConfig(mg_seg.DataConfig):
  """Model Garden segmentation data config + preset, photometric aug, subset.

  `aug_type` (AutoAugment/RandAugment, photometric ops only) is applied to
  the parsed training image (dataloaders/segmentation_input.py); Model
  Garden's segmentation parser has no such option.
  """
  augmentation_preset: str = ''
  aug_type: Optional[mg_common.Augmentation] = None
  subset: common.SubsetConfig = dataclasses.field(
      default_factory=common.SubsetConfig)


@dataclasses.dataclass
class SemanticSegmentationTask(mg_seg.SemanticSegmentationTask):
  train_data: DataConfig = dataclasses.field(
      default_factory=lambda: DataConfig(is_training=True))
  validation_data: DataConfig = dataclasses.field(
      default_factory=lambda: DataConfig(is_training=False))
  # Seeds the model's init, augmentation and input order (tasks/seeding.py
  # states what repeats); None: Model Garden's behaviour.
  seed: Optional[int] = None


def from_model_garden(mg_config: cfg.ExperimentConfig,
                      task_cls=SemanticSegmentationTask) -> cfg.ExperimentConfig:
  """Re-hosts a Model Garden segmentation experiment on our task config."""
  return common.rehost(mg_config, task_cls)


@exp_factory.register_config_factory('supervised_pascal')
def supervised_pascal() -> cfg.ExperimentConfig:
  """PASCAL VOC DeepLabV3+ (dilated ResNet-101), Model Garden's recipe."""
  return from_model_garden(
      exp_factory.get_exp_config('seg_deeplabv3plus_pascal'))


@exp_factory.register_config_factory('supervised_digits_seg')
def supervised_digits_seg() -> cfg.ExperimentConfig:
  """Tiny DeepLabV3 (ASPP) on SpineNet-Mobile-49XS, 128x128, for a CPU.

  The default segmenter, chosen on the validation splits of the built-in
  data sets against ResNet-18 x0.25 (docs/results/2026-12-06-default-segmenter.md);
  the demo trains the ResNet one (supervised_digits_seg_resnet_cpu.yaml,
  about half the time). Why 2500 steps: docs/recipes.md.
  """
  batch_size = 8
  steps = 2500
  size = [common.DIGITS_IMAGE_SIZE, common.DIGITS_IMAGE_SIZE]
  config = cfg.ExperimentConfig(
      runtime=cfg.RuntimeConfig(mixed_precision_dtype='float32'),
      task=SemanticSegmentationTask(
          model=mg_seg.SemanticSegmentationModel(
              num_classes=common.DIGITS_NUM_CLASSES,
              input_size=size + [3],
              min_level=3,
              max_level=5,
              backbone=backbones.Backbone(
                  type='spinenet_mobile',
                  spinenet_mobile=backbones.SpineNetMobile(
                      model_id='49XS', stochastic_depth_drop_rate=0.0,
                      min_level=3, max_level=5,
                      use_keras_upsampling_2d=False)),
              decoder=decoders.Decoder(
                  type='aspp',
                  aspp=decoders.ASPP(level=3, dilation_rates=[2, 4, 6],
                                     num_filters=64)),
              head=mg_seg.SegmentationHead(
                  level=3, num_convs=1, num_filters=64, feature_fusion=None),
              norm_activation=mg_common.NormActivation(
                  activation='swish', norm_momentum=0.99, norm_epsilon=1e-3,
                  use_sync_bn=False)),
          losses=mg_seg.Losses(l2_weight_decay=4e-5, ignore_label=255),
          seed=0,  # repeatable on a CPU (tasks/seeding.py)
          train_data=DataConfig(
              input_path='', output_size=size, is_training=True,
              global_batch_size=batch_size, aug_scale_min=0.8,
              aug_scale_max=1.2, aug_rand_hflip=False,
              shuffle_buffer_size=1000),
          validation_data=DataConfig(
              input_path='', output_size=size, is_training=False,
              global_batch_size=batch_size, resize_eval_groundtruth=True,
              drop_remainder=False, aug_rand_hflip=False)),
      trainer=cfg.TrainerConfig(
          train_steps=steps,
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
                             'decay_steps': steps}},
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

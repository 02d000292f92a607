"""Classification pre-training of the digits models' backbone.

The paper's pre-training is ImageNet classification of the detector's
backbone. At demo scale, `pretrain_digits` is Model Garden's image
classification task (its config, task and parser, unchanged) on the digits
of the unlabeled canvases (`make_digits_dataset --classification`), with
the very backbone config of `supervised_digits` (the detectors);
`pretrain_digits_seg` is the same with `supervised_digits_seg`'s backbone
(the segmenters). A detection or segmentation task then restores its own with
`task.init_checkpoint=MODEL_DIR task.init_checkpoint_modules=[backbone]`
(the trainer's checkpoint holds `backbone` at its root). Like the digits
detection and segmentation experiments, they set `task.seed` (repeatable on
a CPU: tasks/seeding.py).
"""

import dataclasses
from typing import Optional

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.vision.configs import image_classification as mg_ic

from official_ext.configs import common
from official_ext.configs import retinanet as _retinanet  # pylint: disable=unused-import
from official_ext.configs import semantic_segmentation as _segmentation  # pylint: disable=unused-import


@dataclasses.dataclass
class ImageClassificationTask(mg_ic.ImageClassificationTask):
  """Model Garden's classification task config + `seed` (tasks/seeding.py;
  None: Model Garden's behaviour)."""
  seed: Optional[int] = None


# Crops are resized to this; the digits on the 128-pixel canvases are 20-56.
CROP_SIZE = 64


def _data(is_training: bool, batch_size: int) -> mg_ic.DataConfig:
  # PNG records; digits are not flipped; a random crop of at least half the
  # area keeps most of the digit.
  return mg_ic.DataConfig(
      is_training=is_training, global_batch_size=batch_size,
      decode_jpeg_only=False, aug_rand_hflip=False,
      aug_crop=is_training, crop_area_range=(0.5, 1.0),
      shuffle_buffer_size=2000, drop_remainder=is_training)


def pretrain_for(experiment: str) -> cfg.ExperimentConfig:
  """Classification of digit crops with `experiment`'s backbone and
  activation, so its trainer checkpoint restores into that model's backbone;
  the digits detection recipe's trainer (SGD, cosine)."""
  model = exp_factory.get_exp_config(experiment).task.model
  detection = exp_factory.get_exp_config('supervised_digits')
  batch_size = 32
  return cfg.ExperimentConfig(
      runtime=cfg.RuntimeConfig(mixed_precision_dtype='float32'),
      task=ImageClassificationTask(
          model=mg_ic.ImageClassificationModel(
              num_classes=common.NUM_DIGIT_CLASSES,
              input_size=[CROP_SIZE, CROP_SIZE, 3],
              backbone=model.backbone,
              norm_activation=model.norm_activation),
          losses=mg_ic.Losses(l2_weight_decay=4e-5),
          train_data=_data(True, batch_size),
          validation_data=_data(False, batch_size),
          seed=0),
      trainer=detection.trainer,
      restrictions=['task.train_data.is_training != None',
                    'task.validation_data.is_training != None'])


@exp_factory.register_config_factory('pretrain_digits')
def pretrain_digits() -> cfg.ExperimentConfig:
  """SpineNet-Mobile-49XS (the digits detectors' backbone) classifies digits."""
  return pretrain_for('supervised_digits')


@exp_factory.register_config_factory('pretrain_digits_seg')
def pretrain_digits_seg() -> cfg.ExperimentConfig:
  """The digits segmenters' backbone (SpineNet-Mobile-49XS, levels 3-5)
  classifies digits; supervised_digits_seg_resnet_cpu.yaml laid over it
  pre-trains the demo's ResNet-18 x0.25 instead."""
  return pretrain_for('supervised_digits_seg')

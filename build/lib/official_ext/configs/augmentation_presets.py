"""The paper's augmentation strengths s1..s4 as one data-config field.

`augmentation_preset` on a train data config selects a preset; the task
resolves it into the Model Garden parser fields when it builds the input
pipeline (the YAML in model_dir keeps the preset name, the log shows the
resolved fields). An empty preset leaves the parser fields as configured.

| preset | detection (RetinaNet parser)       | segmentation parser               |
|--------|------------------------------------|-----------------------------------|
| s1     | flip + scale [0.8, 1.2] + crop     | same                              |
| s2     | s1 + AutoAugment detection_v0      | s1 + AutoAugment v0, colour ops   |
| s3     | flip + scale [0.1, 2.0] + crop     | same                              |
|        |   + AutoAugment detection_v0       |   + AutoAugment v0, colour ops    |
| s4     | flip + scale [0.1, 2.0] + crop     | same                              |
|        |   + RandAugment (with boxes)       |   + RandAugment, colour ops       |

Model Garden's augment ops move boxes but not masks, so the segmentation
presets apply only the photometric ops of each policy; geometry comes from
the scale jitter, crop and flip, which move image and mask together.
"""

import dataclasses
from typing import Optional

from official.vision.configs import common as mg_common


@dataclasses.dataclass(frozen=True)
class Preset:
  scale_min: float
  scale_max: float
  hflip: bool
  aug_type: Optional[str]  # 'autoaug', 'randaug' or None.


PRESETS = {
    's1': Preset(0.8, 1.2, True, None),
    's2': Preset(0.8, 1.2, True, 'autoaug'),
    's3': Preset(0.1, 2.0, True, 'autoaug'),
    's4': Preset(0.1, 2.0, True, 'randaug'),
}

# RandAugment ops that move pixels; masks would not follow them.
GEOMETRIC_OPS = ('Rotate', 'ShearX', 'ShearY', 'TranslateX', 'TranslateY',
                 'TranslateX_BBox', 'TranslateY_BBox', 'ShearX_BBox',
                 'ShearY_BBox', 'Rotate_BBox')


def get_preset(name: str) -> Optional[Preset]:
  """Returns the preset, None for '', or raises naming the valid values."""
  if not name:
    return None
  if name not in PRESETS:
    raise ValueError(
        f'augmentation_preset={name!r} is not a preset; use one of '
        f"{sorted(PRESETS)} or '' for the parser fields as configured.")
  return PRESETS[name]


def _augmentation(aug_type: Optional[str], detection: bool):
  if aug_type is None:
    return None
  if aug_type == 'autoaug':
    return mg_common.Augmentation(
        type='autoaug',
        autoaug=mg_common.AutoAugment(
            augmentation_name='detection_v0' if detection else 'v0'))
  return mg_common.Augmentation(
      type='randaug',
      randaug=mg_common.RandAugment(
          exclude_ops=[] if detection else list(GEOMETRIC_OPS)))


def apply_detection_preset(data_config):
  """Returns a copy of a RetinaNet data config with the preset applied."""
  preset = get_preset(data_config.augmentation_preset)
  if preset is None or not data_config.is_training:
    return data_config
  out = data_config.replace()
  out.parser.aug_rand_hflip = preset.hflip
  out.parser.aug_scale_min = preset.scale_min
  out.parser.aug_scale_max = preset.scale_max
  aug = _augmentation(preset.aug_type, detection=True)
  if aug is None:
    out.parser.aug_type = None
  else:
    out.parser.aug_type = aug
  return out


def apply_segmentation_preset(data_config):
  """Returns a copy of a segmentation data config with the preset applied."""
  preset = get_preset(data_config.augmentation_preset)
  if preset is None or not data_config.is_training:
    return data_config
  out = data_config.replace()
  out.aug_rand_hflip = preset.hflip
  out.aug_scale_min = preset.scale_min
  out.aug_scale_max = preset.scale_max
  aug = _augmentation(preset.aug_type, detection=False)
  out.aug_type = aug
  return out

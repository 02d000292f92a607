"""What the detection and segmentation experiment configs share."""

import dataclasses

from official.core import config_definitions as cfg
from official.modeling import hyperparams

# The built-in digits data (official_ext/digits/canvases.py, which draws
# with these): the digits 0..9, as classes 1..10 with background 0 in both
# tasks.
NUM_DIGIT_CLASSES = 10
DIGITS_NUM_CLASSES = NUM_DIGIT_CLASSES + 1
# The canvases' side in pixels, also the digits models' input, so the parsers
# do not resize them (a smaller input was measured: docs/recipes.md).
DIGITS_IMAGE_SIZE = 128
# The built-in shapes data (official_ext/shapes/shape_scenes.py): 8 shapes, as
# classes 1..8 with background 0, drawn at the digits' size so every digits
# recipe runs on it with `task.model.num_classes` changed.
SHAPES_NUM_CLASSES = 8 + 1
SHAPES_IMAGE_SIZE = DIGITS_IMAGE_SIZE


def model_image_size(params: cfg.ExperimentConfig):
  """[height, width] the model takes, from the config: detection's
  model.input_size, else segmentation's validation output_size."""
  model_size = list(params.task.model.input_size[:2])
  if all(model_size):
    return model_size
  output_size = params.task.validation_data.get('output_size')
  if output_size:
    return list(output_size)
  raise ValueError('The config has no fixed input size (task.model.'
                   'input_size); pass --input_image_size=HEIGHT,WIDTH.')


@dataclasses.dataclass
class SubsetConfig(hyperparams.Config):
  """A deterministic subset of a data set (the paper's 20%/50%/100% study).

  Each example is ranked by a keyed hash of its `image/source_id` (or of the
  whole record when it has none); the `num_examples` lowest ranks are kept.
  The choice depends only on the ids and `seed`, not on file order, sharding
  or shuffling, so two runs (or two workers) see the same examples.

  Attributes:
    num_examples: keep exactly this many examples; -1 keeps all.
    fraction: keep round(fraction * N) of the N examples; 1.0 keeps all.
      Set at most one of `num_examples` and `fraction`.
    seed: selects which examples; change it for a different subset.
  """
  num_examples: int = -1
  fraction: float = 1.0
  seed: int = 0

  @property
  def enabled(self) -> bool:
    return self.num_examples >= 0 or self.fraction < 1.0

  def check(self, where: str = 'subset'):
    """Raises ValueError naming the field when the values are invalid."""
    if self.num_examples < -1 or self.num_examples == 0:
      raise ValueError(
          f'{where}.num_examples={self.num_examples}: use a positive count, '
          'or -1 for all examples.')
    if not 0.0 < self.fraction <= 1.0:
      raise ValueError(
          f'{where}.fraction={self.fraction}: must be in (0, 1].')
    if self.num_examples > 0 and self.fraction < 1.0:
      raise ValueError(
          f'{where}: set num_examples or fraction, not both '
          f'(got {self.num_examples} and {self.fraction}).')


def rehost(mg_config: cfg.ExperimentConfig, task_cls) -> cfg.ExperimentConfig:
  """A Model Garden experiment re-hosted on one of our task config classes
  (its values kept, our added fields at their defaults)."""
  config = cfg.ExperimentConfig(
      task=task_cls(), restrictions=list(mg_config._restrictions))  # pylint: disable=protected-access
  config.override(mg_config.as_dict(), is_strict=True)
  return config

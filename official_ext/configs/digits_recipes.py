"""The digits experiments and their CPU recipes, resolved as train.py does.

`EXPERIMENTS` pairs each task's teacher and student experiment; each has a
recipe `configs/experiments/<experiment>_cpu.yaml`. `config(name)` is the
registered experiment with its recipe applied (`--experiment=NAME
--config_file=RECIPE`), so the demo and the benchmarks read the same values
(steps, batch sizes, augmentation) a `train.py` run of the recipe uses.
"""

import os

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams

from official_ext import registry_imports  # pylint: disable=unused-import

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# task -> (teacher, student)
EXPERIMENTS = {
    'detection': ('supervised_digits', 'selftrain_digits'),
    'segmentation': ('supervised_digits_seg', 'selftrain_digits_seg'),
}


def recipe(name: str) -> str:
  """The recipe YAML of a digits experiment, relative to the repository."""
  return os.path.join('configs', 'experiments', f'{name}_cpu.yaml')


def config(name: str) -> cfg.ExperimentConfig:
  return hyperparams.override_params_dict(
      exp_factory.get_exp_config(name), os.path.join(REPO, recipe(name)),
      is_strict=True)

"""Recipes: a registered experiment with YAML laid over it, as train.py reads it.

A recipe is a Model Garden experiment YAML (`--config_file`). The packaged
ones (configs/experiments/) install with the package as
`official_ext.recipes`, found the same way from a wheel or the tree. These
helpers are what every user of a recipe shares (the self_train rounds, the
study, the demo, the benchmarks): where a packaged recipe is, the
experiment with a recipe applied, a schedule of N steps, and a student's
images per step.
"""

import importlib.resources
import os

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams
from official.modeling.hyperparams import params_dict


def recipe_path(file_name: str) -> str:
  """The path of a recipe YAML installed with the package.

  Args:
    file_name: e.g. 'selftrain_digits_cpu.yaml'.

  Returns:
    Its path on disk.

  Raises:
    FileNotFoundError: no packaged recipe of that name.
  """
  path = importlib.resources.files('official_ext.recipes') / file_name
  if not path.is_file():
    raise FileNotFoundError(f'no recipe {file_name!r} in official_ext.recipes '
                            '(configs/experiments/).')
  return str(path)


def resolve(name: str, base_dir: str = '.') -> str:
  """A recipe or overlay named in a run or study file, as a path.

  Args:
    name: a path (relative: from `base_dir`) or a packaged recipe's file
      name.
    base_dir: the folder of the file that names it.

  Returns:
    The path, when that file exists; else the packaged recipe's path.

  Raises:
    FileNotFoundError: neither exists.
  """
  path = os.path.join(base_dir, name)
  if os.path.isfile(path):
    return os.path.normpath(path)
  return recipe_path(name)


def model_files(model, base_dir: str = '.') -> list:
  """The YAML files of a run or study file's model (configs/file_schema's
  ModelConfig) as paths, in train.py's `--config_file` order: its recipe,
  then its config_files, each found by `resolve`.

  Raises:
    FileNotFoundError: one of them is neither a file nor packaged.
  """
  return [resolve(name, base_dir)
          for name in [model.recipe, *model.config_files] if name]


def config_from(experiment: str, *recipe_files: str) -> cfg.ExperimentConfig:
  """The registered `experiment` with the YAML files laid over it in order
  (`train.py --experiment=E --config_file=RECIPE [--config_file=...]`); the
  experiment must be registered (import official_ext.registry_imports)."""
  config = exp_factory.get_exp_config(experiment)
  for path in recipe_files:
    config = hyperparams.override_params_dict(config, path, is_strict=True)
  return config


def schedule_overrides(steps: int, interval: int = 0,
                       warmup: int = -1) -> list:
  """`--params_override` items that run a recipe for `steps` steps.

  Its cosine decay ends at the last step, one checkpoint and one
  evaluation at the end, logs every `interval` steps (default
  min(50, steps)), a linear warmup of `warmup` steps (default
  min(100, steps // 4)).

  Args:
    steps: the number of training steps.
    interval: steps between logs and summaries; 0: the default.
    warmup: linear warmup steps; < 0: the default.

  Returns:
    The `KEY=VALUE` items.
  """
  interval = interval or min(50, steps)
  warmup = min(100, steps // 4) if warmup < 0 else warmup
  return [f'trainer.train_steps={steps}',
          f'trainer.validation_interval={steps}',
          f'trainer.checkpoint_interval={steps}',
          f'trainer.optimizer_config.learning_rate.cosine.decay_steps={steps}',
          f'trainer.optimizer_config.warmup.linear.warmup_steps={warmup}',
          f'trainer.steps_per_loop={interval}',
          f'trainer.summary_interval={interval}']


def student_batch(student) -> tuple:
  """(labeled, total) images per step of a self-training experiment (an
  ExperimentConfig or its params.yaml): its labeled batch, and that plus
  its pseudo-labeled batch."""
  labeled = student.task.train_data.global_batch_size
  return labeled, labeled + student.task.pseudo_data.global_batch_size


def model_summary(model_dir: str, student: bool) -> dict:
  """images_per_step (and how many labeled) and train_steps of a trained
  model, from the params.yaml it trained with (a student: labeled +
  pseudo-labeled batch)."""
  config = params_dict.read_yaml_to_params_dict(
      os.path.join(model_dir, 'params.yaml'))
  if student:
    labeled, total = student_batch(config)
  else:
    labeled = total = config.task.train_data.global_batch_size
  return {'images_per_step': total, 'labeled_images_per_step': labeled,
          'train_steps': config.trainer.train_steps}

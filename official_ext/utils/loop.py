"""The self-training loop's stages as a user runs them, each a child
process of one of our tools (through a `stages.Runner`):

  train      python -m official_ext.tools.train --mode=train_and_eval
  export     python -m official_ext.tools.export_saved_model
  label      python -m official_ext.tools.pseudo_label

Shared by the demo and the study tool, so both run exactly the commands a
user would. Each returns the stage's seconds.
"""

import os
from typing import Dict, List, Optional, Sequence

from official_ext.digits import recipes
from official_ext.utils import stages
from official_ext.utils import summaries


def run_tool(runner: stages.Runner, stage: str, tool: str, args, log_path):
  """Runs `python -m official_ext.tools.<tool> ARGS` as stage `stage`."""
  return runner.run(stage, ['-m', f'official_ext.tools.{tool}'] + list(args),
                    log_path)


def train_args(experiment: str, config_files: Sequence[str], model_dir: str,
               steps: Optional[int], overrides: Sequence[str]) -> List[str]:
  """train.py's flags: train_and_eval of `experiment`, the config files laid
  over each other in order, then the `--params_override` items; with
  `steps`, for that many steps (one checkpoint and evaluation at the end),
  else as the configs say."""
  items = list(overrides)
  if steps is not None:
    items += recipes.schedule_overrides(steps)
  args = [f'--experiment={experiment}', '--mode=train_and_eval',
          f'--model_dir={model_dir}',
          *[f'--config_file={path}' for path in config_files]]
  return args + ([f'--params_override={",".join(items)}'] if items else [])


def train(runner: stages.Runner, stage: str, experiment: str,
          config_files: Sequence[str], model_dir: str, steps: Optional[int],
          overrides: Sequence[str], log_path: str) -> float:
  """train.py with `train_args`."""
  return run_tool(runner, stage, 'train', train_args(
      experiment, config_files, model_dir, steps, overrides), log_path)


def export_args(experiment: str, model_dir: str, export_dir: str
                ) -> List[str]:
  """export_saved_model's flags: the model_dir's checkpoint, with its own
  params.yaml."""
  return [f'--experiment={experiment}',
          f'--config_file={model_dir}/params.yaml',
          f'--checkpoint_path={model_dir}', f'--export_dir={export_dir}']


def export(runner: stages.Runner, stage: str, experiment: str,
           model_dir: str, export_dir: str, log_path: str) -> float:
  """export_saved_model with `export_args`."""
  return run_tool(runner, stage, 'export_saved_model',
               export_args(experiment, model_dir, export_dir), log_path)


def label(runner: stages.Runner, stage: str, args: Sequence[str],
          log_path: str) -> float:
  """pseudo_label with `args` (its flags)."""
  return run_tool(runner, stage, 'pseudo_label', args, log_path)


def last_metrics(model_dir: str, names: Sequence[str]) -> Dict[str, float]:
  """The model's last evaluation, as logged under model_dir/validation."""
  event_dir = os.path.join(model_dir, 'validation')
  return {m: summaries.last_value(event_dir, m) for m in names}

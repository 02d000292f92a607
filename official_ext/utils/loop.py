"""The self-training loop's stages as a user runs them, each a child
process of one of our tools (through a `stages.Runner`):

  train      python -m official_ext.tools.train --mode=train_and_eval
  export     python -m official_ext.tools.export_saved_model
  label      python -m official_ext.tools.pseudo_label

Shared by the demo and the study tool, so both run exactly the commands a
user would. Each returns the stage's seconds.
"""

import os
from typing import Dict, Sequence

from official_ext.digits import recipes
from official_ext.utils import stages
from official_ext.utils import summaries


def _tool(runner: stages.Runner, stage: str, tool: str, args, log_path):
  return runner.run(stage, ['-m', f'official_ext.tools.{tool}'] + list(args),
                    log_path)


def train(runner: stages.Runner, stage: str, experiment: str,
          config_files: Sequence[str], model_dir: str, steps: int,
          overrides: Sequence[str], log_path: str) -> float:
  """train.py train_and_eval of `experiment` for `steps` steps (one
  checkpoint and evaluation at the end), the config files laid over each
  other in order, then the `--params_override` items."""
  override = ','.join(list(overrides) +
                      recipes.schedule_overrides(steps))
  return _tool(runner, stage, 'train', [
      f'--experiment={experiment}', '--mode=train_and_eval',
      f'--model_dir={model_dir}',
      *[f'--config_file={path}' for path in config_files],
      f'--params_override={override}'], log_path)


def export(runner: stages.Runner, stage: str, experiment: str,
           model_dir: str, export_dir: str, log_path: str) -> float:
  """The model_dir's checkpoint, exported with its own params.yaml."""
  return _tool(runner, stage, 'export_saved_model', [
      f'--experiment={experiment}',
      f'--config_file={model_dir}/params.yaml',
      f'--checkpoint_path={model_dir}', f'--export_dir={export_dir}'],
               log_path)


def label(runner: stages.Runner, stage: str, args: Sequence[str],
          log_path: str) -> float:
  """pseudo_label with `args` (its flags)."""
  return _tool(runner, stage, 'pseudo_label', args, log_path)


def last_metrics(model_dir: str, names: Sequence[str]) -> Dict[str, float]:
  """The model's last evaluation, as logged under model_dir/validation."""
  event_dir = os.path.join(model_dir, 'validation')
  return {m: summaries.last_value(event_dir, m) for m in names}

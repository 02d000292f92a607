"""The self-training loop's stages as a user runs them, each a child
process of one of our tools (through a `stages.Runner`):

  train_args   python -m official_ext.tools.train --mode=train_and_eval
  export_args  python -m official_ext.tools.export_saved_model

Shared by official_ext/rounds (self_train, and through it the demo and the
study's cells) and the study's pre-training, so all run exactly the commands
a user would. `run_tool` and `train` return the stage's seconds.
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


def export_args(experiment: str, model_dir: str, export_dir: str,
                export_model: str = '',
                overrides: Sequence[str] = ()) -> List[str]:
  """export_saved_model's flags: the model_dir's checkpoint, with its own
  params.yaml; `export_model` (teacher|student) for an online checkpoint;
  `overrides` laid over the params (e.g. the labeling NMS)."""
  return [f'--experiment={experiment}',
          f'--config_file={model_dir}/params.yaml',
          f'--checkpoint_path={model_dir}', f'--export_dir={export_dir}'] + (
              [f'--export_model={export_model}'] if export_model else []) + (
                  [f'--params_override={",".join(overrides)}']
                  if overrides else [])


def last_metrics(model_dir: str, names: Sequence[str]) -> Dict[str, float]:
  """The model's last evaluation, as logged under model_dir/validation."""
  event_dir = os.path.join(model_dir, 'validation')
  return {m: summaries.last_value(event_dir, m) for m in names}

"""The self-training loop's stages as a user runs them, each a child
process of one of our tools (through a `stages.Runner`):

  train_args   python -m official_ext.tools.train --mode=train_and_eval
  eval_args    python -m official_ext.tools.train --mode=eval (a split's
               evaluation of the final checkpoint, e.g. the test split)
  export_args  python -m official_ext.tools.export_saved_model

Shared by official_ext/rounds (self_train, and through it the demo and the
study's cells) and the study's pre-training, so all run exactly the commands
a user would. `run_tool` and `train` return the stage's seconds.
"""

import os
import re
from typing import Dict, List, Optional, Sequence

from official_ext.configs import recipes
from official_ext.utils import stages
from official_ext.utils import summaries
import tensorflow as tf

# Model Garden's trainer.validation_summary_subdir: where train_and_eval
# writes its evaluations.
VALIDATION = 'validation'


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


def eval_args(experiment: str, model_dir: str, subdir: str = VALIDATION,
              overrides: Sequence[str] = ()) -> List[str]:
  """train.py's flags to evaluate model_dir's latest checkpoint once, with
  its own params.yaml and `overrides` (e.g. another split's input_path),
  into model_dir/<subdir>."""
  items = [f'trainer.validation_summary_subdir={subdir}', *overrides]
  return [f'--experiment={experiment}', '--mode=eval',
          f'--model_dir={model_dir}',
          f'--config_file={model_dir}/params.yaml',
          f'--params_override={",".join(items)}']


def checkpoint_step(model_dir: str) -> Optional[int]:
  """The step of model_dir's latest checkpoint (ckpt-<step>); None: none."""
  path = tf.train.latest_checkpoint(model_dir)
  found = path and re.search(r'-(\d+)$', path)
  return int(found.group(1)) if found else None


def evaluated_last_checkpoint(model_dir: str, metric: str,
                              subdir: str = VALIDATION) -> bool:
  """Whether model_dir/<subdir> holds `metric` at the latest checkpoint's
  step (a run stopped between its final checkpoint and its final
  evaluation does not: its rerun trains no step and evaluates nothing)."""
  step = checkpoint_step(model_dir)
  values = summaries.read_scalars(os.path.join(model_dir, subdir)).get(
      metric, [])
  return step is not None and any(s == step for s, _ in values)


def last_metrics(model_dir: str, names: Sequence[str],
                 subdir: str = VALIDATION) -> Dict[str, float]:
  """The model's last evaluation, as logged under model_dir/<subdir>."""
  event_dir = os.path.join(model_dir, subdir)
  return {m: summaries.last_value(event_dir, m) for m in names}

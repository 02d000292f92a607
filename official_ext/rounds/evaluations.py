"""A trained model's result: its final checkpoint on validation and test.

Validation is where choices are made; its last evaluation is the model's
result, evaluated again (train.py --mode=eval, a `<model>_validation`
stage) when a run stopped between its final checkpoint and its final
evaluation (the rerun trains no step and evaluates nothing). With a test
split, the final checkpoint is scored on it once (a `<model>_test` stage,
the whole split, summaries under model_dir/test); nothing reads it to
choose.
"""

import os
from typing import Callable, Dict

from official_ext.rounds import run_config
from official_ext.rounds import stage_records
from official_ext.utils import tool_commands

METRICS = {'detection': ('AP', 'AP50'), 'segmentation': ('mean_iou',)}
TEST = 'test'


def final_metrics(run_stage: Callable, name: str, model_dir: str,
                  experiment: str,
                  run: run_config.RunConfig) -> Dict[str, Dict[str, float]]:
  """{'validation': metrics, 'test': metrics (with run.data.test)} of the
  model in `model_dir` at its final checkpoint.

  Args:
    run_stage: runs a recorded stage: (stage name, tool, argv, inputs,
      outputs) -> its record.
    name: the model's stage name (e.g. 'student').
    model_dir: its folder.
    experiment: its registered experiment.
    run: the run file (the task, data.test and its COCO json).

  Returns:
    The metrics of the task, by split.
  """
  names = METRICS[run.task]
  checkpoint = {'checkpoint': stage_records.checkpoint_record(model_dir)}
  validation = tool_commands.VALIDATION
  if not tool_commands.evaluated_last_checkpoint(model_dir, names[0]):
    run_stage(f'{name}_{validation}', 'train',
              tool_commands.eval_args(experiment, model_dir), checkpoint, [])
  out = {validation: tool_commands.last_metrics(model_dir, names)}
  data = run.data
  if data.test:
    overrides = [f'task.validation_data.input_path={data.test}',
                 'trainer.validation_steps=-1']  # All of it.
    if run.task == 'detection':
      overrides.append(f'task.annotation_file={data.test_annotation_file}')
    run_stage(f'{name}_{TEST}', 'train',
              tool_commands.eval_args(experiment, model_dir, TEST, overrides),
              dict(checkpoint, test=stage_records.files_record(data.test),
                   test_annotation_file=stage_records.content_hash(
                       data.test_annotation_file)),
              [os.path.join(model_dir, TEST)])
    out[TEST] = tool_commands.last_metrics(model_dir, names, TEST)
  return out

"""A round's result is its model's final checkpoint, on validation and test.

A training run stopped between its final checkpoint and its final
evaluation leaves a newer checkpoint than its last evaluation; its rerun
trains no step and evaluates nothing, so reading the last evaluation would
report an earlier model. `Rounds.final_metrics` evaluates that checkpoint
(train.py --mode=eval) and scores the test split once, beside it.
"""

import os
import shutil

from official_ext.rounds import round_loop
from official_ext.rounds import run_config
from official_ext.utils import tool_commands
from official_ext.utils import stages

from conftest import REPO
from conftest import digits_seg_run
from conftest import read_scalars
from conftest import run_tool


def test_a_checkpoint_newer_than_its_evaluation_is_evaluated(
    digits_seg_teacher_run, digits_data, tmp_path):
  teacher = digits_seg_teacher_run
  model_dir = str(tmp_path / 'round_1' / 'teacher')
  shutil.copytree(teacher['model_dir'], model_dir,
                  ignore=shutil.ignore_patterns('export'))
  # Four more steps without an evaluation: a newer final checkpoint, as a
  # run killed after saving it and before evaluating it leaves.
  steps = teacher['steps'] + 4
  run_tool(['train.py', f"--experiment={teacher['experiment']}",
            '--mode=train', f'--model_dir={model_dir}',
            f'--config_file={model_dir}/params.yaml',
            f'--params_override=trainer.train_steps={steps}'])
  assert tool_commands.checkpoint_step(model_dir) == steps
  assert not tool_commands.evaluated_last_checkpoint(model_dir, 'mean_iou')

  run = run_config.from_dict(digits_seg_run(digits_data))
  assert run.data.test == digits_data['test']
  rounds = round_loop.Rounds(
      run, round_loop.Options(output_dir=str(tmp_path), rounds=1),
      stages.Runner([], env={'PYTHONPATH': REPO}))
  metrics = rounds.final_metrics(1, 'teacher', teacher['experiment'])

  validation = dict(read_scalars(os.path.join(model_dir,
                                              'validation'))['mean_iou'])
  assert sorted(validation) == [teacher['steps'], steps]
  assert metrics['validation'] == {'mean_iou': validation[steps]}
  test = read_scalars(os.path.join(model_dir, 'test'))['mean_iou']
  assert test == [(steps, metrics['test']['mean_iou'])]
  assert 0.0 < metrics['test']['mean_iou'] < 1.0
  assert os.path.isfile(tmp_path / 'stages' / 'round_1.teacher_test.json')
  # Asked again: both are there, nothing runs.
  assert rounds.final_metrics(1, 'teacher', teacher['experiment']) == metrics
  assert [c['stage'] for c in rounds.runner.commands] == [
      'round_1/teacher_validation', 'round_1/teacher_test']

"""A run file's labeling stage as the pseudo_label tool's options.

The run file's `labeling:` section and data map onto one LabelingOptions
(labeling/options.py), written as the tool's flags in the order earlier
runs recorded their command, so their stage records still match.
"""

from typing import List, Optional

from official.core import config_definitions as cfg

from official_ext.labeling import options as labeling_options
from official_ext.rounds import run_config


def score_threshold(run: run_config.RunConfig,
                    student: Optional[cfg.ExperimentConfig] = None) -> float:
  """The labeling threshold.

  Args:
    run: the run file.
    student: its student's experiment config, when already built.

  Returns:
    labeling.score_threshold when set (>= 0), else the student recipe's
    task.self_training.score_threshold.
  """
  if run.labeling.score_threshold >= 0:
    return run.labeling.score_threshold
  student = student or run_config.experiment_config(run.student)
  return student.task.self_training.score_threshold


def num_classes(run: run_config.RunConfig,
                student: Optional[cfg.ExperimentConfig] = None) -> int:
  """The student recipe's class count (the labeler checks the teacher's).

  Args:
    run: the run file.
    student: its student's experiment config, when already built.

  Returns:
    task.model.num_classes of the student's experiment config.
  """
  student = student or run_config.experiment_config(run.student)
  return student.task.model.num_classes


def labeling_argv(run: run_config.RunConfig, teacher_export: str, prefix: str,
                  workers: int, worker_index: int) -> List[str]:
  """The pseudo_label tool's flags for a round.

  Args:
    run: the run file (its labeling section and data).
    teacher_export: the round's teacher SavedModel.
    prefix: the shards' output prefix.
    workers: how many workers label the round.
    worker_index: this worker's index.

  Returns:
    The run as LabelingOptions, written as flags in the order earlier runs
    recorded their command (so their stage records still match).
  """
  student = run_config.experiment_config(run.student)  # Read once.
  options = labeling_options.LabelingOptions(**dict(
      run.labeling.as_dict(),  # The section's fields, by their names.
      teacher=teacher_export, task=run.task,
      input_pattern=run.data.unlabeled, output_prefix=prefix,
      score_threshold=score_threshold(run, student),
      num_classes=num_classes(run, student), show_progress=False,
      labeled_pattern=run.data.labeled,
      calibration_pattern=run.data.calibration, num_workers=workers,
      worker_index=worker_index))
  fields = ['teacher', 'task', 'input_pattern', 'output_prefix',
            'score_threshold', 'num_classes', 'num_shards', 'show_progress',
            'labeled_pattern', 'class_thresholds', 'target_precision']
  if run.data.calibration:
    fields.append('calibration_pattern')
  if workers > 1:
    fields += ['num_workers', 'worker_index']
  return options.to_flags(fields)

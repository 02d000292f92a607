"""The rounds of a run file: teacher -> pseudo labels -> student -> export.

Round r (DIR/round_<r>/): teacher (round 1, unless the run file gives a
saved_model; round r > 1 is taught by round r-1's student_export),
teacher_export, pseudo_label, student, student_export, and with data.test
<model>_test (each model's final checkpoint scored once on test);
<model>_validation evaluates a final checkpoint a stopped run left
unevaluated. An online student (task.self_training.mode: online) has no
teacher_export or pseudo_label and one round. The stages, their commands
and outputs: docs/self_train.md.

Each stage is a child process a user could run by hand (the command is in
DIR/stages/<stage>.json and DIR/commands.txt), run under a stage record
(stage_records.py): skipped when done from the same inputs, resumed when
killed, redone when its inputs changed.

K workers (K machines sharing DIR, e.g. a bucket mounted on each, or K
processes on one): worker 0 trains and exports; every worker labels its
slice of the unlabeled shards (pseudo_label --num_workers/--worker_index)
as soon as the round's teacher export is done; worker 0 trains the student
once every shard is finished, and the others wait for its export to label
the next round.
"""

import dataclasses
import os
from typing import List, Optional

from official_ext.data import sharded_writer
from official_ext.labeling import labeling_report
from official_ext.rounds import evaluations
from official_ext.rounds import model_stages
from official_ext.rounds import online_health
from official_ext.rounds import run_config
from official_ext.rounds import run_labeling
from official_ext.rounds import stage_records
from official_ext.rounds import workers as rounds_workers
from official_ext.utils import stages

METRICS = evaluations.METRICS


@dataclasses.dataclass
class Options:
  output_dir: str
  rounds: int
  # Every model trains this many steps (one checkpoint and evaluation at
  # the end); None: as its recipe says.
  train_steps: Optional[int] = None
  name: str = ''  # Shown before every stage's name (runs side by side).
  num_workers: int = 1
  worker_index: int = 0
  poll_seconds: float = 5.0  # Between checks while waiting on a worker.
  # False: the last round's student is trained and evaluated, not exported
  # (a study compares metrics; no later round or user needs its SavedModel).
  export_last_student: bool = True


class Rounds(model_stages.ModelStages):
  """Runs a RunConfig's rounds through `runner`, recording every stage."""

  def __init__(self, run: run_config.RunConfig, options: Options,
               runner: stages.Runner):
    super().__init__(run, options, runner)
    self.warnings = {}  # Per round, what an online student's logs showed.
    self.online = run_config.online(run)

  def _wait(self, what: str, ready):
    rounds_workers.wait(what, ready, self.options.worker_index,
                        self.options.poll_seconds)

  def _wait_for_stage(self, stage: str):
    self._wait(stage, lambda: rounds_workers.stage_done(self.records, stage))

  def _label(self, r, teacher_export: str) -> dict:
    prefix = self._dir(r, 'pseudo/pseudo')
    run = self.run
    workers = self.options.num_workers
    stage, outputs = 'pseudo_label', [os.path.dirname(prefix)]
    if workers > 1:
      # Each worker its own record; none removes the shared folder.
      stage, outputs = f'pseudo_label.worker_{self.options.worker_index}', []
    argv = run_labeling.labeling_argv(run, teacher_export, prefix, workers,
                                    self.options.worker_index)
    inputs = {'teacher': stage_records.export_record(teacher_export),
              'unlabeled': stage_records.files_record(run.data.unlabeled),
              'calibration': stage_records.files_record(run.data.calibration),
              'labeled': self.data_inputs['labeled']}
    self._stage(r, stage, 'pseudo_label', argv, inputs, outputs)
    if workers > 1:  # The last worker's report covers every shard.
      self._wait(f'every worker\'s shards under {prefix}',
                 lambda: rounds_workers.labels_complete(prefix))
    report = labeling_report.read_report(prefix)
    report['pattern'] = sharded_writer.output_pattern(prefix,
                                                      report['num_shards'])
    return report

  def _other_worker_round(self, r: int, teacher_export: Optional[str]):
    """A worker > 0: label this round's slice once its teacher is out
    (an online student: nothing to label, wait for worker 0)."""
    if not self.online:
      if teacher_export is None:
        self._wait_for_stage(f'round_{r}/teacher_export')
        teacher_export = self._dir(r, 'teacher_export')
      self._label(r, teacher_export)
    if not self._exports_student(r):
      self._wait_for_stage(f'round_{r}/student')
      return {'round': r}
    self._wait_for_stage(f'round_{r}/student_export')
    return {'round': r, 'student_export': self._dir(r, 'student_export')}

  def _exports_student(self, r: int) -> bool:
    return r < self.options.rounds or self.options.export_last_student

  def run_round(self, r: int, teacher_export: Optional[str]) -> dict:
    """One round: teacher (round 1), labels, student, export.

    Args:
      r: the round, from 1.
      teacher_export: the teacher SavedModel (round r-1's student export, or
        the run file's saved_model); None: train the round-1 teacher.

    Returns:
      The round's record for results.json: each model's metrics by split
      and its batch, the labeling summary, the stages' seconds and commands.
    """
    if self.options.worker_index > 0:
      return self._other_worker_round(r, teacher_export)
    run, result = self.run, {'round': r}
    if teacher_export is None:
      self._train(r, 'teacher', run.teacher, self._data_overrides(), {})
      if not self.online:  # An online student's teacher only compares.
        teacher_export = self._export(r, 'teacher_export', run.teacher,
                                      self._dir(r, 'teacher'))
      self._record(result, 'teacher', self.measure(
          r, 'teacher', run.teacher.experiment, student=False))
    if self.online:
      # No labeling: the student's own moving average labels each batch.
      result['mode'] = 'online'
      self._train_online(r, 'student', run.student)
    else:
      result['teacher_export'] = teacher_export
      self._offline_student(r, teacher_export, result)
    # An online checkpoint also holds its teacher; the round exports (and
    # reports) the student. Measured after its export, as the teacher is.
    if self._exports_student(r):
      result['student_export'] = self._export(
          r, 'student_export', run.student, self._dir(r, 'student'),
          export_model='student' if self.online else '')
    self._record(result, 'student', self.measure(
        r, 'student', run.student.experiment, student=True))
    if self.warnings.get(r):
      result['student_warnings'] = self.warnings[r]
    result['wall_time_s'] = self.seconds.get(r, {})
    result['commands'] = self.commands.get(r, {})
    return result

  def _offline_student(self, r: int, teacher_export: str, result: dict):
    """Labels with `teacher_export`, trains the student on those labels;
    the labeling summary into `result`."""
    report = self._label(r, teacher_export)
    pseudo = [f"task.pseudo_data.input_path={report['pattern']}"]
    self._train(r, 'student', self.run.student,
                self._data_overrides() + pseudo,
                {'pseudo': stage_records.files_record(report['pattern']),
                 'teacher': stage_records.export_record(teacher_export)})
    result['pseudo_labels'] = {k: report.get(k) for k in (
        'images_labeled', 'images_skipped', 'score_threshold',
        'boxes_per_image_mean', 'ignored_fraction', 'class_thresholds')
                               if report.get(k) is not None}
    result['pseudo_labels']['warnings'] = report.get('quality', {}).get(
        'warnings', [])
    result['pseudo_report'] = self._dir(r, 'pseudo/pseudo_report.json')

  def train_online_student(self, r: int, name: str,
                           model: run_config.ModelConfig) -> dict:
    """Trains an online student in or beside round r, under the same stage
    records, on the labeled images and the raw unlabeled ones. When the run
    sets the steps, its burn-in keeps the recipe's share of them.

    Args:
      r: the round.
      name: its stage name.
      model: its model (the recipe sets task.self_training.mode: online).

    Returns:
      `measure`'s record: its final metrics by split and, under 'model',
      its images per step and steps.
    """
    self._train_online(r, name, model)
    return self.measure(r, name, model.experiment, student=True)

  def _train_online(self, r: int, name: str, model: run_config.ModelConfig):
    """Trains `train_online_student`'s model (a collapse warning into the
    round's warnings); measures nothing."""
    extra = [f'task.pseudo_data.input_path={self.run.data.unlabeled}']
    if self.options.train_steps:
      config = run_config.experiment_config(model, self.run.runtime_overrides)
      share = (config.task.self_training.burn_in_steps /
               config.trainer.train_steps)
      extra.append('task.self_training.burn_in_steps='
                   f'{max(1, round(share * self.options.train_steps))}')
    self._train(r, name, model, self._data_overrides() + extra,
                {'unlabeled': stage_records.files_record(
                    self.run.data.unlabeled)})
    warning = online_health.collapse_warning(self._dir(r, name))
    if warning:
      self.records.log(f'[round_{r}/{name}] warning: {warning}')
      self.warnings.setdefault(r, []).append(warning)

  def train_supervised(self, r: int, name: str,
                       model: run_config.ModelConfig,
                       steps: Optional[int] = None) -> dict:
    """Trains another supervised model on data.labeled beside round r
    (e.g. a baseline candidate with another batch or schedule), under the
    same stage records.

    Args:
      r: the round.
      name: its stage name.
      model: its model.
      steps: its steps; None: the run's.

    Returns:
      `measure`'s record: its final metrics by split and, under 'model',
      its images per step and steps.
    """
    self._train(r, name, model, self._data_overrides(), {}, steps)
    return self.measure(r, name, model.experiment, student=False)

  def run_all(self) -> List[dict]:
    """Runs every round; round r > 1's teacher is round r-1's student
    export.

    Returns:
      Each round's `run_round` record.
    """
    results = []
    teacher = self.run.teacher.saved_model or None
    for r in range(1, self.options.rounds + 1):
      result = self.run_round(r, teacher)
      if 'teacher' not in result and results and 'student' in results[-1]:
        result['teacher'] = results[-1]['student']
      results.append(result)
      teacher = result.get('student_export')
    return results


"""Labeling on first use: the training task runs the pseudo-label tool once.

When `task.self_training.teacher` is set, the task labels the raw images of
`task.pseudo_data.input_path` into `model_dir/pseudo_labels/` before it
trains. The labeling runs `python -m official_ext.tools.pseudo_label` in a
child process (the same code as the tool; no SavedModel state in the
training process). Its output goes, as it runs, to
`pseudo_labels/labeler-worker<I>.log`. The child dies with the training
process. Finished shards are reused, so a restarted job resumes; finished
shards made by another teacher, from other inputs, at other thresholds or
by another version of the tool are not: the labeler then stops the job with one line naming what changed. In a
multi-worker job (TF_CONFIG) each worker labels its slice, then waits for
the others' shards. A child that fails, or shows no progress (no log line,
no finished shard) for `stall_seconds`, stops the job with the log named.
"""

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from typing import List, Optional, Tuple

from absl import logging
import tensorflow as tf

from official_ext.data import sharded_writer
from official_ext.labeling import provenance
from official_ext.labeling import labelers
from official_ext.labeling import options as labeling_options_lib
from official_ext.labeling import shard_plan
from official_ext.labeling import teacher as teacher_lib
from official_ext.quality import labeling_quality

PSEUDO_PREFIX = 'pseudo'
# Under the student's model_dir: the pseudo labels made on first use.
PSEUDO_LABEL_SUBDIR = 'pseudo_labels'
STALL_SECONDS = 1800.0  # The labeler logs its progress every minute.


def labeling_options(task_config, label_task: str,
                     output_dir: str) -> labeling_options_lib.LabelingOptions:
  """The labeling options of a task that labels on first use.

  Args:
    task_config: a self-training task config: `self_training`'s teacher,
      thresholds and quality fields, `pseudo_data.input_path` (the raw
      images), `model.num_classes`; the labeled set the bias warnings
      compare with is `train_data.input_path`.
    label_task: 'detection' or 'segmentation' (labelers.py).
    output_dir: where the pseudo labels go.

  Returns:
    The options the pseudo_label tool labels with.
  """
  st = task_config.self_training
  labeled = task_config.train_data.input_path
  if not isinstance(labeled, str):
    labeled = ','.join(labeled)
  return labeling_options_lib.LabelingOptions(
      teacher=st.teacher, task=label_task,
      input_pattern=task_config.pseudo_data.input_path,
      output_prefix=os.path.join(output_dir, PSEUDO_PREFIX),
      score_threshold=st.score_threshold,
      num_classes=task_config.model.num_classes, show_progress=False,
      class_thresholds=st.class_thresholds,
      calibration_pattern=st.calibration_pattern,
      target_precision=st.target_precision, labeled_pattern=labeled,
      strict_quality=st.strict_quality)


def pseudo_data_config(task_config, logging_dir: Optional[str],
                       label_task: str):
  """`task.pseudo_data`, pointed at the teacher's labels when the task
  labels on first use (`task.self_training.teacher` set).

  Args:
    task_config: a self-training task config.
    logging_dir: the task's model_dir (holds PSEUDO_LABEL_SUBDIR).
    label_task: 'detection' or 'segmentation' (labelers.py).

  Returns:
    The pseudo data config to read; labels the raw images first when no
    finished labels from the same inputs are there.

  Raises:
    ValueError: a teacher but no model_dir to hold its labels.
    RuntimeError: the labeler failed or stalled (its log named).
  """
  params = task_config.pseudo_data
  if not task_config.self_training.teacher:
    return params
  if not logging_dir:
    raise ValueError('task.self_training.teacher needs a model_dir to hold '
                     'the pseudo labels.')
  pattern = label_on_first_use(labeling_options(
      task_config, label_task,
      os.path.join(logging_dir, PSEUDO_LABEL_SUBDIR)))
  return params.replace(input_path=pattern)


def worker_slice() -> Tuple[int, int]:
  """(num_workers, worker_index) of this process in its TF_CONFIG cluster:
  chief and workers, in that order; (1, 0) without a cluster.

  TF_CONFIG, not the `input_context` build_inputs gets: a single client that
  feeds several input pipelines (TPUStrategy on a pod) calls build_inputs
  once per pipeline in one process, and must label every slice in its first
  call rather than wait for pipelines that its own later calls would
  serve."""
  resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
  cluster = resolver.cluster_spec().as_dict()
  members = [(t, i) for t in ('chief', 'worker')
             for i in range(len(cluster.get(t, [])))]
  me = (resolver.task_type, resolver.task_id or 0)
  if not members or me not in members:
    return 1, 0
  return len(members), members.index(me)


def _tail(path: str, chars: int = 4000) -> str:
  with open(path, 'rb') as f:
    f.seek(max(0, os.path.getsize(path) - chars))
    return f.read().decode(errors='replace')


class _Progress:
  """Raises once `signature()` has not changed for `stall_seconds`."""

  def __init__(self, signature, stall_seconds: float):
    self.signature, self.stall_seconds = signature, stall_seconds
    self.last, self.since = signature(), time.monotonic()

  def stalled(self) -> bool:
    now = self.signature()
    if now != self.last:
      self.last, self.since = now, time.monotonic()
    return time.monotonic() - self.since > self.stall_seconds


def _is_local(path: str) -> bool:
  return '://' not in path


def _run_labeler(cmd, log_path: str, missing, stall_seconds: float,
                 poll_seconds: float):
  """Runs the labeler with its output in `log_path`. A child writes to a
  local file; for a model_dir on cloud storage (gs://..., which a process's
  stdout cannot be), that is a local temporary file, copied to `log_path`
  (through tf.io.gfile) when the labeler ends, however it ends."""
  env = dict(os.environ)
  env.pop('TF_CONFIG', None)  # The labeler is a plain single process.
  local = log_path
  if not _is_local(log_path):
    fd, local = tempfile.mkstemp(prefix='labeler-', suffix='.log')
    os.close(fd)
  try:
    with open(local, 'ab') as log:
      proc = subprocess.Popen(cmd, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    progress = _Progress(lambda: (os.path.getsize(local), len(missing())),
                         stall_seconds)
    try:
      while proc.poll() is None:
        if progress.stalled():
          raise RuntimeError(
              f'Pseudo-labeling stalled: no log line and no finished shard '
              f'for {stall_seconds:.0f} s; killed it. Log: {log_path}\n'
              f'{_tail(local)}')
        time.sleep(poll_seconds)
    finally:
      if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.returncode:
      raise RuntimeError(f'Pseudo-labeling failed (exit {proc.returncode}). '
                         f'Log: {log_path}\n{_tail(local)}')
  finally:
    if local != log_path:
      tf.io.gfile.copy(local, log_path, overwrite=True)
      os.remove(local)


def _changed_since(plan, options: labeling_options_lib.LabelingOptions
                   ) -> List[str]:
  """What differs between the finished shards' records (provenance.py) and
  these options: teacher, task, input files, shard count, thresholds, tool
  version (per-class thresholds from a JSON file; `auto` ones are not
  known before the labeler's calibration)."""
  fingerprint = provenance.teacher_fingerprint(
      teacher_lib.resolve_saved_model_dir(options.teacher))
  thresholds = labelers.thresholds_record(
      options.score_threshold,
      labeling_quality.read_thresholds(options.class_thresholds)
      if options.class_thresholds else {})
  changed = set()
  for j, files in enumerate(plan):
    recorded = sharded_writer.read_stats(sharded_writer.shard_path(
        options.output_prefix, j, len(plan))).get('made_from') or {}
    now = provenance.made_from(options.task, fingerprint, files, len(plan),
                               thresholds)
    changed.update(k for k in ('teacher', 'task', 'inputs', 'num_shards',
                               'thresholds', 'tool_version')
                   if recorded.get(k) != now[k])
  return sorted(changed)


def label_on_first_use(options: labeling_options_lib.LabelingOptions,
                       poll_seconds: float = 10.0,
                       stall_seconds: float = STALL_SECONDS,
                       wait_seconds: Optional[float] = None) -> str:
  """Labels raw images once, as `options` say; returns the output pattern.

  Args:
    options: the labeling options (this process's worker slice is set
      here, from TF_CONFIG).
    poll_seconds: how often the labeler's progress is looked at.
    stall_seconds: this worker's labeler is stopped after so long without
      progress.
    wait_seconds: how long to wait for other workers' shards with none
      arriving (default: stall_seconds).

  Returns:
    The pattern of the finished pseudo-label shards.

  Raises:
    RuntimeError: the labeler failed or stalled, or other workers' shards
      did not arrive.
  """
  wait_seconds = stall_seconds if wait_seconds is None else wait_seconds
  prefix = options.output_prefix
  output_dir = os.path.dirname(prefix)
  plan = shard_plan.plan_shards(shard_plan.input_files(options.input_pattern),
                                options.num_shards)
  num_shards = len(plan)
  all_shards = list(range(num_shards))

  def missing():
    return shard_plan.unfinished(prefix, all_shards, num_shards)

  if not missing():
    if options.class_thresholds == 'auto':
      # Its thresholds come from a calibration only the labeler runs; it
      # keeps the shards if they match in full, else refuses them.
      logging.info('class_thresholds=auto: running the labeler to calibrate '
                   'and check the finished pseudo labels in %s.', output_dir)
    else:
      changed = _changed_since(plan, options)
      if not changed:
        logging.info('Reusing the pseudo labels in %s.', output_dir)
        return sharded_writer.output_pattern(prefix, num_shards)
      # The labeler compares every record in full and stops with one line
      # naming what changed (and how to start over): the error this run
      # ends with, rather than training on stale labels.
      logging.warning('The finished pseudo labels in %s were made from '
                      'other %s; running the labeler, which will refuse '
                      'them.', output_dir, ', '.join(changed))
  num_workers, worker_index = worker_slice()
  options = dataclasses.replace(options, num_workers=num_workers,
                                worker_index=worker_index)
  tf.io.gfile.makedirs(output_dir)
  log_path = os.path.join(output_dir, f'labeler-worker{worker_index}.log')
  logging.info('Labeling %s with teacher %s into %s (worker %d of %d); '
               'log: %s', options.input_pattern, options.teacher, output_dir,
               worker_index, num_workers, log_path)
  cmd = ([sys.executable, '-m', 'official_ext.tools.pseudo_label'] +
         options.to_flags() + [f'--die_with_parent={os.getpid()}'])
  _run_labeler(cmd, log_path, missing, stall_seconds, poll_seconds)
  progress = _Progress(lambda: len(missing()), wait_seconds)
  while missing():
    if progress.stalled():
      lacking = missing()
      raise RuntimeError(
          f'Waited {wait_seconds:.0f} s for pseudo-label shards {lacking[:5]}'
          f' ({len(lacking)} missing) from workers '
          f'{sorted({j % num_workers for j in lacking})} of {num_workers}; '
          'none arrived. Are those workers running? Their logs are '
          f'{output_dir}/labeler-worker<I>.log.')
    logging.info('Waiting for %d pseudo-label shards from other workers.',
                 len(missing()))
    time.sleep(poll_seconds)
  return sharded_writer.output_pattern(prefix, num_shards)

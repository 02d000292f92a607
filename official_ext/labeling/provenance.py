"""What made a pseudo-label shard, so a rerun never reuses a stale one.

Every finished shard records, in its `.stats.json` under `made_from`: the
teacher SavedModel's fingerprint (TensorFlow's `fingerprint.pb`), the
shard's input files with their sizes, the shard count, the task, the
thresholds and the tool version. A rerun into the same output prefix
compares each finished shard of its own with what it would make now: the
same, the shard is kept (resume); anything else, the run stops with one line
naming what changed and how to start over (`--overwrite`, or a new prefix).
"""

import hashlib
import importlib.metadata
import os
from typing import List

import tensorflow as tf

from official_ext.data import sharded_writer


def tool_version() -> str:
  """The installed official_ext's version ('unknown' when not installed)."""
  try:
    return importlib.metadata.version('official_ext')
  except importlib.metadata.PackageNotFoundError:
    return 'unknown'


def teacher_fingerprint(saved_model_dir: str) -> str:
  """What identifies a teacher: another export, or a retrained one at the
  same path, has another fingerprint.

  Args:
    saved_model_dir: the SavedModel's folder.

  Returns:
    'fingerprint:...' from its fingerprint.pb (graph, checkpoint and
    signature hashes); for an export without one (TensorFlow < 2.12), a
    hash of saved_model.pb and the variables index.
  """
  try:
    fp = tf.saved_model.experimental.read_fingerprint(saved_model_dir)
    return (f'fingerprint:{fp.saved_model_checksum}:{fp.checkpoint_hash}:'
            f'{fp.signature_def_hash}')
  except (FileNotFoundError, tf.errors.NotFoundError, ValueError):
    digest = hashlib.sha256()
    for name in ('saved_model.pb', os.path.join('variables',
                                                'variables.index')):
      path = os.path.join(saved_model_dir, name)
      if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path, 'rb') as f:
          digest.update(f.read())
    return f'sha256:{digest.hexdigest()}'


def made_from(task: str, teacher: str, files: List[str], num_shards: int,
              thresholds: dict) -> dict:
  """The record of what makes a shard, kept in its stats.

  Args:
    task: 'detection' or 'segmentation'.
    teacher: the teacher's `teacher_fingerprint`.
    files: the shard's input files (their sizes are recorded too).
    num_shards: the run's shard count.
    thresholds: `labelers.thresholds_record` of the run.

  Returns:
    {'teacher', 'task', 'inputs', 'num_shards', 'thresholds',
    'tool_version'}: a finished shard whose record differs is stale.
  """
  return {'teacher': teacher, 'task': task,
          'inputs': [[f, tf.io.gfile.stat(f).length] for f in files],
          'num_shards': num_shards, 'thresholds': thresholds,
          'tool_version': tool_version()}


def remove_outputs(prefix: str, shards: List[int], num_shards: int,
                   everything: bool):
  """--overwrite: removes earlier outputs under `prefix`.

  Args:
    prefix: the output prefix.
    shards: this worker's shards (finished, stats and temporary files).
    num_shards: this run's shard count.
    everything: also shards of other counts and the report (worker 0).
  """
  paths = []
  for j in shards:
    paths += tf.io.gfile.glob(sharded_writer.shard_path(prefix, j,
                                                        num_shards) + '*')
  if everything:
    mine = f'-of-{num_shards:05d}.tfrecord'
    paths += [p for p in tf.io.gfile.glob(f'{prefix}-*-of-*.tfrecord*')
              if mine not in p]
    paths += tf.io.gfile.glob(f'{prefix}_report.json')
  for path in sorted(set(paths)):
    tf.io.gfile.remove(path)

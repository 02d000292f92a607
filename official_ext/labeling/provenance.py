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
from typing import Dict, List, Optional

import tensorflow as tf

from official_ext.data import sharded_writer


def tool_version() -> str:
  try:
    return importlib.metadata.version('official_ext')
  except importlib.metadata.PackageNotFoundError:
    return 'unknown'


def teacher_fingerprint(saved_model_dir: str) -> str:
  """The SavedModel's fingerprint (its graph and checkpoint hashes); for an
  export without fingerprint.pb (TensorFlow < 2.12), a hash of
  saved_model.pb and the variables index."""
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
  """The record of what makes a shard of `files`."""
  return {'teacher': teacher, 'task': task,
          'inputs': [[f, tf.io.gfile.stat(f).length] for f in files],
          'num_shards': num_shards, 'thresholds': thresholds,
          'tool_version': tool_version()}


def remove_outputs(prefix: str, shards: List[int], num_shards: int,
                   everything: bool):
  """--overwrite: this worker's shards (finished, stats, temporary), and
  with `everything` (worker 0) shards of other counts and the report."""
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

"""Files written whole or not at all, on any path TensorFlow opens (local,
gs://, ...), by any number of writers at once.

Each write goes to a temporary name of the writer's own (process id and a
random part) beside the target, then is renamed over it: a reader never
sees a half-written file, and K workers writing the same file at once leave
one whole version (the last renamed), never a mix.
"""

import json
import os
import uuid
from typing import Optional

import tensorflow as tf


def own_tmp_suffix() -> str:
  """A temporary-name suffix no other writer uses."""
  return f'.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}'


def write_bytes(path: str, data: bytes, tmp_suffix: Optional[str] = None):
  """Writes `data` to `path` atomically.

  Args:
    path: the file (its folder must exist).
    data: its whole content.
    tmp_suffix: the temporary name's suffix; default `own_tmp_suffix()`.
  """
  tmp = path + (tmp_suffix or own_tmp_suffix())
  with tf.io.gfile.GFile(tmp, 'wb') as f:
    f.write(data)
  tf.io.gfile.rename(tmp, path, overwrite=True)


def write_text(path: str, text: str, tmp_suffix: Optional[str] = None):
  """Writes `text` (UTF-8) to `path` atomically (`write_bytes`)."""
  write_bytes(path, text.encode('utf-8'), tmp_suffix)


def write_json(path: str, value, tmp_suffix: Optional[str] = None):
  """Writes `value` as indented JSON to `path` atomically."""
  write_text(path, json.dumps(value, indent=2), tmp_suffix)

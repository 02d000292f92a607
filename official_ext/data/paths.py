"""One check for every path a tool reads from a run file, recipe or flag.

Local folders, `gs://` buckets and other TensorFlow filesystems are reached
through `tf.io.gfile`, which raises a TensorFlow error (several lines, the
HTTP client's among them) when a bucket cannot be reached or read: no route,
no credentials, no permission. Here that becomes `UnreadablePath`, one line
naming the config field and the path, e.g.

  task.init_checkpoint: cannot read gs://bucket/ckpt (Could not resolve
  host: www.googleapis.com)

`UnreadablePath` is a FileNotFoundError, so every caller that turns a
missing file into one line does the same for an unreachable one.
"""

from typing import Callable, List, TypeVar

import tensorflow as tf

T = TypeVar('T')


class UnreadablePath(FileNotFoundError):
  """A path that exists or not, but cannot be read from here."""


def _reason(error: tf.errors.OpError) -> str:
  """The useful line of a TensorFlow filesystem error."""
  lines = [line.strip() for line in str(error.message).splitlines()
           if line.strip()]
  for line in lines:
    if 'error details:' in line:
      return line.split('error details:', 1)[1].strip()
  return lines[0] if lines else type(error).__name__


def guarded(field: str, path: str, read: Callable[[], T]) -> T:
  """read(), with a filesystem error turned into UnreadablePath."""
  try:
    return read()
  except tf.errors.OpError as e:
    raise UnreadablePath(f'{field}: cannot read {path} ({_reason(e)})'
                         ) from None


def exists(path: str, field: str) -> bool:
  """tf.io.gfile.exists, one line naming `field` when it cannot tell."""
  return guarded(field, path, lambda: tf.io.gfile.exists(path))


def glob(pattern: str, field: str) -> List[str]:
  """tf.io.gfile.glob, one line naming `field` when it cannot list."""
  return guarded(field, pattern, lambda: tf.io.gfile.glob(pattern))


def require(path: str, field: str, what: str = 'file') -> str:
  """`path`, which must exist; FileNotFoundError naming `field` if not."""
  if not exists(path, field):
    raise FileNotFoundError(f'{field}: no {what} {path}')
  return path


def require_checkpoint(path: str, field: str) -> str:
  """A checkpoint prefix or a folder holding one (what Model Garden's
  init_checkpoint and checkpoint_path accept); FileNotFoundError naming
  `field` if there is none."""
  if guarded(field, path, lambda: tf.io.gfile.isdir(path)):
    if guarded(field, path, lambda: tf.train.latest_checkpoint(path)):
      return path
    raise FileNotFoundError(f'{field}: no checkpoint in {path}')
  if exists(path + '.index', field):
    return path
  raise FileNotFoundError(f'{field}: no checkpoint {path} (no {path}.index)')

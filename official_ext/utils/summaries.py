"""Reads scalars back from Model Garden's TensorBoard event files."""

from typing import Dict, List, Tuple

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tb_logging
import tensorflow as tf

# The reader logs 'No path found after <events file>' at INFO for every
# finished events file: normal here, and noise in a tool's output.
tb_logging.get_logger().setLevel('WARNING')

# Keep every event (TensorBoard's reader samples long runs by default).
_EVERYTHING = {event_accumulator.TENSORS: 0, event_accumulator.SCALARS: 0}


def read_scalars(event_dir: str) -> Dict[str, List[Tuple[int, float]]]:
  """{tag: [(step, value), ...]} for every scalar in a directory's events
  (TensorBoard's event reader; image and other non-scalar summaries are left
  out). TF2 summaries store scalars as tensors; TF1 ones as simple values."""
  scalars = {}
  if not tf.io.gfile.isdir(event_dir):
    return scalars
  events = event_accumulator.EventAccumulator(event_dir, _EVERYTHING)
  events.Reload()
  tags = events.Tags()
  for tag in tags.get(event_accumulator.TENSORS, []):
    for e in events.Tensors(tag):
      value = tf.make_ndarray(e.tensor_proto)
      if value.size == 1 and value.dtype.kind in 'fiub':
        scalars.setdefault(tag, []).append((e.step, float(value)))
  for tag in tags.get(event_accumulator.SCALARS, []):
    scalars.setdefault(tag, []).extend(
        (e.step, float(e.value)) for e in events.Scalars(tag))
  return scalars


def last_value(event_dir: str, tag: str) -> float:
  values = read_scalars(event_dir).get(tag)
  if not values:
    raise KeyError(f'No {tag!r} scalar under {event_dir}.')
  return sorted(values)[-1][1]

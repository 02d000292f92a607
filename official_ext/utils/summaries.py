"""Reads scalars back from Model Garden's TensorBoard event files."""

import os
from typing import Dict, List, Tuple

import tensorflow as tf


def read_scalars(event_dir: str) -> Dict[str, List[Tuple[int, float]]]:
  """{tag: [(step, value), ...]} for every scalar in a directory's events
  (TensorFlow's summary iterator; image summaries are left out)."""
  scalars = {}
  if not tf.io.gfile.isdir(event_dir):
    return scalars
  for name in sorted(tf.io.gfile.listdir(event_dir)):
    if 'tfevents' not in name:
      continue
    for event in tf.compat.v1.train.summary_iterator(
        os.path.join(event_dir, name)):
      for v in event.summary.value:
        value = (tf.make_ndarray(v.tensor) if v.HasField('tensor')
                 else v.simple_value)
        if getattr(value, 'size', 1) != 1:
          continue
        scalars.setdefault(v.tag, []).append((event.step, float(value)))
  return scalars


def last_value(event_dir: str, tag: str) -> float:
  values = read_scalars(event_dir).get(tag)
  if not values:
    raise KeyError(f'No {tag!r} scalar under {event_dir}.')
  return sorted(values)[-1][1]

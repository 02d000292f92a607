"""The pseudo-labeling report: per-shard stats summed into
`{prefix}_report.json`, and the overlay images `{prefix}_overlays/NN.png`."""

import json
import os
from typing import List

import numpy as np
import tensorflow as tf

from official_ext.data import atomic_files
from official_ext.data import sharded_writer
from official_ext.data import tfexample
from official_ext.labeling import labelers


MAX_MISSING_LISTED = 100


def _sum_stats(total: dict, stats: dict):
  for k, v in stats.items():
    if k == 'made_from':  # Per shard (provenance.py); not summed.
      continue
    if k == 'thresholds':  # Kept, not summed; shards of a resumed run
      if v != total.get(k):  # with other thresholds are named.
        total.setdefault('thresholds_differ', []).append(v)
    elif isinstance(v, (int, float)):
      total[k] += v
    elif isinstance(v, list):
      total[k] = [a + b for a, b in zip(total[k], v)]
    elif isinstance(v, dict):
      for kk, vv in v.items():
        total[k][kk] = (vv if isinstance(vv, str) else
                        total[k].get(kk, 0) + vv)


def aggregate_report(config, num_shards: int) -> dict:
  """The report over the shards that are complete.

  Args:
    config: the labeling options (output_prefix, task, teacher, threshold).
    num_shards: the run's shard count.

  Returns:
    The shards' stats summed into one report: images labeled and skipped
    (with reasons), the labeler's figures (boxes per image, class counts,
    score histogram...), throughput, and the shards still missing (other
    workers').
  """
  total, done, missing = None, 0, []
  for j in range(num_shards):
    path = sharded_writer.shard_path(config.output_prefix, j, num_shards)
    if not sharded_writer.is_complete(path):
      missing.append(j)
      continue
    done += 1
    stats = sharded_writer.read_stats(path)
    if total is None:
      total = stats
    else:
      _sum_stats(total, stats)
  total = total or {}
  n = total.get('num_images', 0)
  report = {
      'task': config.task, 'teacher': config.teacher,
      'score_threshold': config.score_threshold,
      'thresholds': total.get('thresholds'),
      'shards_complete': done, 'num_shards': num_shards,
      # Other workers' shards not finished when this report was made.
      'shards_missing': missing[:MAX_MISSING_LISTED],
      'images_labeled': n,
      'images_skipped': sum(total.get('skipped', {}).values()),
      'skipped_reasons': total.get('skipped', {}),
      'skipped_inputs': total.get('skipped_inputs', {}),
  }
  report.update(labelers.LABELERS[config.task](
      config.score_threshold).report(total, n))
  if total.get('thresholds_differ'):
    report['thresholds_differ_between_shards'] = total['thresholds_differ']
  if total.get('teacher_seconds'):
    report['teacher_images_per_second'] = n / total['teacher_seconds']
  if total.get('seconds'):
    report['images_per_second'] = n / total['seconds']
  return report


def read_report(prefix: str) -> dict:
  """Reads a labeling run's report.

  Args:
    prefix: the shards' output prefix.

  Returns:
    PREFIX_report.json, as `write_report` left it.

  Raises:
    tf.errors.NotFoundError: there is none yet.
  """
  with tf.io.gfile.GFile(prefix + '_report.json') as f:
    return json.load(f)


def write_report(prefix: str, report: dict):
  """Writes PREFIX_report.json atomically, under a temporary name of this
  writer's own: K workers writing at once leave one whole report, never a
  mix.

  Args:
    prefix: the shards' output prefix.
    report: the report.
  """
  atomic_files.write_json(prefix + '_report.json', report)


def write_overlays(prefix: str, overlays: List[np.ndarray]):
  """Writes each overlay image as PREFIX_overlays/NN.png (atomically).

  Args:
    prefix: the shards' output prefix.
    overlays: [height, width, 3] uint8 images (the labeler's `draw`).
  """
  if not overlays:
    return
  out_dir = prefix + '_overlays'
  tf.io.gfile.makedirs(out_dir)
  for k, image in enumerate(overlays):
    atomic_files.write_bytes(os.path.join(out_dir, f'{k:02d}.png'),
                             tfexample.encode_png(image))

"""Resumable TFRecord shards: the one writer every tool of ours uses.

A shard `{prefix}-{j:05d}-of-{N:05d}.tfrecord` is written under a temporary
name; when it is complete its `.stats.json` is written beside it and the
temporary file is renamed to the final name. So a finished shard (final
name + stats) is never partial, a rerun skips it, and a killed run leaves
only temporary files. `Shard` is that life cycle; `write_shards` is the data
tools' loop over it (item k goes to shard k % N).
"""

import collections
from concurrent import futures
import json
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from absl import logging
import tensorflow as tf

from official_ext.data import atomic_files

# to_example(item) -> (tf.train.Example, None) or (None, reason skipped).
ToExample = Callable[[Any], Tuple[Optional[tf.train.Example], Optional[str]]]


def shard_path(prefix: str, index: int, num_shards: int) -> str:
  return f'{prefix}-{index:05d}-of-{num_shards:05d}.tfrecord'


def output_pattern(prefix: str, num_shards: int = 0) -> str:
  """The shards under `prefix`: of `num_shards` shards when given (what
  readers of one run's output use), of any count otherwise."""
  count = f'{num_shards:05d}' if num_shards else '*'
  return f'{prefix}-*-of-{count}.tfrecord'


def stats_path(shard: str) -> str:
  return shard + '.stats.json'


def is_complete(shard: str) -> bool:
  """True once `Shard.finish` renamed it (its stats are written first)."""
  return tf.io.gfile.exists(shard) and tf.io.gfile.exists(stats_path(shard))


def read_stats(shard: str) -> dict:
  with tf.io.gfile.GFile(stats_path(shard)) as f:
    return json.load(f)


# What made a shard: each finished shard may record, in its stats under
# `made_from`, the inputs that made it, so a rerun never keeps a shard of
# other inputs as if it were its own (labeling/provenance.py for pseudo
# labels; `write_shards(made_from=...)` for the data tools).

def what_changed(recorded: Optional[dict], now: dict) -> List[str]:
  """The fields of `now` that `recorded` does not match (all of them for a
  shard written before shards recorded what made them)."""
  if not recorded:
    return ['made_from (written by an earlier version that did not record '
            'it)']
  return [k for k in now if recorded.get(k) != now[k]]


class StaleOutputError(ValueError):
  """A finished shard under the output prefix was made from other inputs."""


def check_finished(prefix: str, shards: List[int], num_shards: int,
                   expected: Dict[int, dict]):
  """Raises StaleOutputError for the first finished shard of `shards` whose
  record differs from `expected[j]`."""
  for j in shards:
    path = shard_path(prefix, j, num_shards)
    if not is_complete(path):
      continue
    recorded = read_stats(path).get('made_from')
    changed = what_changed(recorded, expected[j])
    if changed:
      raise StaleOutputError(
          f'{path} was made from other inputs than this run\'s (changed: '
          f'{", ".join(changed)}); it would be reused as if it were new. '
          'Rerun with --overwrite to make it again, or give a new '
          '--output_prefix.')


def other_shard_counts(prefix: str, num_shards: int) -> List[str]:
  """Finished shards under `prefix` made with another shard count."""
  mine = f'-of-{num_shards:05d}.tfrecord'
  return [p for p in tf.io.gfile.glob(output_pattern(prefix))
          if not p.endswith(mine)]


def check_shard_count(prefix: str, num_shards: int):
  """Raises StaleOutputError when shards of another count are under
  `prefix`: readers of the prefix would mix them with this run's."""
  others = other_shard_counts(prefix, num_shards)
  if others:
    raise StaleOutputError(
        f'{others[0]} ({len(others)} files) under --output_prefix={prefix} '
        f'has another shard count than this run\'s {num_shards}; readers '
        'of the prefix would mix them. Rerun with --overwrite to remove '
        'them, or give a new --output_prefix.')


class Shard:
  """One shard being written: records to `final + tmp_suffix`, then
  `finish(stats)` writes the stats and renames it to `final`."""

  def __init__(self, final: str, tmp_suffix: str = '.tmp'):
    self.final = final
    self.tmp_suffix = tmp_suffix
    self.tmp = final + tmp_suffix
    self._writer = tf.io.TFRecordWriter(self.tmp)

  def write(self, record: bytes):
    self._writer.write(record)

  def finish(self, stats: dict):
    self._writer.close()
    atomic_files.write_text(stats_path(self.final), json.dumps(stats),
                            self.tmp_suffix)
    tf.io.gfile.rename(self.tmp, self.final, overwrite=True)

  def abandon(self):
    """Closes it unfinished: the temporary file stays, the final name is
    never written."""
    self._writer.close()


def _converted(items: Sequence[Any], to_example: ToExample,
               threads: int) -> Iterator[tuple]:
  chunk = max(1, threads) * 8
  with futures.ThreadPoolExecutor(max(1, threads)) as pool:
    for start in range(0, len(items), chunk):
      part = items[start:start + chunk]
      yield from zip(part, pool.map(to_example, part))


def write_shards(items: List[Any], to_example: ToExample, output_prefix: str,
                 num_shards: int, threads: int = 8,
                 show_progress: bool = True, unit: str = 'img',
                 resume: bool = True,
                 made_from: Optional[Callable[[List[Any]], dict]] = None
                 ) -> dict:
  """Writes `{output_prefix}-{j:05d}-of-{N:05d}.tfrecord`; returns a report.

  Items are converted by a thread pool in bounded chunks, in order. With
  `resume`, complete shards are kept and skipped; without, rewritten.
  `made_from(shard's items)`: what makes a shard, kept in its stats; a
  resumed run whose finished shards record other inputs, or that finds
  shards of another count under the prefix, raises StaleOutputError before
  writing anything.
  """
  if not 1 <= num_shards <= len(items):
    raise ValueError(f'--num_shards={num_shards}: must be in [1, '
                     f'{len(items)}] for {len(items)} inputs.')
  out_dir = os.path.dirname(output_prefix)
  if out_dir:
    tf.io.gfile.makedirs(out_dir)
  expected = {}
  if made_from is not None:
    expected = {j: made_from(items[j::num_shards])
                for j in range(num_shards)}
    if resume:
      check_shard_count(output_prefix, num_shards)
      check_finished(output_prefix, list(range(num_shards)), num_shards,
                     expected)
  progress = None
  if show_progress:
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    progress = tqdm(total=len(items), unit=unit)
  written, skipped = 0, collections.Counter()
  for j in range(num_shards):
    final = shard_path(output_prefix, j, num_shards)
    mine = items[j::num_shards]
    if resume and is_complete(final):
      done = read_stats(final)
      if progress is not None:
        progress.update(len(mine))
    else:
      done = {'written': 0, 'skipped': collections.Counter()}
      if j in expected:
        done['made_from'] = expected[j]
      shard = Shard(final)
      for item, (example, reason) in _converted(mine, to_example, threads):
        if example is None:
          done['skipped'][reason] += 1
          logging.warning('Skipping %s: %s.', item, reason)
        else:
          shard.write(example.SerializeToString(deterministic=True))
          done['written'] += 1
        if progress is not None:
          progress.update(1)
      shard.finish(done)
    written += done['written']
    skipped.update(done['skipped'])
  if progress is not None:
    progress.close()
  return {'inputs_found': len(items), 'examples_written': written,
          'inputs_skipped': sum(skipped.values()),
          'skipped_reasons': dict(skipped), 'num_shards': num_shards,
          'output_pattern': f'{output_prefix}-*-of-{num_shards:05d}.tfrecord'}

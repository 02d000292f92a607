"""Items -> sharded TFRecords, resumable: the data tools' shared writer.

Shard j holds items j, j+N, j+2N, ... Each shard is written to a temporary
name with a `.stats.json` beside it and renamed when complete, so a rerun
skips finished shards and a partial shard is never visible under its final
name. Items are converted by a thread pool in bounded chunks, in order.
"""

import collections
from concurrent import futures
import json
import os
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

from absl import logging
import tensorflow as tf

# to_example(item) -> (tf.train.Example, None) or (None, reason skipped).
ToExample = Callable[[str], Tuple[Optional[tf.train.Example], Optional[str]]]


def shard_path(prefix: str, index: int, num_shards: int) -> str:
  return f'{prefix}-{index:05d}-of-{num_shards:05d}.tfrecord'


def _converted(items: Sequence[str], to_example: ToExample,
               threads: int) -> Iterator[tuple]:
  chunk = max(1, threads) * 8
  with futures.ThreadPoolExecutor(max(1, threads)) as pool:
    for start in range(0, len(items), chunk):
      part = items[start:start + chunk]
      yield from zip(part, pool.map(to_example, part))


def write_shards(items: List[str], to_example: ToExample, output_prefix: str,
                 num_shards: int, threads: int = 8,
                 show_progress: bool = True, unit: str = 'img') -> dict:
  """Writes `{output_prefix}-{j:05d}-of-{N:05d}.tfrecord`; returns a report."""
  if not 1 <= num_shards <= len(items):
    raise ValueError(f'--num_shards={num_shards}: must be in [1, '
                     f'{len(items)}] for {len(items)} inputs.')
  out_dir = os.path.dirname(output_prefix)
  if out_dir:
    tf.io.gfile.makedirs(out_dir)
  progress = None
  if show_progress:
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    progress = tqdm(total=len(items), unit=unit)
  written, skipped = 0, collections.Counter()
  for j in range(num_shards):
    final = shard_path(output_prefix, j, num_shards)
    mine = items[j::num_shards]
    stats_path = final + '.stats.json'
    if tf.io.gfile.exists(final) and tf.io.gfile.exists(stats_path):
      with tf.io.gfile.GFile(stats_path) as f:
        done = json.load(f)
      if progress is not None:
        progress.update(len(mine))
    else:
      done = {'written': 0, 'skipped': collections.Counter()}
      with tf.io.TFRecordWriter(final + '.tmp') as writer:
        for item, (example, reason) in _converted(mine, to_example, threads):
          if example is None:
            done['skipped'][reason] += 1
            logging.warning('Skipping %s: %s.', item, reason)
          else:
            writer.write(example.SerializeToString(deterministic=True))
            done['written'] += 1
          if progress is not None:
            progress.update(1)
      with tf.io.gfile.GFile(stats_path + '.tmp', 'w') as f:
        f.write(json.dumps(done))
      tf.io.gfile.rename(stats_path + '.tmp', stats_path, overwrite=True)
      tf.io.gfile.rename(final + '.tmp', final, overwrite=True)
    written += done['written']
    skipped.update(done['skipped'])
  if progress is not None:
    progress.close()
  return {'inputs_found': len(items), 'examples_written': written,
          'inputs_skipped': sum(skipped.values()),
          'skipped_reasons': dict(skipped), 'num_shards': num_shards,
          'output_pattern': f'{output_prefix}-*-of-{num_shards:05d}.tfrecord'}

"""Splits TFRecord files into more (or fewer) shards, records unchanged.

  python -m official_ext.tools.reshard_tfrecords \\
      --input_pattern='/data/big-*.tfrecord' --output_prefix=/data/split/part \\
      --num_shards=64

Pseudo-labeling gives each output shard whole input files, so 2 big files
make at most 2 shards for 8 machines; this writes
`{output_prefix}-{j:05d}-of-{N:05d}.tfrecord` with record k (in file, then
record order) in shard k % N, to label with --num_shards up to N. Shards
are finished together (temporary names, renamed at the end); a rerun after
they are complete does nothing.
"""

import json
import os

from absl import app
from absl import flags
import tensorflow as tf

from official_ext.data import record_files
from official_ext.data import sharded_writer

_INPUT = flags.DEFINE_string('input_pattern', None,
                             'TFRecords (comma-separated globs).')
_OUTPUT = flags.DEFINE_string('output_prefix', None, 'e.g. OUT/part')
_NUM_SHARDS = flags.DEFINE_integer('num_shards', None, 'Output shards.')


def reshard(input_pattern: str, output_prefix: str, num_shards: int) -> dict:
  if num_shards < 1:
    raise ValueError(f'--num_shards={num_shards}: must be >= 1.')
  files = record_files.match(input_pattern, '--input_pattern')
  finals = [sharded_writer.shard_path(output_prefix, j, num_shards)
            for j in range(num_shards)]
  if all(sharded_writer.is_complete(f) for f in finals):
    counts = [sharded_writer.read_stats(f)['records'] for f in finals]
  else:
    if os.path.dirname(output_prefix):
      tf.io.gfile.makedirs(os.path.dirname(output_prefix))
    shards = [sharded_writer.Shard(f) for f in finals]
    counts = [0] * num_shards
    try:
      for k, record in enumerate(tf.data.TFRecordDataset(files)):
        shards[k % num_shards].write(record.numpy())
        counts[k % num_shards] += 1
    except BaseException:
      for shard in shards:
        shard.abandon()
      raise
    for shard, count in zip(shards, counts):
      shard.finish({'records': count, 'input_pattern': input_pattern})
  return {'input_files': len(files), 'records': sum(counts),
          'num_shards': num_shards,
          'output_pattern': sharded_writer.output_pattern(output_prefix)}


def main(_):
  try:
    report = reshard(_INPUT.value, _OUTPUT.value, _NUM_SHARDS.value)
  except (ValueError, FileNotFoundError) as e:
    raise SystemExit(f'reshard_tfrecords: error: {e}') from None
  print(json.dumps(report, indent=2))


def run():
  flags.mark_flags_as_required(['input_pattern', 'output_prefix',
                                'num_shards'])
  app.run(main)


if __name__ == '__main__':
  run()

"""Which input files make which output shard, and which worker labels it.

Output shard j holds input files j, j+N, j+2N, ... (sorted), so each input
file is read once overall; worker I of K labels the shards with j % K == I.
The unit of work is a shard: finished shards are skipped on a rerun.
"""

from typing import List

from official_ext.data import record_files
from official_ext.data import sharded_writer


def input_files(pattern: str) -> List[str]:
  return record_files.match(pattern, '--input_pattern')


def plan_shards(files: List[str], num_shards: int) -> List[List[str]]:
  """Output shard j -> its input files; `num_shards` 0: one per file."""
  num_shards = num_shards or len(files)
  if num_shards > len(files):
    raise ValueError(
        f'--num_shards={num_shards} but only {len(files)} input files: each '
        'output shard takes whole input files. Split the input into more '
        'files first: python -m official_ext.tools.reshard_tfrecords '
        f"--input_pattern=... --output_prefix=... --num_shards={num_shards}")
  return [files[j::num_shards] for j in range(num_shards)]


def worker_shards(num_shards: int, num_workers: int,
                  worker_index: int) -> List[int]:
  return [j for j in range(num_shards) if j % num_workers == worker_index]


def unfinished(prefix: str, shards: List[int], num_shards: int) -> List[int]:
  """The shards of `shards` not yet complete under `prefix`."""
  return [j for j in shards if not sharded_writer.is_complete(
      sharded_writer.shard_path(prefix, j, num_shards))]

"""Which input files make which output shard, and which worker labels it.

Output shard j holds input files j, j+N, j+2N, ... (sorted), so each input
file is read once overall; worker I of K labels the shards with j % K == I.
The unit of work is a shard: finished shards are skipped on a rerun.
"""

from typing import List

from official_ext.data import record_files
from official_ext.data import sharded_writer


def input_files(pattern: str) -> List[str]:
  """The record files of the unlabeled input.

  Args:
    pattern: comma-separated globs (--input_pattern).

  Returns:
    The matching record files, sorted (no `.stats.json` sidecars).

  Raises:
    FileNotFoundError: nothing matches, naming --input_pattern.
  """
  return record_files.match(pattern, '--input_pattern')


def plan_shards(files: List[str], num_shards: int) -> List[List[str]]:
  """Which input files make which output shard.

  Args:
    files: the input files, in order.
    num_shards: output shards; 0: one per input file.

  Returns:
    Output shard j -> its input files: whole files j, j + N, j + 2N, ...
    of N shards.

  Raises:
    ValueError: more shards than files.
  """
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
  """The shards one worker labels.

  Args:
    num_shards: the run's output shards.
    num_workers: how many workers label them.
    worker_index: this worker's index.

  Returns:
    Every num_workers-th shard from worker_index.
  """
  return [j for j in range(num_shards) if j % num_workers == worker_index]


def unfinished(prefix: str, shards: List[int], num_shards: int) -> List[int]:
  """The shards not yet complete.

  Args:
    prefix: the shards' output prefix.
    shards: the shards to look at.
    num_shards: the run's output shards (in the file names).

  Returns:
    Those of `shards` not yet complete under `prefix`.
  """
  return [j for j in shards if not sharded_writer.is_complete(
      sharded_writer.shard_path(prefix, j, num_shards))]

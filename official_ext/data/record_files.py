"""Which files an input pattern means: one rule for every reader of records.

The tools write sidecars beside their shards (`X.tfrecord.stats.json`,
`PREFIX_report.json`, `PREFIX_overlays/`, unfinished `X.tfrecord.tmp-*`),
and the documented patterns (`unlabeled-*`, `pseudo-*`, `pseudo*`) match
them too. Every reader (the tasks' input, pseudo-labeling, the config check,
labeling on first use, the benchmarks) selects its files here, so a sidecar
is never read as data and never counted as a bad input.
"""

import os
from typing import List, Sequence, Union

import tensorflow as tf

from official.core import input_reader
from official_ext.data import paths

# Files the tools write beside record files, by name.
SIDECAR_SUFFIXES = ('.json', '.png', '.yaml', '.txt', '.log')
# Shards still being written (`SHARD.tmp-W`, `SHARD.tmp`).
TEMPORARY_MARK = '.tmp'


def is_record_file(path: str) -> bool:
  """False for sidecars, unfinished shards and directories."""
  name = os.path.basename(path)
  return not (name.endswith(SIDECAR_SUFFIXES) or TEMPORARY_MARK in name or
              tf.io.gfile.isdir(path))


def match(input_path: Union[str, Sequence[str]], field: str = 'input_path'
          ) -> List[str]:
  """The record files of comma-separated globs, sorted, each once.

  Raises FileNotFoundError naming `field` and the pattern when a pattern
  keeps no record file (matches nothing, or only sidecars).
  """
  patterns = [input_path] if isinstance(input_path, str) else list(input_path)
  patterns = [p.strip() for x in patterns for p in x.split(',') if p.strip()]
  if not patterns:
    raise FileNotFoundError(f'{field} is empty: give TFRecord files or globs, '
                            'e.g. DATA/unlabeled-*.tfrecord.')
  files = set()
  for pattern in patterns:
    try:  # Model Garden's globbing.
      matched = paths.guarded(field, pattern,
                              lambda: input_reader.match_files(pattern))  # pylint: disable=cell-var-from-loop
    except ValueError:
      matched = []
    matched = [f for f in matched if paths.exists(f, field)]
    kept = [f for f in matched if is_record_file(f)]
    if not matched:
      raise FileNotFoundError(f'{field}={pattern!r} matches no file; check '
                              'the path and glob.')
    if not kept:
      raise FileNotFoundError(
          f'{field}={pattern!r} matches no record file, only files the tools '
          f'write beside records ({sorted(os.path.basename(f) for f in matched)[:3]}).')
    files.update(kept)
  return sorted(files)

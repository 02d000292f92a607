"""Builds a Model Garden InputReader with our subset filter in its read path."""

import os
from typing import Callable, Optional

import tensorflow as tf

from official.common import dataset_fn as mg_dataset_fn
from official.vision.dataloaders import input_reader as mg_input_reader
from official.vision.dataloaders import input_reader_factory

from official_ext.dataloaders import subset


_SIDECAR_SUFFIXES = ('.json', '.png', '.yaml', '.txt')


def _is_record_file(path: str) -> bool:
  name = os.path.basename(path)
  return not (name.endswith(_SIDECAR_SUFFIXES) or '.tmp' in name or
              tf.io.gfile.isdir(path))


def record_files(input_path: str) -> str:
  """`input_path` with each glob expanded to its record files only.

  `OUT/pseudo*` also matches what pseudo-labeling writes beside the shards
  (`.stats.json`, `_report.json`, `_overlays/`, unfinished `.tmp-*`);
  reading those as TFRecords would fail mid-training. A pattern that keeps
  no file is passed on unchanged, so Model Garden reports it.
  """
  parts = []
  for pattern in input_path.split(','):
    pattern = pattern.strip()
    if not pattern:
      continue
    matched = sorted(tf.io.gfile.glob(pattern))
    kept = [f for f in matched if _is_record_file(f)]
    parts.extend(kept if kept else [pattern])
  return ','.join(parts)


def read(params, decoder_fn: Callable, parser_fn: Callable,
         input_context: Optional[tf.distribute.InputContext] = None
         ) -> tf.data.Dataset:
  """Same reader Model Garden's vision tasks use, subset applied on read."""
  if params.file_type == 'tfrecord' and isinstance(params.input_path, str):
    params = params.replace(input_path=record_files(params.input_path))
  dataset_fn = subset.wrap_dataset_fn(
      mg_dataset_fn.pick_dataset_fn(params.file_type), params)
  reader = input_reader_factory.input_reader_generator(
      params,
      dataset_fn=dataset_fn,
      decoder_fn=decoder_fn,
      combine_fn=mg_input_reader.create_combine_fn(params),
      parser_fn=parser_fn)
  return reader.read(input_context=input_context)

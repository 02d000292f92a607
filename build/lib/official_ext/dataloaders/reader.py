"""Builds a Model Garden InputReader with our subset filter in its read path."""

from typing import Callable, Optional

import tensorflow as tf

from official.common import dataset_fn as mg_dataset_fn
from official.vision.dataloaders import input_reader as mg_input_reader
from official.vision.dataloaders import input_reader_factory

from official_ext.data import record_files
from official_ext.dataloaders import subset


def read(params, decoder_fn: Callable, parser_fn: Callable,
         input_context: Optional[tf.distribute.InputContext] = None
         ) -> tf.data.Dataset:
  """Same reader Model Garden's vision tasks use, subset applied on read."""
  if params.file_type == 'tfrecord' and params.input_path:
    params = params.replace(input_path=','.join(
        record_files.match(params.input_path)))
  dataset_fn = subset.wrap_dataset_fn(
      mg_dataset_fn.pick_dataset_fn(params.file_type), params)
  reader = input_reader_factory.input_reader_generator(
      params,
      dataset_fn=dataset_fn,
      decoder_fn=decoder_fn,
      combine_fn=mg_input_reader.create_combine_fn(params),
      parser_fn=parser_fn)
  return reader.read(input_context=input_context)

"""What our tasks add to Model Garden's input reading, and nothing else.

Our tasks call Model Garden's own `build_inputs` (its decoder, parser and
arguments, including any it adds later). Around that call, `extended`
hands Model Garden's reader factory three additions:
  * the input path narrowed to record files (`record_files.match`: no
    `.stats.json` sidecar is read as a record);
  * the deterministic subset filter on read (`subset.wrap_dataset_fn`);
  * optionally, a wrapper of the parse function (`wrap_parse`), for what a
    task needs beside Model Garden's labels.
"""

from typing import Callable, Optional

from official_ext import patches
from official_ext.data import record_files
from official_ext.dataloaders import subset

ParseWrapper = Callable[[Callable], Callable]


def check_tfds(params, where: str = 'the data config'):
  """ValueError when a TFDS data config asks for a subset (TFDS data is
  read by Model Garden's TFDS reader, past our record-file subset filter)."""
  subset_config = params.get('subset') if hasattr(params, 'get') else None
  if params.tfds_name and subset_config is not None and subset_config.enabled:
    raise ValueError(
        f'{where}: subset (num_examples={subset_config.num_examples}, '
        f'fraction={subset_config.fraction}) cannot apply to '
        f'tfds_name={params.tfds_name!r}; convert the data to TFRecords, or '
        'use TFDS split slicing in tfds_split (e.g. "train[:20%]").')


def with_record_files(params):
  """The data config with its input path narrowed to record files."""
  if params.file_type != 'tfrecord' or not params.input_path:
    return params
  return params.replace(input_path=','.join(
      record_files.match(params.input_path)))


def extended(wrap_parse: Optional[ParseWrapper] = None):
  """A context in which Model Garden's `build_inputs` reads with our subset
  filter and parse wrapper: its reader factory, swapped for the call
  (official_ext/patches.py, the one place Model Garden's input is
  patched)."""

  def wrap(original):
    def generator(params, **kwargs):
      kwargs['dataset_fn'] = subset.wrap_dataset_fn(kwargs['dataset_fn'],
                                                    params)
      if wrap_parse is not None:
        kwargs['parser_fn'] = wrap_parse(kwargs['parser_fn'])
      return original(params, **kwargs)
    return generator

  return patches.input_reader(wrap)

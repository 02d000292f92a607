"""The input building our tasks share: Model Garden's own `build_inputs`
with the data config's preset applied and our reader additions around it
(`dataloaders/reader.py`: record files, subsets, a parse wrapper)."""

from typing import Callable, Optional

import tensorflow as tf

from official_ext.dataloaders import reader


class ExtendedInputs:
  """Mixin, before the Model Garden task class in the MRO. A task supplies
  `resolve_data_config` (presets) and may supply `parse_wrapper`."""

  def resolve_data_config(self, params):
    return params

  def parse_wrapper(self, params) -> Optional[Callable]:
    """Wraps Model Garden's parse function (None: used as it is)."""
    del params
    return None

  def build_inputs(self, params,
                   input_context: Optional[tf.distribute.InputContext] = None):
    # TFDS data gets the preset and the parse wrapper too; a subset, which
    # ranks record ids as files are read, cannot apply to it (an error, not
    # a silent full set).
    reader.check_tfds(params)
    if not params.tfds_name:
      params = reader.with_record_files(params)
    params = self.resolve_data_config(params)
    with reader.extended(self.parse_wrapper(params)):
      return super().build_inputs(params, input_context)

"""The one input path of our tasks: Model Garden's own `build_inputs`, with
the data config's preset applied, `task.seed` (tasks/seeding.py) and our
reader additions around it (`dataloaders/reader.py`: record files, subsets,
a parse wrapper). Model Garden's reader factory is swapped for the call
(official_ext/patches.py, the one place Model Garden's input is patched)."""

from typing import Callable, Optional

import tensorflow as tf

from official_ext.dataloaders import reader
from official_ext.tasks import seeding


class ExtendedInputs:
  """Mixin, before the Model Garden task class in the MRO. A task supplies
  `resolve_data_config` (presets) and may supply `parse_wrapper`; every
  dataset it builds goes through `read_inputs`."""

  def resolve_data_config(self, params):
    """The data config with what the task adds to it (its preset) applied.

    Args:
      params: a data config of the task.

    Returns:
      The data config Model Garden's parser is built from.
    """
    return params

  def parse_wrapper(self, params) -> Optional[Callable]:
    """The task's wrapper of Model Garden's parse function.

    Args:
      params: the resolved data config.

    Returns:
      parse -> parse (e.g. photometric augmentation after it), or None to
      use Model Garden's as it is.
    """
    del params
    return None

  def build_inputs(self, params,
                   input_context: Optional[tf.distribute.InputContext] = None):
    """Model Garden's `build_inputs` through `read_inputs`, the data config
    resolved and the task's parse wrapper applied.

    Args:
      params: a data config of the task.
      input_context: the distribution's input context.

    Returns:
      The dataset.
    """
    params = self.resolve_data_config(params)
    return self.read_inputs(params, self.parse_wrapper(params), input_context)

  def read_inputs(self, params, parse_wrapper: Optional[Callable],
                  input_context: Optional[tf.distribute.InputContext] = None
                  ) -> tf.data.Dataset:
    """Model Garden's `build_inputs` of a resolved data config.

    Args:
      params: the data config, already through `resolve_data_config`.
      parse_wrapper: wraps Model Garden's parse function (None: as it is).
      input_context: the distribution's input context, if any.

    Returns:
      The dataset, seeded and read in order when `task.seed` is set.

    Raises:
      ValueError: a subset asked of TFDS data (`reader.check_tfds`).
    """
    # TFDS data gets the preset and the parse wrapper too; a subset, which
    # ranks record ids as files are read, cannot apply to it (an error, not
    # a silent full set).
    reader.check_tfds(params)
    seed = self.task_config.seed
    params = seeding.seeded_data_config(params, seed)
    if not params.tfds_name:
      params = reader.with_record_files(params)
    with reader.extended(parse_wrapper):
      dataset = super().build_inputs(params, input_context)
    if seed is None or not params.is_training:
      return dataset
    return seeding.one_thread(dataset)

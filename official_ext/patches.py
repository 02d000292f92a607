"""Every place official_ext patches Model Garden or uses a private API.

Two Model Garden functions swapped at run time, each for the length of one
call and under a lock (a second thread waits instead of seeing the other's
swap), each restored whatever happens, and one private tf_keras scope:

* `input_reader` -- `official.vision.dataloaders.input_reader_factory.
  input_reader_generator`, which Model Garden's RetinaNet and segmentation
  tasks call inside `build_inputs` with the `dataset_fn` and `parser_fn`
  they chose. Why: our tasks reuse Model Garden's whole `build_inputs`
  (decoder, parser, arguments, including any it adds later) and only wrap
  the dataset (the deterministic subset) and the parse function (the online
  student's two views); Model Garden has no hook for either. Fails when
  Model Garden changes: tests/patches_test.py
  (test_model_garden_tasks_read_through_the_reader_factory: its tasks must
  still call the factory with dataset_fn and parser_fn).
* `export_save_options` -- `official.core.export_base.export`, which
  Model Garden's `export_inference_graph` calls with the SaveOptions it
  built. Why: to switch off SaveOptions.experimental_custom_gradients
  (serving never takes a gradient; tracing one per swish op is a quarter
  of a SpineNet export) while keeping the options Model Garden set.
  Fails when Model Garden changes: tests/patches_test.py
  (test_model_garden_exports_through_export_base_with_save_options).
* `keras_traces` -- not a swap: tf_keras's private `keras_option_scope`
  (tf_keras.src.saving.legacy.saved_model.utils), the scope its own
  `model.save(save_traces=...)` sets; tf_keras has no public switch for
  tf.saved_model.save. Why: a SavedModel that holds a Keras model (Model
  Garden's export modules do) gets a traced call function per layer, which
  serving never calls; without them exports and loads are faster, with the
  same outputs (tools/benchmark.py --only=export). Fails when tf_keras
  changes: tests/keras_traces_test.py (the traces are there or not).
"""

import contextlib
import functools
import threading
from typing import Callable

from official.core import export_base
from official.vision.dataloaders import input_reader_factory
from tf_keras.src.saving.legacy.saved_model import utils as keras_saving_utils

_LOCK = threading.RLock()


@contextlib.contextmanager
def input_reader(wrap: Callable[[Callable], Callable]):
  """Within the context, Model Garden's reader factory is
  `wrap(the original factory)`.

  Args:
    wrap: takes the factory `(params, **kwargs) -> InputReader` and returns
      one with the same signature.

  Yields:
    Nothing; the original factory is back on exit.
  """
  with _LOCK:
    original = input_reader_factory.input_reader_generator
    input_reader_factory.input_reader_generator = wrap(original)
    try:
      yield
    finally:
      input_reader_factory.input_reader_generator = original


@contextlib.contextmanager
def export_save_options(transform: Callable):
  """Within the context, Model Garden's `export_base.export` saves with
  `transform(save_options)` (a copy it may change; Model Garden's, or
  default SaveOptions when it passed none).

  Args:
    transform: takes and returns a tf.saved_model.SaveOptions.

  Yields:
    Nothing; the original export is back on exit.
  """
  with _LOCK:
    original = export_base.export

    @functools.wraps(original)
    def export(*args, save_options=None, **kwargs):
      return original(*args, save_options=transform(save_options), **kwargs)

    export_base.export = export
    try:
      yield
    finally:
      export_base.export = original


def keras_traces(save: bool):
  """A context in which tf.saved_model.save traces Keras layers' calls
  (`save`) or not.

  Args:
    save: whether to keep tf_keras's per-layer traces.

  Returns:
    The context manager (a no-op when `save`).
  """
  if save:
    return contextlib.nullcontext()
  return keras_saving_utils.keras_option_scope(
      save_traces=False, in_tf_saved_model_scope=False)

"""Whether tf.saved_model.save traces every Keras layer's call.

tf_keras adds a traced call function per layer to any SavedModel that holds
a Keras model (Model Garden's export modules do). Serving needs only the
signatures: without the traces the export is ~1.6x faster and loading ~3x
faster, with the same outputs (tools/benchmark.py --only=export).
"""

import contextlib

# tf_keras has no public switch for tf.saved_model.save; this is the scope
# its own model.save(save_traces=...) sets.
from tf_keras.src.saving.legacy.saved_model import utils as keras_saving_utils


def keras_traces(save: bool):
  """Context in which tf.saved_model.save traces Keras layers, or not."""
  if save:
    return contextlib.nullcontext()
  return keras_saving_utils.keras_option_scope(
      save_traces=False, in_tf_saved_model_scope=False)

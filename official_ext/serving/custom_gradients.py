"""Whether Model Garden's exporter saves the gradient of every
custom-gradient op in the serving graph.

tf.saved_model.save (SaveOptions.experimental_custom_gradients, on by
default) traces a gradient function for each op that carries a custom
gradient and stores those it can, so that a loaded SavedModel can be
differentiated. tf.nn.silu (swish, the SpineNet activation) is such an op,
once per layer: for the SpineNet-Mobile digits detector that tracing is over
a quarter of the export, and none of the traced functions is stored. Serving and pseudo-labeling never take a gradient through the
teacher (tools/benchmark.py --only=export measures the difference).

Model Garden's export_inference_graph builds its SaveOptions itself and
passes them to export_base.export; the switch changes that one call's
options for the duration of an export (official_ext/patches.py), keeping
any Model Garden set (e.g. the TPU function alias).
"""

import contextlib
import copy

import tensorflow as tf

from official_ext import patches


def without_custom_gradients(save_options):
  """A copy of `save_options` (None: defaults) that saves no custom
  gradients."""
  options = (copy.copy(save_options) if save_options is not None
             else tf.saved_model.SaveOptions())
  options.experimental_custom_gradients = False
  return options


def custom_gradients(save: bool):
  """Context in which Model Garden's export saves custom gradients, or
  not."""
  if save:
    return contextlib.nullcontext()
  return patches.export_save_options(without_custom_gradients)

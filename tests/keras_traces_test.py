"""official_ext.patches.keras_traces: the Keras layer-trace switch the
exporter uses, a private tf_keras scope (this test fails when tf_keras
changes it; the exporter's default is checked in train_eval_export_test.py)."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from conftest import layer_traces
from official_ext.patches import keras_traces


class _Serving(tf.Module):
  """A Keras model under a tf.Module with a signature, as Model Garden's
  export module holds one."""

  def __init__(self):
    super().__init__()
    self.model = tf_keras.Sequential([tf_keras.layers.Dense(3),
                                      tf_keras.layers.Dense(2)])
    self.model.build([None, 4])

  @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
  def serve(self, x):
    return {'out': self.model(x)}


@pytest.mark.parametrize('save', [False, True])
def test_keras_traces_switch(tmp_path, save):
  module = _Serving()
  path = str(tmp_path / 'sm')
  with keras_traces(save):
    tf.saved_model.save(module, path,
                        signatures={'serving_default': module.serve})
  assert bool(layer_traces(path)) == save
  x = tf.constant(np.random.RandomState(0).rand(5, 4), tf.float32)
  loaded = tf.saved_model.load(path).signatures['serving_default']
  np.testing.assert_array_equal(loaded(x=x)['out'].numpy(),
                                module.serve(x)['out'].numpy())


def test_scope_is_restored(tmp_path):
  """Outside the scope tf_keras traces again (Model Garden's default)."""
  module = _Serving()
  with keras_traces(False):
    pass
  path = str(tmp_path / 'after')
  tf.saved_model.save(module, path)
  assert layer_traces(path)

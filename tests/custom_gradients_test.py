"""official_ext.serving.custom_gradients: the switch the exporter uses to
leave out the gradient functions of custom-gradient ops (its default is
checked through the export tool below)."""


import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.core import export_base
from official_ext.serving.custom_gradients import custom_gradients

from conftest import child_failure
from conftest import python
from conftest import registered_gradients


class _Module(export_base.ExportModule):
  """Model Garden's export module around a Keras layer with swish (a
  custom-gradient op), one image_tensor-like signature."""

  def __init__(self):
    model = tf_keras.Sequential([tf_keras.layers.Dense(3,
                                                       activation=tf.nn.silu),
                                 tf_keras.layers.Dense(2)])
    model.build([None, 4])
    super().__init__(params=None, model=model)

  @tf.function
  def serve(self, inputs):
    return {'out': self.inference_step(inputs)}

  def get_inference_signatures(self, function_keys):
    spec = tf.TensorSpec([None, 4], tf.float32)
    return {key: self.serve.get_concrete_function(spec)
            for key in function_keys.values()}


def _export(path, save_options=None):
  module = _Module()
  export_base.export(module, ['x'], str(path), timestamped=False,
                     save_options=save_options)
  return module


@pytest.mark.parametrize('save', [False, True])
def test_custom_gradients_switch(tmp_path, save):
  with custom_gradients(save):
    module = _export(tmp_path / 'sm')
  assert bool(registered_gradients(str(tmp_path / 'sm'))) == save
  x = tf.constant(np.random.RandomState(0).rand(5, 4), tf.float32)
  loaded = tf.saved_model.load(str(tmp_path / 'sm'))
  np.testing.assert_array_equal(
      loaded.signatures['serving_default'](inputs=x)['out'].numpy(),
      module.serve(x)['out'].numpy())


def test_given_options_are_kept_and_not_changed(tmp_path):
  """Model Garden's own options (here: a function alias) still reach
  tf.saved_model.save; the caller's object is left as it was."""
  module = _Module()
  options = tf.saved_model.SaveOptions(
      function_aliases={'tpu_candidate': module.serve})
  with custom_gradients(False):
    export_base.export(module, ['x'], str(tmp_path / 'sm'),
                       timestamped=False, save_options=options)
  assert options.experimental_custom_gradients
  assert not registered_gradients(str(tmp_path / 'sm'))
  loaded = tf.saved_model.load(
      str(tmp_path / 'sm'),
      options=tf.saved_model.LoadOptions(experimental_load_function_aliases=True))
  assert 'tpu_candidate' in loaded.function_aliases


def test_scope_is_restored(tmp_path):
  """Outside the scope Model Garden's export saves them again (TensorFlow's
  default), also after an error inside it."""
  wrapped = export_base.export
  with pytest.raises(RuntimeError):
    with custom_gradients(False):
      assert export_base.export is not wrapped
      raise RuntimeError('inside')
  assert export_base.export is wrapped
  _export(tmp_path / 'after')
  assert registered_gradients(str(tmp_path / 'after'))


_TOOL_WIRING = '''
from absl import flags
from official.core import export_base
from official_ext.serving import export_saved_model as tool
model_gardens = export_base.export
seen = []
tool.export_saved_model_lib.export_inference_graph = (
    lambda **kwargs: seen.append(export_base.export is model_gardens))
for extra in ([], ['--save_custom_gradients']):
  flags.FLAGS.unparse_flags()
  flags.FLAGS(['export', '--experiment=supervised_digits', '--export_dir=x',
               '--input_image_size=128,128'] + extra)
  tool.main([])
print(seen)
'''


def test_the_export_tool_turns_them_off_unless_asked():
  """official_ext's exporter runs Model Garden's export_inference_graph
  under the switch: by
  default export_base.export is the wrapped one; with
  --save_custom_gradients it is Model Garden's own. (A child process: the
  tool defines flags other tools' modules define too.)"""
  proc = python(['-c', _TOOL_WIRING], timeout=300)
  assert proc.returncode == 0, child_failure(proc, 3000)
  assert proc.stdout.strip().splitlines()[-1] == '[False, True]'

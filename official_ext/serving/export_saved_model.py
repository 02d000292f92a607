"""Exports a trained official_ext model as a SavedModel (Model Garden export).

Model Garden's `official/vision/serving/export_saved_model.py` with our
experiments registered; its flags, plus defaults a Model Garden user would
expect: `--input_type=image_tensor` and `--input_image_size` taken from the
config (detection: model.input_size; segmentation: validation output_size).

  python -m official_ext.tools.export_saved_model --experiment=supervised_digits \
      --checkpoint_path=MODEL_DIR --export_dir=EXPORT \
      [--config_file=MODEL_DIR/params.yaml] [--params_override=...]

A checkpoint of online self-training (`task.self_training.mode: online`)
holds the student and its EMA teacher; `--export_model=teacher` (the
default, as mmdetection's mean-teacher exports) or `student` picks one. A
checkpoint without an online teacher exports its only model, unless
`--export_model=teacher` was given explicitly (an error).

Detection SavedModels return detection_boxes (pixels, ymin/xmin/ymax/xmax),
detection_scores, detection_classes and num_detections; segmentation ones
return logits.

By default the SavedModel holds the serving signatures and the variables but
not a trace of every Keras layer's call, which Model Garden's exporter adds
(tf_keras does it for any Keras model inside tf.saved_model.save), nor the
gradient function of every custom-gradient op (tf.saved_model.save's
default; each swish activation is one). Nothing of ours uses either;
skipping them makes the export faster and loading the SavedModel faster,
with the same signature outputs (tools/benchmark.py --only=export).
`--save_keras_traces --save_custom_gradients` restores Model Garden's full
artifact.
"""

import tempfile
from typing import Dict, List, Optional

from absl import app
from absl import flags
from absl import logging

from official.core import exp_factory
from official.modeling import hyperparams
# Defines Model Garden's export flags, which this tool takes as they are.
from official.vision.serving import export_saved_model as mg_export  # pylint: disable=unused-import
from official.vision.serving import export_saved_model_lib
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.configs import common
from official_ext.serving.custom_gradients import custom_gradients
from official_ext.serving import online_teacher_export
from official_ext.patches import keras_traces
from official_ext.utils import quick_exit

FLAGS = flags.FLAGS
# Model Garden defaults to 224,224; empty means: take it from the config.
FLAGS.set_default('input_image_size', '')
flags.DEFINE_bool(
    'save_keras_traces', False,
    'Also save a trace of every Keras layer call (Model Garden\'s exporter '
    'does); only needed to reload the layers with tf_keras. The serving '
    'signatures are the same either way.')
flags.DEFINE_bool(
    'save_custom_gradients', False,
    'Also save the gradient function of every custom-gradient op (e.g. '
    'each swish activation), as tf.saved_model.save does by default; only '
    'needed to take gradients through the loaded SavedModel. The serving '
    'signatures are the same either way.')

flags.DEFINE_enum(
    'export_model', 'teacher', ['teacher', 'student'],
    'For a checkpoint of online self-training (mode: online), which network '
    'to export: the EMA teacher (default) or the student. Other checkpoints '
    'hold one model, exported whatever this says unless it is given '
    'explicitly as teacher.')


def load_params(experiment, config_files=(), params_override=''):
  """Experiment config with YAML files and overrides applied, validated."""
  params = exp_factory.get_exp_config(experiment)
  for config_file in config_files or []:
    params = hyperparams.override_params_dict(params, config_file,
                                              is_strict=False)
  if params_override:
    params = hyperparams.override_params_dict(params, params_override,
                                              is_strict=False)
  params.validate()
  return params


def function_keys(value: str) -> Optional[Dict[str, str]]:
  """Model Garden's --function_keys 'KEY:SIGNATURE,...' as a dict."""
  if not value:
    return None
  return dict(item.split(':', 1) for item in value.split(','))


def export(params, checkpoint_path: str, input_image_size: List[int]):
  """Model Garden's export_inference_graph of `params` and the checkpoint,
  with its other flags as given and our save defaults (keras_traces,
  custom_gradients)."""
  params.lock()
  with keras_traces(FLAGS.save_keras_traces), custom_gradients(
      FLAGS.save_custom_gradients):
    export_saved_model_lib.export_inference_graph(
        input_type=FLAGS.input_type, batch_size=FLAGS.batch_size,
        input_image_size=input_image_size, params=params,
        checkpoint_path=checkpoint_path, export_dir=FLAGS.export_dir,
        function_keys=function_keys(FLAGS.function_keys),
        export_checkpoint_subdir=FLAGS.export_checkpoint_subdir,
        export_saved_model_subdir=FLAGS.export_saved_model_subdir,
        log_model_flops_and_params=FLAGS.log_model_flops_and_params,
        input_name=FLAGS.input_name,
        add_tpu_function_alias=FLAGS.add_tpu_function_alias)


def main(_):
  params = load_params(FLAGS.experiment, FLAGS.config_file,
                       FLAGS.params_override)
  size = ([int(x) for x in FLAGS.input_image_size.split(',')]
          if FLAGS.input_image_size else common.model_image_size(params))
  checkpoint = FLAGS.checkpoint_path
  online = bool(checkpoint) and (
      online_teacher_export.has_online_teacher(checkpoint))
  if FLAGS.export_model == 'teacher' and not online:
    if FLAGS['export_model'].present:
      raise app.UsageError(
          f'--export_model=teacher: {checkpoint} holds no online '
          'teacher (only a run with task.self_training.mode=online has '
          'one); leave the flag out to export its model.')
    export(params, checkpoint, size)
    return
  logging.info('Exporting the online %s of %s.', FLAGS.export_model,
               checkpoint)
  if FLAGS.export_model == 'student':
    export(params, checkpoint, size)
    return
  with tempfile.TemporaryDirectory(prefix='online_teacher-') as tmp:
    export(params, online_teacher_export.teacher_checkpoint(
        params, checkpoint, tmp), size)


def run():
  flags.mark_flags_as_required(['experiment', 'export_dir'])
  app.run(quick_exit.main_without_teardown(main))


if __name__ == '__main__':
  run()

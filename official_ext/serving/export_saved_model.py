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

from absl import app
from absl import flags
from absl import logging

from official.core import exp_factory
from official.modeling import hyperparams
from official.vision.serving import export_saved_model as mg_export
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.configs import common
from official_ext.serving.custom_gradients import custom_gradients
from official_ext.serving import online_teacher_export
from official_ext.serving.keras_traces import keras_traces
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


def _export(argv):
  with keras_traces(FLAGS.save_keras_traces), custom_gradients(
      FLAGS.save_custom_gradients):
    mg_export.main(argv)


def main(argv):
  params = load_params(FLAGS.experiment, FLAGS.config_file,
                       FLAGS.params_override)
  if not FLAGS.input_image_size:
    FLAGS.input_image_size = ','.join(str(x) for x in
                                      common.model_image_size(params))
  online = bool(FLAGS.checkpoint_path) and (
      online_teacher_export.has_online_teacher(FLAGS.checkpoint_path))
  if FLAGS.export_model == 'teacher' and not online:
    if FLAGS['export_model'].present:
      raise app.UsageError(
          f'--export_model=teacher: {FLAGS.checkpoint_path} holds no online '
          'teacher (only a run with task.self_training.mode=online has '
          'one); leave the flag out to export its model.')
    _export(argv)
    return
  logging.info('Exporting the online %s of %s.', FLAGS.export_model,
               FLAGS.checkpoint_path)
  if FLAGS.export_model == 'student':
    _export(argv)
    return
  with tempfile.TemporaryDirectory(prefix='online_teacher-') as tmp:
    FLAGS.checkpoint_path = online_teacher_export.teacher_checkpoint(
        params, FLAGS.checkpoint_path, tmp)
    _export(argv)


def run():
  flags.mark_flags_as_required(['experiment', 'export_dir'])
  app.run(quick_exit.main_without_teardown(main))


if __name__ == '__main__':
  run()

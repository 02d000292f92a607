"""Model Garden's vision training driver with official_ext registered.

Same flags, checkpoints, summaries and params.yaml as
`python -m official.vision.train`, e.g.

  python -m official_ext.tools.train --experiment=supervised_digits --mode=train_and_eval \
      --model_dir=/tmp/teacher \
      --params_override=task.train_data.input_path=DATA/train*

The experiment is checked first (`check_experiment`: data paths, the
self-training fields, the teacher's signature): a bad field stops the run
with one line naming it and the fix. Labeling on first use runs next,
before the driver takes the devices (`label_before_devices`). A NaN/inf
loss of a self-training step stops the run before that step's update, with
one line naming the step and the losses.
"""

import re
import sys

from absl import app
from absl import flags

from official.common import flags as tfm_flags
from official.core import config_definitions as cfg
from official.core import task_factory
from official.core import train_utils
from official.vision import train as mg_train
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.data import paths
from official_ext.data import record_files
from official_ext.dataloaders import reader
from official_ext.labeling import teacher as teacher_lib
from official_ext.self_training import preflight
from official_ext.self_training import task as st_task
from official_ext.utils import quick_exit
import tensorflow as tf


def check_pattern(field: str, data_config):
  """The files of a data config's input_path exist (for TFDS: no subset)."""
  if not data_config:
    return
  if data_config.get('tfds_name'):
    reader.check_tfds(data_config, field)
    return
  pattern = data_config.input_path
  if isinstance(pattern, (list, tuple)):
    pattern = ','.join(pattern)
  if not pattern:
    raise ValueError(f'{field}.input_path is empty: point it at TFRecords '
                     '(e.g. DATA/train-*.tfrecord).')
  record_files.match(pattern, f'{field}.input_path')


def check_experiment(params: cfg.ExperimentConfig, mode: str,
                     model_dir: str = ''):
  """Raises ValueError/FileNotFoundError naming the bad field and the fix
  (a path that cannot be reached, e.g. a gs:// bucket, too)."""
  task = params.task
  if 'train' in mode:
    check_pattern('task.train_data', task.get('train_data'))
    # Read only when model_dir holds no checkpoint of its own yet.
    if task.get('init_checkpoint') and not (
        model_dir and paths.guarded('--model_dir', model_dir, lambda: (
            tf.train.latest_checkpoint(model_dir)))):
      paths.require_checkpoint(task.init_checkpoint, 'task.init_checkpoint')
  if 'eval' in mode:
    check_pattern('task.validation_data', task.get('validation_data'))
    if task.get('annotation_file'):
      paths.require(task.annotation_file, 'task.annotation_file')
  st = task.get('self_training')
  if st is None or 'train' not in mode:
    return
  preflight.check_self_training(task)
  check_pattern('task.pseudo_data', task.pseudo_data)
  if st.teacher:
    label_task = task_factory.get_task_cls(type(task)).LABEL_TASK
    try:  # The signature and params.yaml; the graph is not loaded.
      teacher_lib.check(st.teacher, label_task,
                        num_classes=task.model.num_classes)
    except (ValueError, FileNotFoundError) as e:
      raise type(e)(f'task.self_training.teacher: {e}') from None


def label_before_devices(params: cfg.ExperimentConfig, mode: str,
                         model_dir: str):
  """Labeling on first use (task.self_training.teacher), run before Model
  Garden's driver builds its distribution strategy: the labeler child then
  has the accelerator to itself, where after the strategy this process
  would already hold nearly all of its memory (TensorFlow's default). The
  task's build_inputs later finds every shard finished and reuses them."""
  st = params.task.get('self_training')
  if st is None or not st.teacher or 'train' not in mode:
    return
  task_factory.get_task(params.task, logging_dir=model_dir
                        ).pseudo_data_config()


def main(argv):
  try:
    params = train_utils.parse_configuration(flags.FLAGS, print_return=False)
    check_experiment(params, flags.FLAGS.mode, flags.FLAGS.model_dir)
  except (ValueError, FileNotFoundError, KeyError) as e:
    sys.exit(f'train.py: error: {e}')
  label_before_devices(params, flags.FLAGS.mode, flags.FLAGS.model_dir)
  try:
    mg_train.main(argv)
  except tf.errors.InvalidArgumentError as e:
    found = re.search(re.escape(st_task.NON_FINITE_LOSS) + r'.*', e.message)
    if not found:
      raise
    sys.exit('train.py: error: ' + found.group(0).replace('] [', ' ').strip(
        '[]') + '. The step was not applied; model_dir keeps the last good '
        'checkpoint. Lower the learning rate or check the inputs.')


def run():
  tfm_flags.define_flags()
  flags.mark_flags_as_required(['experiment', 'mode', 'model_dir'])
  app.run(quick_exit.main_without_teardown(main))


if __name__ == '__main__':
  run()

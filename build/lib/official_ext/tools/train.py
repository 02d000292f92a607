"""Model Garden's vision training driver with official_ext registered.

Same flags, checkpoints, summaries and params.yaml as
`python -m official.vision.train`, e.g.

  python -m official_ext.tools.train --experiment=supervised_digits --mode=train_and_eval \
      --model_dir=/tmp/teacher \
      --params_override=task.train_data.input_path=DATA/train*

The experiment is checked first (official_ext/self_training/preflight.py):
a bad field stops the run with one line naming it and the fix. A NaN/inf
loss of a self-training step stops the run before that step's update, with
one line naming the step and the losses.
"""

import re
import sys

from absl import app
from absl import flags

from official.common import flags as tfm_flags
from official.core import train_utils
from official.vision import train as mg_train
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.self_training import preflight
from official_ext.self_training import task as st_task
import tensorflow as tf


def main(argv):
  try:
    params = train_utils.parse_configuration(flags.FLAGS, print_return=False)
    preflight.check_experiment(params, flags.FLAGS.mode)
  except (ValueError, FileNotFoundError, KeyError) as e:
    sys.exit(f'train.py: error: {e}')
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
  app.run(main)


if __name__ == '__main__':
  run()

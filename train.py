"""Model Garden's vision training driver with official_ext registered.

Same flags, checkpoints, summaries and params.yaml as
`python -m official.vision.train`, e.g.

  python train.py --experiment=supervised_digits --mode=train_and_eval \
      --model_dir=/tmp/teacher \
      --params_override=task.train_data.input_path=DATA/train*
"""

from absl import app
from absl import flags

from official.common import flags as tfm_flags
from official.vision import train as mg_train
import official_ext.registry_imports  # pylint: disable=unused-import

if __name__ == '__main__':
  tfm_flags.define_flags()
  flags.mark_flags_as_required(['experiment', 'mode', 'model_dir'])
  app.run(mg_train.main)

"""A recipe's dry run before a real run: build, step, compile, evaluate,
export and label on the devices present, with the same experiment flags as
train.py (official_ext/benchmarks/dry_run.py says what it does).

  python -m official_ext.tools.dry_run --experiment=selftrain_coco \
      --config_file=configs/experiments/selftrain_coco_spinenet190_1280.yaml \
      [--params_override=...] [--batch_per_replica=1] [--steps=3] \
      [--data='COCO/train-0000*'] [--unlabeled='UNLABELED/*'] [--model_dir=DIR] \
      [--stages=flops,validate,export,label]

Prints the parameters, FLOPs per image, seconds per step, peak memory per
replica and what the recipe's global batch needs on its target devices;
writes DIR/dry_run.json. A field or path that would stop the real run ends
it with one line naming it (exit status 1).
"""

import sys
import tempfile

from absl import app
from absl import flags

from official.common import flags as tfm_flags
from official.core import train_utils
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.benchmarks import dry_run
from official_ext.benchmarks import dry_run_sizing
from official_ext.utils import quick_exit

_BATCH = flags.DEFINE_integer(
    'batch_per_replica', 1,
    'Images per replica and step (in each half of a student\'s batch).')
_STEPS = flags.DEFINE_integer(
    'steps', 2, 'Training steps; the first one traces (and compiles).')
_DATA = flags.DEFINE_string(
    'data', '', 'TFRecords (glob) to train and validate on; empty: a few '
    'synthesized images at the recipe\'s size.')
_UNLABELED = flags.DEFINE_string(
    'unlabeled', '', 'Raw images (TFRecord glob) to label; empty: --data '
    'or synthesized ones.')
_NUM_IMAGES = flags.DEFINE_integer('num_images', 4,
                                   'Images synthesized (and labeled).')
_STAGES = flags.DEFINE_list(
    'stages', list(dry_run.STAGES),
    'What runs besides building the model and the training steps, comma-'
    'separated (empty: none): flops (FLOPs per image), validate (one '
    'validation step), export, label (needs export).')
flags.register_validator(
    'stages', lambda stages: set(stages) <= set(dry_run.STAGES),
    f'--stages: each one of {",".join(dry_run.STAGES)}')
_XLA = flags.DEFINE_enum(
    'xla', 'auto', ['auto', 'true', 'false'],
    'Compile the steps with XLA; auto: when the recipe targets a TPU.')


def main(_):
  try:
    params = train_utils.parse_configuration(flags.FLAGS, print_return=False)
    if _BATCH.value < 1 or _STEPS.value < 1 or _NUM_IMAGES.value < 1:
      raise dry_run.DryRunError('--batch_per_replica, --steps and '
                                '--num_images must be >= 1.')
    output_dir = flags.FLAGS.model_dir or tempfile.mkdtemp(prefix='dry_run-')
    report = dry_run.run(params, dry_run.Options(
        output_dir=output_dir, batch_per_replica=_BATCH.value,
        steps=_STEPS.value, data=_DATA.value, unlabeled=_UNLABELED.value,
        num_images=_NUM_IMAGES.value, stages=tuple(_STAGES.value),
        xla=None if _XLA.value == 'auto' else _XLA.value == 'true'))
  except (ValueError, FileNotFoundError, KeyError) as e:
    sys.exit(f'dry_run: error: {str(e).strip(chr(34))}')
  print(dry_run_sizing.summary(report))
  print(f'report: {output_dir}/dry_run.json')


def run():
  tfm_flags.define_flags()
  flags.mark_flags_as_required(['experiment'])
  app.run(quick_exit.main_without_teardown(main))


if __name__ == '__main__':
  run()

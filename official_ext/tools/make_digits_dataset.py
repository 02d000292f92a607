"""Builds the built-in digits detection + segmentation data set.

  python -m official_ext.tools.make_digits_dataset --output_dir=runs/digits_data --seed=0
"""

import json

from absl import app
from absl import flags

from official_ext.digits import canvases

_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed for splits and rendering.')
_NUM_TRAIN = flags.DEFINE_integer('num_train', 200, 'Labeled train images.')
_NUM_UNLABELED = flags.DEFINE_integer('num_unlabeled', 1000,
                                      'Unlabeled images (labels withheld).')
_NUM_VAL = flags.DEFINE_integer('num_val', 200, 'Validation images.')
_NUM_TEST = flags.DEFINE_integer(
    'num_test', 200, 'Test images (canvases of digits no other split has, '
    'on their own backgrounds), for reporting: never for choices; 0 writes '
    'none.')
_NUM_CALIBRATION = flags.DEFINE_integer(
    'num_calibration', 0, 'Labeled calibration images (canvases of the train '
    "split's digits that no model trains on), for pseudo_label "
    '--calibration_pattern; 0 writes none.')
_CLASSIFICATION = flags.DEFINE_bool(
    'classification', False, 'Also write classification pre-training data: '
    'the digits of the unlabeled canvases with their classes '
    '(classification-*), and of the val canvases (classification_val-*), '
    'in Model Garden\'s image classification TFExample format.')
_SIZE = flags.DEFINE_integer('image_size', canvases.CANVAS_SIZE,
                            'Canvas size in pixels.')
_NUM_SHARDS = flags.DEFINE_integer('num_shards', 2, 'Shards per split.')


def main(_):
  paths = canvases.make_dataset(
      _OUTPUT_DIR.value, seed=_SEED.value, num_train=_NUM_TRAIN.value,
      num_unlabeled=_NUM_UNLABELED.value, num_val=_NUM_VAL.value,
      size=_SIZE.value, num_shards=_NUM_SHARDS.value,
      num_calibration=_NUM_CALIBRATION.value,
      num_test=_NUM_TEST.value,
      classification=_CLASSIFICATION.value)
  print(json.dumps(paths, indent=2))


def run():
  app.run(main)


if __name__ == '__main__':
  run()

"""Builds the built-in shapes detection + segmentation data set.

Textured shapes (8 classes) on recoloured crops of scikit-learn's sample
photographs, with occlusion (official_ext/shapes/shape_scenes.py): the second data
set the small recipes are measured on, unlike the digits. The same files as
make_digits_dataset (train / unlabeled / val shards, annotations_val.json,
optional calibration and classification splits); models need
`task.model.num_classes=9`.

  python -m official_ext.tools.make_shapes_dataset --output_dir=runs/shapes_data --seed=0

--style=blended writes the second kind of scene: flat shapes alpha-blended
onto the photographs as they are, no occlusion (shape_scenes.STYLES).
"""

import json

from absl import app
from absl import flags

from official_ext.shapes import shape_scenes

_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the scenes.')
_NUM_TRAIN = flags.DEFINE_integer('num_train', 150, 'Labeled train images.')
_NUM_UNLABELED = flags.DEFINE_integer('num_unlabeled', 1500,
                                      'Unlabeled images (labels withheld).')
_NUM_VAL = flags.DEFINE_integer('num_val', 300, 'Validation images.')
_NUM_TEST = flags.DEFINE_integer(
    'num_test', 300, 'Test images (scenes on the photographs\' right '
    'quarter, which no other split sees), for reporting: never for choices; '
    '0 writes none.')
_NUM_CALIBRATION = flags.DEFINE_integer(
    'num_calibration', 0, 'Labeled calibration images no model trains on, '
    'for pseudo_label --calibration_pattern; 0 writes none.')
_CLASSIFICATION = flags.DEFINE_bool(
    'classification', False, 'Also write classification pre-training data: '
    'the objects of the unlabeled scenes with their classes '
    '(classification-*), and of the val scenes (classification_val-*).')
_NUM_SHARDS = flags.DEFINE_integer('num_shards', 2, 'Shards per split.')
_STYLE = flags.DEFINE_enum(
    'style', shape_scenes.TEXTURED, shape_scenes.STYLES,
    'textured: textured shapes on recoloured photographs, with occlusion; '
    'blended: flat shapes alpha-blended onto the photographs as they are.')
_PREVIEW = flags.DEFINE_string(
    'preview', None, 'Also write a PNG of 8 scenes over their masks here.')


def main(_):
  paths = shape_scenes.make_dataset(
      _OUTPUT_DIR.value, seed=_SEED.value, num_train=_NUM_TRAIN.value,
      num_unlabeled=_NUM_UNLABELED.value, num_val=_NUM_VAL.value,
      num_shards=_NUM_SHARDS.value, num_calibration=_NUM_CALIBRATION.value,
      num_test=_NUM_TEST.value,
      classification=_CLASSIFICATION.value, style=_STYLE.value)
  if _PREVIEW.value:
    shape_scenes.preview(_PREVIEW.value, seed=_SEED.value, style=_STYLE.value)
    paths['preview'] = _PREVIEW.value
  print(json.dumps(paths, indent=2))


def run():
  app.run(main)


if __name__ == '__main__':
  run()

"""A detection + segmentation data set drawn from scikit-learn's digits.

`sklearn.datasets.load_digits` ships 1797 real 8x8 handwritten digits inside
scikit-learn (no download). Each canvas holds several digits at varied
scales and positions on a varied background, with boxes (classes 1..10 for
digits 0..9) and a per-pixel mask (0 background, 1..10 digits). Splits are
drawn from disjoint source digits, so no handwritten digit is in two splits,
and from their own random streams (backgrounds included). The test split
(`TEST`) is for reporting only: every choice (recipe, threshold, schedule)
is made on val.
"""

import os
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image

from official_ext.configs import common
from official_ext.data import scenes

SPLITS = ('train', 'unlabeled', 'val')
# Held out from every choice: its own source digits (taken from the end of
# the unlabeled split's share) and backgrounds; reported, never tuned on.
TEST = 'test'
# Labeled canvases of the train split's source digits that no model trains
# on: the teacher's calibration set (pseudo_label --calibration_pattern).
CALIBRATION = 'calibration'
# Classification pre-training (the paper's labeled ImageNet): every digit of
# the unlabeled split's canvases, cropped, with its class 0..9; and the val
# split's digits to measure it.
CLASSIFICATION = {'unlabeled': 'classification',
                  'val': 'classification_val'}
NUM_DIGIT_CLASSES = common.NUM_DIGIT_CLASSES


# Classes 1..10 are the digits 0..9; mask 0 is the background.
Canvas = scenes.Scene


# Canvas side in pixels (the digits are drawn 20-56 pixels tall).
CANVAS_SIZE = common.DIGITS_IMAGE_SIZE


def load_digits():
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  digits = datasets.load_digits()
  return digits.images.astype(np.float32) / 16.0, digits.target.astype(np.int64)


def split_sources(num_sources: int, seed: int,
                  fractions=(0.2, 0.5, 0.3),
                  test_fraction: float = 0.15) -> Dict[str, np.ndarray]:
  """Disjoint source-digit indices for each split; the test split's are the
  last `test_fraction` of all, out of the unlabeled split's share (train's
  and val's do not depend on it)."""
  order = np.random.RandomState(seed).permutation(num_sources)
  cuts = np.cumsum([int(f * num_sources) for f in fractions[:-1]])
  sources = dict(zip(SPLITS, np.split(order, cuts)))
  num_test = int(test_fraction * num_sources)
  sources[TEST] = sources['unlabeled'][-num_test:]
  sources['unlabeled'] = sources['unlabeled'][:-num_test]
  return sources


def _background(rng: np.random.RandomState, size: int) -> np.ndarray:
  c0, c1 = rng.uniform(0, 110, 3), rng.uniform(0, 110, 3)
  t = np.linspace(0.0, 1.0, size, dtype=np.float32)
  grad = t[:, None] if rng.rand() < 0.5 else t[None, :]
  img = c0[None, None] + (c1 - c0)[None, None] * grad[..., None]
  img = img + rng.normal(0, 8, (size, size, 3))
  return img


def render_canvas(rng: np.random.RandomState, images: np.ndarray,
                  targets: np.ndarray, pool: Sequence[int], size: int = CANVAS_SIZE,
                  max_digits: int = 4, min_scale: int = 20,
                  max_scale: int = 56) -> Canvas:
  """Draws 1..max_digits non-overlapping digits from `pool` on a canvas."""
  canvas = _background(rng, size)
  mask = np.zeros((size, size), np.uint8)
  boxes, classes, taken = [], [], []
  for _ in range(rng.randint(1, max_digits + 1)):
    for _ in range(20):  # A few tries to find a free spot.
      s = rng.randint(min_scale, max_scale + 1)
      y, x = rng.randint(0, size - s + 1), rng.randint(0, size - s + 1)
      if all(y >= b[2] or y + s <= b[0] or x >= b[3] or x + s <= b[1]
             for b in taken):
        break
    else:
      continue
    idx = pool[rng.randint(len(pool))]
    glyph = Image.fromarray((images[idx] * 255).astype(np.uint8))
    glyph = np.asarray(glyph.resize((s, s), Image.BILINEAR),
                       np.float32) / 255.0
    on = glyph > 0.35
    if not on.any():
      continue
    color = rng.uniform(150, 255, 3)
    region = canvas[y:y + s, x:x + s]
    alpha = glyph[..., None]
    canvas[y:y + s, x:x + s] = region * (1 - alpha) + color * alpha
    cls = int(targets[idx]) + 1
    mask[y:y + s, x:x + s][on] = cls
    ys, xs = np.nonzero(on)
    boxes.append([(y + ys.min()) / size, (x + xs.min()) / size,
                  (y + ys.max() + 1) / size, (x + xs.max() + 1) / size])
    classes.append(cls)
    taken.append((y, x, y + s, x + s))
  image = np.clip(canvas, 0, 255).astype(np.uint8)
  return Canvas(image=image,
                boxes=np.asarray(boxes, np.float32).reshape([-1, 4]),
                classes=np.asarray(classes, np.int64),
                mask=mask)


def source_id(split: str, index: int) -> int:
  """Numeric, unique across splits: Model Garden's COCO eval parses ids."""
  return (SPLITS + (CALIBRATION, TEST)).index(split) * 1_000_000 + index


def write_split(output_dir: str, split: str, num_images: int, seed: int,
                pool: Sequence[int], images: np.ndarray, targets: np.ndarray,
                num_shards: int = 2, size: int = CANVAS_SIZE,
                with_labels: bool = True) -> List[Canvas]:
  """Writes `split-xxxxx-of-yyyyy.tfrecord` shards; returns the canvases."""
  rng = np.random.RandomState(seed)
  canvases = [render_canvas(rng, images, targets, pool, size=size)
              for _ in range(num_images)]
  scenes.write_split(output_dir, split, canvases,
                     lambda i: source_id(split, i), num_shards, with_labels)
  return canvases


def digit_crops(canvas: Canvas, margin: float = 0.15):
  """Each digit of a canvas as (square crop around its box, class 0..9)."""
  return scenes.object_crops(canvas, margin)


def write_classification_split(output_dir: str, split: str,
                               canvases: Sequence[Canvas],
                               num_shards: int = 2) -> int:
  """The canvases' digits as Model Garden classification TFExamples
  (`image/class/label` 0..9); returns how many."""
  return scenes.write_classification_split(output_dir, split, canvases,
                                           num_shards)


def coco_annotations(canvases: Sequence[Canvas], split: str) -> dict:
  """COCO-format ground truth for pycocotools (boxes in pixels, xywh)."""
  return scenes.coco_annotations(canvases, lambda i: source_id(split, i),
                                 [str(k) for k in range(NUM_DIGIT_CLASSES)])


def write_annotations(output_dir: str, split: str,
                      canvases: Sequence[Canvas]) -> str:
  """OUTPUT/annotations_<split>.json (COCO format); its path."""
  return scenes.write_coco_annotations(
      output_dir, split, canvases, lambda i: source_id(split, i),
      [str(k) for k in range(NUM_DIGIT_CLASSES)])


def make_dataset(output_dir: str, seed: int = 0, num_train: int = 200,
                 num_unlabeled: int = 1000, num_val: int = 200,
                 size: int = CANVAS_SIZE, num_shards: int = 2,
                 num_calibration: int = 0,
                 classification: bool = False,
                 num_test: int = 200) -> Dict[str, str]:
  """Writes train (labeled), unlabeled (image only), val and (`num_test` >
  0) test splits, and with `num_calibration` a labeled calibration split:
  new canvases of the train split's source digits; with `classification`,
  the digits of the unlabeled and val canvases as classification splits
  (`CLASSIFICATION`). The other splits do not change with any of these.

  Returns a dict of file patterns and the val and test COCO json paths
  (`val_annotations`, `test_annotations`).
  """
  images, targets = load_digits()
  sources = split_sources(len(images), seed)
  counts = {'train': num_train, 'unlabeled': num_unlabeled, 'val': num_val}
  out = {}
  for k, split in enumerate(SPLITS):
    canvases = write_split(
        output_dir, split, counts[split], seed * 1000 + k, sources[split],
        images, targets, num_shards=num_shards, size=size,
        with_labels=(split != 'unlabeled'))
    out[split] = os.path.join(output_dir, f'{split}-*.tfrecord')
    if classification and split in CLASSIFICATION:
      name = CLASSIFICATION[split]
      write_classification_split(output_dir, name, canvases, num_shards)
      out[name] = os.path.join(output_dir, f'{name}-*.tfrecord')
    if split == 'val':
      out['val_annotations'] = write_annotations(output_dir, split, canvases)
  if num_test:
    canvases = write_split(output_dir, TEST, num_test, seed * 1000 + 5,
                           sources[TEST], images, targets,
                           num_shards=num_shards, size=size)
    out[TEST] = os.path.join(output_dir, f'{TEST}-*.tfrecord')
    out['test_annotations'] = write_annotations(output_dir, TEST, canvases)
  if num_calibration:
    write_split(output_dir, CALIBRATION, num_calibration,
                seed * 1000 + len(SPLITS), sources['train'], images, targets,
                num_shards=num_shards, size=size)
    out[CALIBRATION] = os.path.join(output_dir,
                                    f'{CALIBRATION}-*.tfrecord')
  return out

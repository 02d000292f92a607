"""The shapes data set: labels that agree with the pixels, occlusion that
leaves every labeled object visible, Model Garden-readable records, and the
tool's files."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from official.vision.dataloaders import segmentation_input
from official.vision.dataloaders import tf_example_decoder
from official_ext.configs import common
from official_ext.shapes import shape_scenes

from conftest import child_failure
from conftest import python


@pytest.fixture(scope='module')
def drawn():
  rng = np.random.RandomState(7)
  photos = shape_scenes.load_photos()
  return [shape_scenes.render_scene(rng, photos) for _ in range(60)]


@pytest.fixture(scope='module')
def blended():
  rng = np.random.RandomState(7)
  photos = shape_scenes.load_photos()
  return [shape_scenes.render_scene(rng, photos, style='blended')
          for _ in range(60)]


def test_test_scenes_stand_on_photograph_parts_no_other_split_sees():
  """The test split's backgrounds are crops of the photographs' right
  quarter, every other split's of the rest: no background pixel of a test
  scene was seen in training, at any scene size."""
  for shape in (p.shape for p in shape_scenes.load_photos()):
    cut = int(0.75 * shape[1])
    for size in (128, 256, 512):
      rng = np.random.RandomState(size)
      for _ in range(200):
        y, x, side = shape_scenes.crop_window(rng, shape, size, test=True)
        assert cut <= x and x + side <= shape[1] and y + side <= shape[0]
        y, x, side = shape_scenes.crop_window(rng, shape, size, test=False)
        assert 0 <= x and x + side <= cut and y + side <= shape[0]
        assert side >= min(size // 2, shape[0], cut)


def test_rendering_is_deterministic():
  photos = shape_scenes.load_photos()
  a = shape_scenes.render_scene(np.random.RandomState(3), photos)
  b = shape_scenes.render_scene(np.random.RandomState(3), photos)
  np.testing.assert_array_equal(a.image, b.image)
  np.testing.assert_array_equal(a.mask, b.mask)
  np.testing.assert_array_equal(a.boxes, b.boxes)


@pytest.mark.parametrize('style', shape_scenes.STYLES)
def test_boxes_are_the_tight_boxes_of_each_objects_visible_mask(
    style, request):
  drawn = request.getfixturevalue({'textured': 'drawn',
                                   'blended': 'blended'}[style])
  size = shape_scenes.SCENE_SIZE
  for scene in drawn:
    assert scene.image.shape == (size, size, 3) and scene.image.dtype == np.uint8
    assert 1 <= len(scene.classes) <= 6
    assert set(np.unique(scene.mask)) <= set(range(len(shape_scenes.CLASSES) + 1))
    # Every labeled class has pixels, and every masked class has a box.
    assert set(np.unique(scene.mask)) - {0} == set(scene.classes)
    for box, cls in zip(scene.boxes, scene.classes):
      y0, x0, y1, x1 = np.round(box * size).astype(int)
      assert 0 <= y0 < y1 <= size and 0 <= x0 < x1 <= size
      inside = scene.mask[y0:y1, x0:x1] == cls
      # Tight: the class touches all four sides of its box (when the class
      # appears once; two objects of a class share a mask value).
      if list(scene.classes).count(cls) == 1:
        assert inside[0].any() and inside[-1].any()
        assert inside[:, 0].any() and inside[:, -1].any()
        assert (scene.mask == cls).sum() == inside.sum()


def test_occlusion_happens_and_no_object_is_mostly_hidden(drawn):
  # Overlapping boxes occur (occlusion is part of the data) ...
  overlaps = 0
  for scene in drawn:
    b = scene.boxes
    for i in range(len(b)):
      for j in range(i + 1, len(b)):
        overlaps += (min(b[i, 2], b[j, 2]) > max(b[i, 0], b[j, 0]) and
                     min(b[i, 3], b[j, 3]) > max(b[i, 1], b[j, 1]))
  assert overlaps >= 5
  # ... all 8 classes appear, and every object keeps enough pixels to learn.
  classes = np.concatenate([s.classes for s in drawn])
  assert set(classes) == set(range(1, 9))
  for scene in drawn:
    for box, cls in zip(scene.boxes, scene.classes):
      y0, x0, y1, x1 = np.round(box * shape_scenes.SCENE_SIZE).astype(int)
      assert (scene.mask[y0:y1, x0:x1] == cls).sum() >= 12


def test_blended_scenes_are_the_photograph_with_flat_shapes_over_it(blended):
  """The blended style: 1-3 objects, all 8 classes over 60 scenes, and
  around the objects the photograph's crop itself (not recoloured: only
  the pixel noise differs)."""
  counts = [len(s.classes) for s in blended]
  assert 1 <= min(counts) and max(counts) <= 3
  assert set(np.concatenate([s.classes for s in blended])) == set(range(1, 9))
  photos = shape_scenes.load_photos()
  size = shape_scenes.SCENE_SIZE
  for seed in range(10):
    scene = shape_scenes.render_scene(np.random.RandomState(seed), photos,
                                      style='blended')
    crop = shape_scenes._background(  # pylint: disable=protected-access
        np.random.RandomState(seed), photos, size, recolour=False)
    outside = scene.mask == 0
    diff = np.abs(scene.image[outside] - crop[outside]).mean()
    assert diff < 10, (seed, diff)  # Noise std 2-8; a recolouring: ~30+.
  with pytest.raises(ValueError, match='style'):
    shape_scenes.render_scene(np.random.RandomState(0), photos, style='x')


def _background_edges(scene) -> float:
  """90th percentile of the gradient of 4x4-block means over blocks of pure
  background: the pixel noise averages out, a photograph's edges stay."""
  n = scene.image.shape[0] // 4
  gray = scene.image.astype(np.float32).mean(-1).reshape(n, 4, n, 4).mean(
      (1, 3))
  background = (scene.mask.reshape(n, 4, n, 4) == 0).all((1, 3))
  grad = np.abs(np.diff(gray, axis=1))[:-1, :] + np.abs(
      np.diff(gray, axis=0))[:, :-1]
  return float(np.percentile(grad[background[:-1, :-1]], 90))


def test_backgrounds_are_photographs_unlike_the_digits(drawn):
  from official_ext.digits import canvases  # pylint: disable=g-import-not-at-top
  images, targets = canvases.load_digits()
  rng = np.random.RandomState(7)
  digits = [canvases.render_canvas(rng, images, targets, np.arange(300))
            for _ in range(30)]
  shapes_edges = np.median([_background_edges(s) for s in drawn])
  digits_edges = np.median([_background_edges(c) for c in digits])
  # Measured: 37 vs 7 (the digits' backgrounds are smooth gradients).
  assert shapes_edges > 3 * digits_edges


def test_make_dataset_tool_writes_model_garden_records(tmp_path):
  out = str(tmp_path / 'shapes')
  proc = python(
      ['-m', 'official_ext.tools.make_shapes_dataset',
       f'--output_dir={out}', '--num_train=6', '--num_unlabeled=4',
       '--num_val=5', '--num_calibration=3', '--num_test=2',
       '--classification',
       '--num_shards=1', f'--preview={out}/preview.png'], timeout=300)
  assert proc.returncode == 0, child_failure(proc, 2000)
  paths = json.loads(proc.stdout[proc.stdout.index('{'):])
  counts = {split: sum(1 for _ in tf.data.TFRecordDataset(
      tf.io.gfile.glob(paths[split]))) for split in
      ('train', 'unlabeled', 'val', 'calibration', 'test')}
  assert counts == {'train': 6, 'unlabeled': 4, 'val': 5, 'calibration': 3,
                    'test': 2}
  with open(paths['test_annotations']) as f:
    assert len(json.load(f)['images']) == 2
  record = next(iter(tf.data.TFRecordDataset(tf.io.gfile.glob(paths['val']))))
  det = tf_example_decoder.TfExampleDecoder().decode(record)
  assert int(det['source_id']) == 2_000_000
  assert det['groundtruth_boxes'].shape[0] >= 1
  assert set(det['groundtruth_classes'].numpy()) <= set(
      range(1, common.SHAPES_NUM_CLASSES))
  seg = segmentation_input.Decoder().decode(record)
  mask = tf.io.decode_png(seg['image/segmentation/class/encoded']).numpy()
  assert mask.shape == (128, 128, 1) and mask.max() < common.SHAPES_NUM_CLASSES
  unlabeled = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(
      tf.io.gfile.glob(paths['unlabeled'])))).numpy())
  assert 'image/object/bbox/xmin' not in unlabeled.features.feature
  with open(paths['val_annotations']) as f:
    coco = json.load(f)
  assert [c['name'] for c in coco['categories']] == list(shape_scenes.CLASSES)
  assert len(coco['images']) == 5
  crops = sum(1 for _ in tf.data.TFRecordDataset(
      tf.io.gfile.glob(paths['classification'])))
  assert crops >= 4  # At least one object per unlabeled scene.
  assert os.path.getsize(paths['preview']) > 10_000

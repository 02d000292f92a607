"""The digits data set: deterministic, disjoint splits, Model Garden-readable."""

import json

import numpy as np
import tensorflow as tf

from official.vision.dataloaders import segmentation_input
from official.vision.dataloaders import tf_example_decoder
from official_ext.digits import canvases


def test_splits_are_disjoint_by_source_digit():
  images, _ = canvases.load_digits()
  splits = canvases.split_sources(len(images), seed=0)
  sets = [set(splits[s]) for s in canvases.SPLITS + (canvases.TEST,)]
  for i, a in enumerate(sets):
    for b in sets[i + 1:]:
      assert not a & b
  assert len(set().union(*sets)) == len(images) == 1797
  assert len(splits[canvases.TEST]) == int(0.15 * 1797)


def test_the_test_split_is_held_out_and_leaves_the_others_unchanged(
    tmp_path):
  """The test canvases draw digits no other split (calibration included)
  has, from a random stream of their own (backgrounds too); train, val and
  calibration are the same with or without them."""
  def records(out, split):
    return [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(tf.io.gfile.glob(out[split])))]

  kw = dict(seed=4, num_train=5, num_unlabeled=4, num_val=4, num_shards=1,
            num_calibration=3)
  without = canvases.make_dataset(str(tmp_path / 'a'), num_test=0, **kw)
  out = canvases.make_dataset(str(tmp_path / 'b'), num_test=6, **kw)
  assert canvases.TEST not in without
  for split in ('train', 'val', canvases.CALIBRATION):
    assert records(without, split) == records(out, split)
  test = [tf_example_decoder.TfExampleDecoder().decode(r)
          for r in records(out, canvases.TEST)]
  assert len(test) == 6
  with open(out['test_annotations']) as f:
    coco = json.load(f)
  assert sorted(im['id'] for im in coco['images']) == sorted(
      int(d['source_id']) for d in test) == [
          canvases.source_id(canvases.TEST, i) for i in range(6)]
  assert len(coco['annotations']) == sum(
      int(d['groundtruth_classes'].shape[0]) for d in test)
  # Rendered again from the test pool alone: the same pixels.
  images, targets = canvases.load_digits()
  pool = canvases.split_sources(len(images), seed=4)[canvases.TEST]
  rng = np.random.RandomState(4 * 1000 + 5)
  for decoded in test:
    again = canvases.render_canvas(rng, images, targets, pool)
    np.testing.assert_array_equal(decoded['image'].numpy(), again.image)


def test_rendering_is_deterministic_and_labels_agree():
  images, targets = canvases.load_digits()
  pool = np.arange(100)
  c1 = canvases.render_canvas(np.random.RandomState(3), images, targets, pool)
  c2 = canvases.render_canvas(np.random.RandomState(3), images, targets, pool)
  np.testing.assert_array_equal(c1.image, c2.image)
  np.testing.assert_array_equal(c1.boxes, c2.boxes)
  assert len(c1.boxes) >= 1 and set(c1.classes) <= set(range(1, 11))
  for box, cls in zip(c1.boxes, c1.classes):
    y0, x0, y1, x1 = (box * 128).round().astype(int)
    inside = c1.mask[y0:y1, x0:x1]
    assert (inside == cls).sum() > 0  # The box holds its digit's pixels.
  assert set(np.unique(c1.mask)) <= set(range(0, 11))


def test_model_garden_decoders_read_the_records(digits_data):
  files = tf.io.gfile.glob(digits_data['val'])
  record = next(iter(tf.data.TFRecordDataset(files)))
  det = tf_example_decoder.TfExampleDecoder().decode(record)
  seg = segmentation_input.Decoder().decode(record)
  assert det['groundtruth_boxes'].shape[1] == 4
  assert int(det['source_id']) >= 2_000_000  # val ids are numeric.
  boxes = det['groundtruth_boxes'].numpy()
  assert ((boxes >= 0) & (boxes <= 1)).all()
  assert 'image/segmentation/class/encoded' in seg
  unlabeled = next(iter(tf.data.TFRecordDataset(
      tf.io.gfile.glob(digits_data['unlabeled']))))
  example = tf.train.Example.FromString(unlabeled.numpy())
  assert 'image/object/bbox/xmin' not in example.features.feature


def test_coco_annotations_match_records(digits_data):
  with open(digits_data['val_annotations']) as f:
    coco = json.load(f)
  assert len(coco['images']) == 16
  assert {c['id'] for c in coco['categories']} == set(range(1, 11))
  n_boxes = 0
  for record in tf.data.TFRecordDataset(tf.io.gfile.glob(digits_data['val'])):
    n_boxes += int(tf_example_decoder.TfExampleDecoder().decode(record)[
        'groundtruth_classes'].shape[0])
  assert n_boxes == len(coco['annotations'])


def test_calibration_split_leaves_the_other_splits_unchanged(tmp_path):
  def records(out, split):
    return [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(tf.io.gfile.glob(out[split])))]

  without = canvases.make_dataset(str(tmp_path / 'a'), seed=2, num_train=6,
                                num_unlabeled=4, num_val=4, num_shards=1,
                                num_test=2)
  with_cal = canvases.make_dataset(str(tmp_path / 'b'), seed=2, num_train=6,
                                 num_unlabeled=4, num_val=4, num_shards=1,
                                 num_calibration=5, num_test=2)
  assert canvases.CALIBRATION not in without
  for split in canvases.SPLITS:
    assert records(without, split) == records(with_cal, split)
  calibration = records(with_cal, canvases.CALIBRATION)
  assert len(calibration) == 5
  assert not set(calibration) & set(records(with_cal, 'train'))
  det = tf_example_decoder.TfExampleDecoder().decode(calibration[0])
  assert int(det['source_id']) >= 3_000_000
  assert det['groundtruth_classes'].shape[0] >= 1


def test_classification_splits_hold_every_digit_read_by_model_garden(
    tmp_path):
  from official.vision.dataloaders import classification_input  # pylint: disable=g-import-not-at-top

  def records(out, split):
    return [r.numpy() for r in tf.data.TFRecordDataset(
        sorted(tf.io.gfile.glob(out[split])))]

  kw = dict(seed=1, num_train=3, num_unlabeled=6, num_val=4, num_shards=2,
            num_test=2)
  plain = canvases.make_dataset(str(tmp_path / 'a'), **kw)
  out = canvases.make_dataset(str(tmp_path / 'b'), classification=True, **kw)
  for split in canvases.SPLITS:  # The detection data does not change.
    assert records(plain, split) == records(out, split)
  # The digits of the canvases, in order: rendered again from the seed.
  images, targets = canvases.load_digits()
  sources = canvases.split_sources(len(images), seed=1)
  for k, split in enumerate(canvases.SPLITS):
    if split not in canvases.CLASSIFICATION:
      continue
    rng = np.random.RandomState(1000 + k)
    rendered = [canvases.render_canvas(rng, images, targets, sources[split])
                for _ in range(kw[f'num_{split}'])]
    want = sorted(int(c) - 1 for canvas in rendered for c in canvas.classes)
    crops = records(out, canvases.CLASSIFICATION[split])
    decoder = classification_input.Decoder()
    parser = classification_input.Parser(
        output_size=[32, 32], num_classes=canvases.NUM_DIGIT_CLASSES,
        decode_jpeg_only=False, aug_rand_hflip=False)
    labels = []
    for crop in crops:
      image, label = parser.parse_fn(is_training=True)(decoder.decode(
          tf.constant(crop)))
      assert image.shape == (32, 32, 3)
      labels.append(int(label))
    assert sorted(labels) == want and len(labels) > kw[f'num_{split}']


def test_digit_crops_are_square_around_the_digit_and_clipped():
  mask = np.zeros((128, 128), np.uint8)
  canvas = canvases.Canvas(
      image=np.arange(128 * 128 * 3, dtype=np.int64).reshape(
          128, 128, 3).astype(np.uint8),
      boxes=np.array([[0.5, 0.25, 0.75, 0.375],  # 32 x 16 px at (64, 32).
                      [0.0, 0.0, 0.125, 0.125]], np.float32),
      classes=np.array([4, 10]), mask=mask)
  (first, label1), (corner, label2) = list(canvases.digit_crops(canvas, 0.25))
  # Side: the longer edge (32) * 1.5 around the centre (80, 40).
  assert first.shape == (48, 48, 3) and label1 == 3
  np.testing.assert_array_equal(first, canvas.image[56:104, 16:64])
  # The corner digit (16 px) is clipped at the canvas' edge: 12 + 8 px.
  assert corner.shape == (20, 20, 3) and label2 == 9

"""Segmentation self-training: pseudo masks from a real exported DeepLabV3+
teacher, the ignore label in the loss, and selftrain_digits_seg end to end
(label on first use -> student -> mIoU; export and round 2: demo_test)."""

import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.data import record_files
from official_ext.data import sharded_writer
from official_ext.digits import canvases
from official_ext.configs import recipes
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline
from official_ext.labeling import teacher as teacher_lib
from official_ext.self_training import first_use

from conftest import FAST_SEGMENTER
from conftest import fast_segmenter
from conftest import write_odd_jpeg_record
from conftest import read_scalars
from conftest import run_tool

STEPS = 30


def _records(pattern):
  files = record_files.match(pattern)  # As every reader selects files.
  return [r.numpy() for r in tf.data.TFRecordDataset(files)]


def _features(record):
  return tf.train.Example.FromString(record).features.feature


def _reference_mask(teacher, image, threshold):
  """Argmax/threshold of the SavedModel's own logits, cropped to the image's
  part of its padded input and resized to the original size (TF ops)."""
  out = teacher(image[None])
  logits = tf.constant(out['logits'][0])
  # image_info rows: original size, padded size, scale, offset.
  info = out['image_info'][0]
  scaled = np.round(info[0] * info[2]).astype(int)
  logits = logits[:scaled[0], :scaled[1]]
  logits = tf.image.resize(logits[None], image.shape[:2], 'bilinear')[0]
  probs = tf.nn.softmax(logits, axis=-1)
  confidence = tf.reduce_max(probs, axis=-1)
  mask = tf.where(confidence >= threshold, tf.argmax(probs, axis=-1), 255)
  return mask.numpy().astype(np.uint8), confidence.numpy()


@pytest.fixture(scope='module')
def seg_setup(digits_seg_teacher, digits_data, tmp_path_factory):
  """Unlabeled squares + a non-square JPEG, a threshold that keeps some
  pixels and ignores others, and the labeled output."""
  root = str(tmp_path_factory.mktemp('seg_pl'))
  teacher = teacher_lib.Teacher(digits_seg_teacher, 'segmentation')
  images, targets = canvases.load_digits()
  odd_path = os.path.join(root, 'odd.tfrecord')
  odd = write_odd_jpeg_record(odd_path, images, targets)
  inputs = _records(digits_data['unlabeled'])
  first = tf.io.decode_image(_features(inputs[0])['image/encoded']
                             .bytes_list.value[0], channels=3).numpy()
  _, confidence = _reference_mask(teacher, first, 0.0)
  # Keeps about 90% of the first image's pixels (the teacher is sure of the
  # background, unsure near digits); floored so that some are kept even
  # when most confidences are ~1.
  threshold = math.floor(float(np.quantile(confidence, 0.1)) * 1e4) / 1e4
  prefix = os.path.join(root, 'pseudo')
  report = pipeline.label(labeling_options.LabelingOptions(
      teacher=digits_seg_teacher, task='segmentation',
      input_pattern=f"{digits_data['unlabeled']},{odd_path}",
      output_prefix=prefix, score_threshold=threshold, num_shards=3,
      show_progress=False))
  outputs = {}
  for r in _records(sharded_writer.output_pattern(prefix)):
    f = _features(r)
    outputs[f['image/source_id'].bytes_list.value[0]] = f
  return dict(teacher=teacher, inputs=inputs, outputs=outputs, report=report,
              threshold=threshold, prefix=prefix, odd=odd,
              odd_path=odd_path)


def _mask_of(feature):
  return tf.io.decode_png(feature['image/segmentation/class/encoded']
                          .bytes_list.value[0]).numpy()[..., 0]


def test_pseudo_masks_equal_the_teachers_logits(seg_setup):
  s = seg_setup
  assert len(s['outputs']) == len(s['inputs']) + 1 == 17
  ignored = kept = 0
  for record in s['inputs']:
    feature = _features(record)
    sid = feature['image/source_id'].bytes_list.value[0]
    encoded = feature['image/encoded'].bytes_list.value[0]
    image = tf.io.decode_image(encoded, channels=3).numpy()
    expected, _ = _reference_mask(s['teacher'], image, s['threshold'])
    got = s['outputs'][sid]
    mask = _mask_of(got)
    assert mask.shape == (128, 128)
    # Equal but for float ties at the threshold.
    assert np.mean(mask == expected) >= 0.999
    assert got['image/encoded'].bytes_list.value[0] == encoded
    ignored += int((mask == 255).sum())
    kept += int((mask != 255).sum())
  assert ignored > 0 and kept > 0, 'threshold untested'


def test_non_square_mask_maps_back(seg_setup, tmp_path):
  s = seg_setup
  mask = _mask_of(s['outputs'][b'777'])
  assert mask.shape == (96, 160)
  # Geometry: at threshold 0 (argmax everywhere, no flips at the threshold)
  # the mask equals the teacher run on the original image with its own
  # resize and padding, but for resize rounding.
  pipeline.label(labeling_options.LabelingOptions(
      teacher=s['teacher'].path, task='segmentation',
      input_pattern=s['odd_path'], output_prefix=str(tmp_path / 'p'),
      score_threshold=0.0, show_progress=False))
  (record,) = _records(sharded_writer.output_pattern(str(tmp_path / 'p')))
  argmax = _mask_of(_features(record))
  expected, _ = _reference_mask(s['teacher'], s['odd'], 0.0)
  assert (argmax != 255).all()
  assert np.mean(argmax == expected) >= 0.97


def test_segmentation_report(seg_setup):
  report = seg_setup['report']
  pixels = 16 * 128 * 128 + 96 * 160
  counted = sum(report['class_pixel_counts'].values())
  assert counted == pytest.approx((1 - report['ignored_fraction']) * pixels)
  assert 0 < report['ignored_fraction'] < 1
  assert sum(report['confidence_histogram']) == pixels
  assert report['images_labeled'] == 17
  assert len(os.listdir(seg_setup['prefix'] + '_overlays')) == 4


def test_ignored_pixels_add_no_loss():
  params = exp_factory.get_exp_config('selftrain_digits_seg')
  task = task_factory.get_task(params.task)
  rng = np.random.RandomState(0)
  logits = rng.normal(size=[2, 16, 16, 11]).astype(np.float32)
  masks = rng.randint(0, 11, size=[2, 16, 16, 1])
  ignore = rng.rand(2, 16, 16, 1) < 0.4
  masks = np.where(ignore, 255, masks)
  labels = {'masks': tf.constant(masks, tf.int32)}
  loss, _ = task.split_losses({'logits': tf.constant(logits)}, labels)
  # Anything at the ignored pixels changes nothing.
  noisy = np.where(ignore, rng.normal(size=logits.shape) * 50, logits)
  loss_noisy, _ = task.split_losses({'logits': tf.constant(noisy, tf.float32)},
                                    labels)
  assert float(loss) == pytest.approx(float(loss_noisy), rel=1e-6)
  # And the loss is the mean cross-entropy over the other pixels.
  log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
  valid = ~ignore[..., 0]
  picked = np.take_along_axis(
      log_probs, np.where(valid, masks[..., 0], 0)[..., None], -1)[..., 0]
  assert float(loss) == pytest.approx(-picked[valid].mean(), rel=1e-4)


@pytest.fixture(scope='module')
def seg_student(digits_data, digits_seg_teacher, tmp_path_factory):
  root = str(tmp_path_factory.mktemp('seg_student'))
  model_dir = os.path.join(root, 'model')
  overrides = ','.join([
      f"task.train_data.input_path={digits_data['train']}",
      f"task.pseudo_data.input_path={digits_data['unlabeled']}",
      f"task.validation_data.input_path={digits_data['val']}",
      f'task.self_training.teacher={digits_seg_teacher}',
      *recipes.schedule_overrides(STEPS, interval=15, warmup=5)])
  run_tool(['train.py', '--experiment=selftrain_digits_seg',
            f'--config_file={recipes.recipe_path(FAST_SEGMENTER)}',
            '--mode=train_and_eval', f'--model_dir={model_dir}',
            f'--params_override={overrides}'])
  return dict(root=root, model_dir=model_dir)


def test_seg_student_trains_on_first_use_labels(seg_student):
  pseudo = os.path.join(seg_student['model_dir'],
                        first_use.PSEUDO_LABEL_SUBDIR)
  with open(os.path.join(pseudo, 'pseudo_report.json')) as f:
    report = json.load(f)
  assert report['task'] == 'segmentation' and report['images_labeled'] == 16
  scalars = read_scalars(os.path.join(seg_student['model_dir'], 'train'))
  for tag in ('human_loss', 'pseudo_loss', 'total_loss', 'loss_norm_ratio',
              'pseudo_ignored_fraction'):
    values = [v for _, v in sorted(scalars[tag])]
    assert len(values) == STEPS // 15 and all(map(math.isfinite, values)), tag
  human = [v for _, v in sorted(scalars['human_loss'])]
  assert human[-1] < human[0], human
  ignored = [v for _, v in sorted(scalars['pseudo_ignored_fraction'])]
  assert all(0.0 <= v <= 1.0 for v in ignored)
  validation = read_scalars(os.path.join(seg_student['model_dir'],
                                         'validation'))
  assert validation['mean_iou'][-1][0] == STEPS
  assert 0.0 < validation['mean_iou'][-1][1] <= 1.0


def test_non_finite_loss_stops_the_step_before_the_update(digits_data):
  # The guard is the shared core's (self_training/task.py); the segmenter
  # traces its step in a fraction of the detector's time. Its ReLUs
  # (FAST_SEGMENTER's ResNet) turn NaN pixels into zeros, so the NaN goes
  # into the head's bias: NaN logits.
  params = fast_segmenter(exp_factory.get_exp_config('selftrain_digits_seg'))
  params.task.train_data.input_path = digits_data['train']
  params.task.pseudo_data.input_path = digits_data['train']
  task = task_factory.get_task(params.task)
  model = task.build_model()
  optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                    params.runtime)
  metrics = task.build_metrics()
  inputs = next(iter(task.build_inputs(params.task.train_data)))
  step = tf.function(lambda inputs: task.train_step(inputs, model, optimizer,
                                                    metrics))
  head_bias = model.trainable_variables[-1]
  assert 'bias' in head_bias.name, head_bias.name
  good_bias = head_bias.numpy()
  head_bias.assign(np.full_like(good_bias, np.nan))
  before = [v.numpy().copy() for v in model.trainable_variables]
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match=r'Non-finite loss:\] \[step\] \[1\].*pseudo_loss\] \[-?nan'):
    step(inputs)
  assert int(optimizer.iterations.numpy()) == 0
  for old, var in zip(before, model.trainable_variables):
    np.testing.assert_array_equal(old, var.numpy())
  head_bias.assign(good_bias)
  step(inputs)  # A finite loss still trains.
  assert int(optimizer.iterations.numpy()) == 1

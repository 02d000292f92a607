"""Online self-training (task.self_training.mode: online): the EMA teacher's
arithmetic and burn-in, its place in the checkpoint, the two views of one
unlabeled image, in-step pseudo masks against the offline labeler's rule,
training steps on one and on two replicas. In-process, on the digits
segmenter (ResNet-18 x0.25)."""

import sys

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from official.core import exp_factory
from official.core import task_factory
from official.vision.ops import anchor
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.dataloaders import segmentation_input
from official_ext.labeling import labelers
from official_ext.labeling import segmentation_masks
from official_ext.self_training import online_teacher
from official_ext.self_training import task as st_task
from official_ext.tasks import selftrain_segmentation

from conftest import assert_script_checks_pass
from conftest import fast_detector
from conftest import fast_segmenter


def _tiny(seed):
  tf_keras.utils.set_random_seed(seed)
  model = tf_keras.Sequential([tf_keras.layers.Dense(3),
                               tf_keras.layers.BatchNormalization()])
  model.build([None, 2])
  return model


def test_ema_arithmetic_burn_in_copy_then_average():
  student, network = _tiny(0), _tiny(1)
  teacher = online_teacher.OnlineTeacher(network, student, decay=0.75,
                                         burn_in_steps=2)
  assert not network.trainable and not teacher.trainable_weights
  pairs = list(zip(network.variables, student.variables))
  assert len(pairs) == 6  # kernel, bias, gamma, beta, moving mean/variance.
  rng = np.random.RandomState(0)

  def student_moves():
    for _, s in pairs:
      s.assign(rng.normal(size=s.shape).astype(np.float32))

  expected_weights = []
  for step in range(5):
    assert float(teacher.pseudo_weight()) == (1.0 if step >= 2 else 0.0)
    before = [t.numpy() for t, _ in pairs]
    student_moves()
    teacher.update()
    assert int(teacher.step.numpy()) == step + 1
    for (t, s), old in zip(pairs, before):
      # Steps 0 and 1 (burn-in): a copy; then 0.75 * teacher + 0.25 * student.
      want = s.numpy() if step < 2 else 0.75 * old + 0.25 * s.numpy()
      np.testing.assert_allclose(t.numpy(), want, rtol=1e-6, atol=1e-7)
    expected_weights.append(float(teacher.pseudo_weight()))
  assert expected_weights == [0.0, 1.0, 1.0, 1.0, 1.0]


def test_mismatched_network_is_refused():
  other = tf_keras.Sequential([tf_keras.layers.Dense(4)])
  other.build([None, 2])
  with pytest.raises(ValueError, match='does not match the student'):
    online_teacher.OnlineTeacher(other, _tiny(0), 0.9, 1)


def _params(digits_data, **self_training):
  params = fast_segmenter(exp_factory.get_exp_config('selftrain_digits_seg'))
  params.task.train_data.input_path = digits_data['train']
  params.task.pseudo_data.input_path = digits_data['unlabeled']
  params.task.self_training.mode = 'online'
  params.task.self_training.override(self_training)
  return params


def test_teacher_is_in_the_checkpoint_and_restored(digits_data, tmp_path):
  params = _params(digits_data, burn_in_steps=1)
  task = task_factory.get_task(params.task)
  model = task.build_model()
  teacher = getattr(model, online_teacher.ATTR)
  # Not trained: the student's trainable variables are its own.
  student_trainable = {id(v) for v in model.trainable_variables}
  assert not student_trainable & {id(v) for v in teacher.network.variables}
  for t, _ in teacher.pairs:
    t.assign(tf.random.normal(t.shape, dtype=t.dtype) if t.dtype.is_floating
             else t)
  teacher.step.assign(7)
  path = tf.train.Checkpoint(model=model).save(str(tmp_path / 'ckpt'))
  names = [n for n, _ in tf.train.list_variables(path)]
  ours = [n for n in names if n.startswith('model/online_teacher/')]
  assert len(ours) == len(teacher.network.variables) + 1  # + step.
  again = task.build_model()
  tf.train.Checkpoint(model=again).read(path).assert_existing_objects_matched()
  restored = getattr(again, online_teacher.ATTR)
  assert int(restored.step.numpy()) == 7
  for a, b in zip(teacher.network.variables, restored.network.variables):
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_two_views_share_geometry(digits_data, monkeypatch):
  """One decode, one geometry: the strong view is the weak one with
  photometric ops only. With an 'augmenter' that inverts pixels, strong ==
  inverse(weak) to the pixel under scale jitter, crop and flip."""
  params = _params(digits_data)
  params.task.pseudo_data.augmentation_preset = 's4'  # Jitter + flip.
  feature = params.task.pseudo_data.image_feature
  mean = np.array(feature.mean[:3], np.float32)
  stddev = np.array(feature.stddev[:3], np.float32)

  def invert(image):  # Normalized image -> the normalized 255 - pixels.
    return (255.0 - (image * stddev + mean) - mean) / stddev

  monkeypatch.setattr(segmentation_input, 'photometric_fn',
                      lambda *unused: invert)
  task = task_factory.get_task(params.task)
  _, (strong, labels) = next(iter(task.build_inputs(params.task.train_data)))
  weak = labels[st_task.TEACHER_IMAGE]
  assert strong.shape == weak.shape == (8, 128, 128, 3)
  np.testing.assert_allclose(strong.numpy(), invert(weak).numpy(), atol=1e-4)
  # The record's mask is not read: 0 on the image, 255 on the padding.
  masks = labels['masks'].numpy()
  assert set(np.unique(masks)) <= {0.0, 255.0}
  info = labels['image_info'].numpy()
  assert (info[:, 2, 0] < 1).any(), 'no image was scaled down'
  for mask, image_info in zip(masks[..., 0], info):
    extent = np.minimum(np.round(image_info[0] * image_info[2]) -
                        image_info[3], 128).astype(int)
    assert (mask[:extent[0], :extent[1]] == 0).all()
    assert mask.sum() == 255 * (mask.size - extent[0] * extent[1])


def test_real_strong_view_is_photometric(digits_data):
  params = _params(digits_data)
  params.task.pseudo_data.augmentation_preset = 's4'
  task = task_factory.get_task(params.task)
  _, (strong, labels) = next(iter(task.build_inputs(params.task.train_data)))
  weak = labels[st_task.TEACHER_IMAGE]
  assert strong.shape == weak.shape
  differs = np.abs(strong.numpy() - weak.numpy()).max(axis=(1, 2, 3)) > 0.1
  assert differs.sum() >= 4, differs  # RandAugment, 2 ops per image.


def test_in_step_masks_follow_the_offline_labelers_rule(digits_data):
  """The student's masks of one batch, made in the step from the teacher's
  logits, equal the offline labeler's masks (segmentation_masks.segment_batch: its
  thresholds, ties, ignore label) on the same logits; padding is ignored."""
  params = _params(digits_data, class_thresholds='')
  task = task_factory.get_task(params.task)
  _, (_, labels) = next(iter(task.build_inputs(params.task.train_data)))
  # Teacher logits at a quarter of the label size (resized in the step);
  # spread enough that some pixels pass their class's threshold.
  num_classes = params.task.model.num_classes
  small = tf.random.stateless_normal([8, 32, 32, num_classes], [1, 2]) * 3.0
  logits = tf.image.resize(small, [128, 128], method='bilinear')
  thresholds = np.linspace(0.2, 0.9, num_classes).astype(np.float32)
  online = task.online_pseudo_labels({'logits': small}, labels,
                                     tf.constant(thresholds))
  n = logits.shape[0]
  full = np.full([n, 2], 128, np.int32)
  pngs, _, _ = segmentation_masks.segment_batch(logits, full, full, thresholds)
  offline = np.stack([tf.io.decode_png(p).numpy()[..., 0] for p in pngs])
  mask = online['masks'].numpy()[..., 0]
  padding = labels['masks'].numpy()[..., 0] == 255
  assert padding.any() and (mask[padding] == 255).all()
  np.testing.assert_array_equal(mask[~padding], offline[~padding])
  kept = mask[~padding] != 255
  assert 0.05 < kept.mean() < 0.95, kept.mean()  # Both kinds of pixel.
  np.testing.assert_array_equal(online['valid_masks'].numpy()[..., 0],
                                mask != 255)


def _steps(task, model, optimizer, inputs, num_steps, strategy=None):
  """Runs `num_steps` train steps; returns, per step, the student's
  variables after it and the teacher's after it, and the logs."""
  teacher = getattr(model, online_teacher.ATTR)
  pairs = teacher.pairs

  def replica_step(batch):
    return task.train_step(batch, model, optimizer, metrics=None)

  if strategy is None:
    step = tf.function(replica_step)
  else:
    step = tf.function(lambda batch: strategy.run(replica_step, args=(batch,)))
  history = []
  for _ in range(num_steps):
    logs = step(next(inputs))
    history.append(([s.numpy() for _, s in pairs],
                    [t.numpy() for t, _ in pairs], logs))
  return history


def test_online_steps_burn_in_then_moving_average_on_two_replicas(
    digits_data, two_replica_strategy):
  """Four online steps under MirroredStrategy (2 replicas): steps 0-1 are
  burn-in (the teacher is then a copy), steps 2-3 move the average, for
  every variable: the weights (one value on both replicas) and the
  batch-norm statistics (per replica; their mean, as read, follows the
  same arithmetic since the average is linear)."""
  decay = 0.5
  params = _params(digits_data, burn_in_steps=2, ema_decay=decay,
                   score_threshold=0.0)
  for data in (params.task.train_data, params.task.pseudo_data):
    data.global_batch_size = 4
  strategy = two_replica_strategy
  with strategy.scope():
    task = task_factory.get_task(params.task)
    model = task.build_model()
    optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                      params.runtime)
  inputs = iter(strategy.distribute_datasets_from_function(
      lambda ctx: task.build_inputs(params.task.train_data, ctx)))
  history = _steps(task, model, optimizer, inputs, 4, strategy)
  teacher = getattr(model, online_teacher.ATTR)
  assert int(teacher.step.numpy()) == 4
  pairs = teacher.pairs
  previous = None
  for step, (student, teacher_values, logs) in enumerate(history):
    for s, t, old in zip(student, teacher_values, previous or teacher_values):
      want = s if step < 2 else decay * old + (1 - decay) * s
      np.testing.assert_allclose(t, want, rtol=1e-5, atol=1e-6)
    previous = teacher_values
    # Threshold 0 keeps every pixel of the image: nothing but padding is
    # ignored, and the pseudo loss is a real loss.
    for value in strategy.experimental_local_results(
        logs['pseudo_ignored_fraction']):
      assert float(value) == 0.0
  mirrored = [t for t, s in pairs
              if s.synchronization != tf.VariableSynchronization.ON_READ]
  assert len(mirrored) == len(model.trainable_variables)
  for t in mirrored:
    copies = [v.numpy() for v in t.values]
    np.testing.assert_array_equal(copies[0], copies[1])
  # After burn-in the student has moved away from the teacher it copied.
  assert any(not np.allclose(s, t) for s, t in zip(*history[-1][:2]))


def test_ignored_fraction_leaves_out_padding_of_a_scaled_down_image():
  """An image scaled by 0.5 covers 4x4 of an 8x8 label; the rest is padding
  (255). 4 of its 16 pixels are ignored: 0.25, not (4 + 48) / 64."""
  mask = np.full([1, 8, 8, 1], 255, np.float32)
  mask[0, :4, :4] = 1
  mask[0, 0, :4] = 255
  info = np.array([[[8, 8], [8, 8], [0.5, 0.5], [0, 0]]], np.float32)
  got = selftrain_segmentation.ignored_fraction(
      {'masks': tf.constant(mask), 'image_info': tf.constant(info)}, 255)
  assert float(got) == pytest.approx(0.25)


def test_export_picks_the_teacher_or_the_student(tmp_path):
  """`--export_model=teacher` (default) exports the EMA teacher's weights,
  `student` the student's: every exported variable equals its source in the
  checkpoint. A checkpoint without an online teacher refuses an explicit
  `teacher`. The export tool runs in-process in a child (this file as a
  script): Model Garden's export module defines absl flags that other
  tools' modules, imported by other test files in the same pytest worker,
  define too."""
  assert_script_checks_pass(__file__, tmp_path)


def _export_checks(root):
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  from absl.testing import flagsaver  # pylint: disable=g-import-not-at-top
  from official.modeling import hyperparams  # pylint: disable=g-import-not-at-top
  from official_ext.serving import export_saved_model  # pylint: disable=g-import-not-at-top
  flags.FLAGS(['online_teacher_test'])
  params = fast_segmenter(exp_factory.get_exp_config('selftrain_digits_seg'))
  params.task.self_training.mode = 'online'
  model = task_factory.get_task(params.task).build_model()
  teacher = getattr(model, online_teacher.ATTR)
  for t in teacher.network.trainable_weights:
    t.assign_add(tf.ones_like(t))
  model_dir = f'{root}/model'
  checkpoint = tf.train.Checkpoint(model=model).save(f'{model_dir}/ckpt')
  hyperparams.save_params_dict_to_yaml(params, f'{model_dir}/params.yaml')
  experiment = dict(experiment='selftrain_digits_seg',
                    config_file=[f'{model_dir}/params.yaml'])
  for which, source in (('teacher', 'model/online_teacher/network/'),
                        ('student', 'model/')):
    export_dir = f'{root}/{which}'
    with flagsaver.flagsaver(export_dir=export_dir, checkpoint_path=model_dir,
                             export_model=which, **experiment):
      export_saved_model.main([])
    exported = f'{export_dir}/saved_model/variables/variables'
    names = [n for n, _ in tf.train.list_variables(exported)
             if n.startswith('model/')]
    assert len(names) == len(teacher.network.variables), names
    for name in names:
      np.testing.assert_array_equal(
          tf.train.load_variable(exported, name),
          tf.train.load_variable(checkpoint, source + name[len('model/'):]))
  plain = params.replace(task={'self_training': {'mode': 'offline'}})
  offline_dir = f'{root}/offline'
  tf.train.Checkpoint(model=task_factory.get_task(
      plain.task).build_model()).save(f'{offline_dir}/ckpt')
  with flagsaver.flagsaver(export_dir=f'{root}/x',
                           checkpoint_path=offline_dir, export_model='teacher',
                           **experiment):
    flags.FLAGS['export_model'].present = 1
    try:
      export_saved_model.main([])
      raise AssertionError('an explicit teacher of an offline checkpoint '
                           'was exported')
    except app.UsageError as e:
      assert 'holds no online teacher' in str(e), e
  print('all checks passed')


def test_detection_in_step_labels_follow_the_offline_labelers_rule(
    digits_data):
  """The online detection labels of a batch: the teacher's post-NMS boxes
  that the offline DetectionLabeler keeps (per-class thresholds, only the
  first num_detections), turned into anchor targets whose positives carry
  those boxes' classes; an image with no kept box has no positive."""
  from official_ext.tasks import selftrain_retinanet  # pylint: disable=g-import-not-at-top
  params = exp_factory.get_exp_config('selftrain_digits')
  params.task.train_data.input_path = digits_data['train']
  params.task.pseudo_data.input_path = digits_data['unlabeled']
  params.task.self_training.mode = 'online'
  for data in (params.task.train_data, params.task.pseudo_data):
    data.global_batch_size = 3
  task = task_factory.get_task(params.task)
  # The anchors and image info of three 128x128 parsed images (as the
  # parser makes them; no input pipeline).
  model_config = params.task.model
  anchors = anchor.build_anchor_generator(
      min_level=model_config.min_level, max_level=model_config.max_level,
      num_scales=model_config.anchor.num_scales,
      aspect_ratios=model_config.anchor.aspect_ratios,
      anchor_size=model_config.anchor.anchor_size)(image_size=(128, 128))
  labels = {'anchor_boxes': {k: tf.stack([v] * 3) for k, v in
                             anchors.items()},
            'image_info': tf.constant([[[128, 128], [128, 128], [1, 1],
                                        [0, 0]]] * 3, tf.float32)}
  outputs = {
      'detection_boxes': tf.constant(
          [[[10, 10, 40, 40], [60, 60, 100, 110], [0, 0, 20, 20]],
           [[30, 20, 70, 50], [5, 5, 9, 9], [0, 0, 0, 0]],
           [[10, 10, 40, 40], [0, 0, 0, 0], [0, 0, 0, 0]]], tf.float32),
      'detection_scores': tf.constant([[0.9, 0.45, 0.95], [0.3, 0.6, 0.0],
                                       [0.2, 0.0, 0.0]]),
      'detection_classes': tf.constant([[3, 5, 7], [5, 3, 0], [1, 0, 0]]),
      'num_detections': tf.constant([2, 2, 1])}
  num_classes = params.task.model.num_classes
  thresholds = np.full([num_classes], 0.5, np.float32)
  thresholds[5] = 0.25  # Class 5's own threshold.
  labeler = labelers.DetectionLabeler(0.5, class_thresholds={5: 0.25})
  offline = labeler.batch_labels(outputs, [1.0] * 3, [128] * 3, [128] * 3)
  boxes, classes, keep = selftrain_retinanet.kept_detections(
      outputs, tf.constant(thresholds))
  for i in range(3):
    np.testing.assert_allclose(boxes[i][keep[i]].numpy() / 128.0,
                               offline[i]['boxes'], atol=1e-6)
    np.testing.assert_array_equal(classes[i][keep[i]].numpy(),
                                  offline[i]['classes'])
  # Kept: image 0 boxes 0, 1 (class 5 at 0.45 >= 0.25; box 2 is past
  # num_detections); image 1 box 0 (class 5, 0.3) and box 1 (0.6); none in 2.
  assert keep.numpy().sum(axis=1).tolist() == [2, 2, 0]
  online = task.online_pseudo_labels(outputs, labels, tf.constant(thresholds))
  assert online['num_groundtruths'].numpy().tolist() == [2, 2, 0]
  for i, wanted in enumerate([{3, 5}, {5, 3}, set()]):
    positive = set()
    for level in online['cls_targets'].values():
      targets = level[i].numpy()
      positive |= set(targets[targets > 0].astype(int).tolist())
    assert positive == wanted, (i, positive)
  assert set(online) >= {'cls_targets', 'box_targets', 'cls_weights',
                         'box_weights', 'anchor_boxes', 'image_info'}


def test_detection_online_steps(digits_data):
  """The online detection student: after its burn-in step the teacher is an
  exact copy (the same outputs as the student, its head too: RetinaNet
  creates the head on its first call, and an unpaired head stayed
  untrained); then its post-NMS boxes (every score kept here) become the
  pseudo half's anchor targets and the pseudo box loss is a real loss."""
  params = fast_detector(exp_factory.get_exp_config('selftrain_digits'))
  params.task.train_data.input_path = digits_data['train']
  params.task.pseudo_data.input_path = digits_data['unlabeled']
  params.task.pseudo_data.augmentation_preset = 's4'
  params.task.model.detection_generator.pre_nms_score_threshold = 0.0
  params.task.self_training.override({
      'mode': 'online', 'burn_in_steps': 1, 'ema_decay': 0.9,
      'score_threshold': 0.0})
  for data in (params.task.train_data, params.task.pseudo_data):
    data.global_batch_size = 4
  task = task_factory.get_task(params.task)
  model = task.build_model()
  teacher = getattr(model, online_teacher.ATTR)
  assert len(teacher.pairs) == len(teacher.network.variables) == 161
  optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                    params.runtime)
  inputs = iter(task.build_inputs(params.task.train_data))
  step = tf.function(lambda batch: task.train_step(batch, model, optimizer,
                                                   metrics=None))
  first = step(next(inputs))
  assert float(first['pseudo_box_loss']) > 0  # Computed, weighed 0.
  (_, _), (_, labels) = next(inputs)
  kwargs = task.online_teacher_kwargs(labels)
  image = labels[st_task.TEACHER_IMAGE]
  theirs = teacher.predict(image, **kwargs)
  ours = model(image, training=False, **kwargs)
  for level in ours['cls_outputs']:
    np.testing.assert_allclose(theirs['cls_outputs'][level],
                               ours['cls_outputs'][level], atol=1e-5)
  logs = step(next(inputs))
  assert float(logs['pseudo_boxes_per_image']) > 1
  assert float(logs['pseudo_box_loss']) > 0
  assert np.isfinite(float(logs['total_loss']))

if __name__ == '__main__':
  _export_checks(sys.argv[1])

"""Pseudo-labeling through a SavedModel with Model Garden's export interface
(the fake teacher: no trained network, cheap and exact): exactness, shards,
ids, resume, labeling on first use. Real trained teachers label in
calibration_test, selftrain_retinanet_test and the demo test."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from official.vision.dataloaders import tf_example_decoder
from official_ext.configs import common
from official_ext.data import record_files
from official_ext.data import sharded_writer
from official_ext.data import tfexample
from official_ext.digits import canvases
from official_ext.labeling import input_pipeline
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline
from official_ext.labeling import teacher as teacher_lib
from official_ext.self_training import first_use

from conftest import child_failure
from conftest import write_odd_jpeg_record
from conftest import REPO
from conftest import python
from conftest import run_tool

# The digits teachers' input size: canvases of this size reach the teacher
# unresized, so its outputs on them are the reference, bit for bit.
SIZE = common.DIGITS_IMAGE_SIZE

def _first_use_options(task, teacher, pattern, out, threshold, **options):
  """The options a task labeling on first use into `out` passes."""
  return labeling_options.LabelingOptions(
      teacher=teacher, task=task, input_pattern=pattern,
      output_prefix=os.path.join(out, first_use.PSEUDO_PREFIX),
      score_threshold=threshold, show_progress=False, **options)


def _first_use(task, teacher, pattern, out, threshold, poll_seconds=10.0,
               stall_seconds=first_use.STALL_SECONDS, wait_seconds=None,
               **options):
  return first_use.label_on_first_use(
      _first_use_options(task, teacher, pattern, out, threshold, **options),
      poll_seconds=poll_seconds, stall_seconds=stall_seconds,
      wait_seconds=wait_seconds)



@pytest.fixture(scope='module')
def unlabeled(tmp_path_factory):
  """48 unlabeled digits canvases (SIZE x SIZE) in 6 files, plus a
  non-square JPEG file."""
  out = str(tmp_path_factory.mktemp('unlabeled'))
  images, targets = canvases.load_digits()
  canvases.write_split(out, 'unlabeled', 48, seed=5, pool=np.arange(300),
                     images=images, targets=targets, num_shards=6,
                     size=SIZE, with_labels=False)
  path = os.path.join(out, 'odd.tfrecord')
  write_odd_jpeg_record(path, images, targets)
  return dict(pattern=os.path.join(out, 'unlabeled-*'), odd=path)


def _label(teacher, pattern, prefix, **kwargs):
  return pipeline.label(labeling_options.LabelingOptions(
      teacher=teacher, input_pattern=pattern, output_prefix=prefix,
      show_progress=False, **kwargs))


def _records(pattern):
  files = record_files.match(pattern)  # As every reader selects files.
  return [r.numpy() for r in tf.data.TFRecordDataset(files)]


def test_pseudo_labels_equal_the_teachers_outputs(fake_teacher, unlabeled,
                                                  fake_threshold, tmp_path):
  report = _label(fake_teacher, unlabeled['pattern'], str(tmp_path / 'p'),
                  score_threshold=fake_threshold)
  teacher = teacher_lib.Teacher(fake_teacher, 'detection')
  decoder = tf_example_decoder.TfExampleDecoder()
  inputs = _records(unlabeled['pattern'])
  outputs = _records(sharded_writer.output_pattern(str(tmp_path / 'p')))
  # Shard j holds input files j, j+N, ...: compare per source id.
  by_id = {}
  for r in outputs:
    d = decoder.decode(tf.constant(r))
    by_id[d['source_id'].numpy()] = d
  assert len(by_id) == len(inputs) == report['images_labeled'] == 48
  total_boxes = dropped = 0
  for r in inputs:
    src = tf.train.Example.FromString(r).features.feature
    sid = src['image/source_id'].bytes_list.value[0]
    encoded = src['image/encoded'].bytes_list.value[0]
    image = tf.io.decode_image(encoded, channels=3)[None]
    out = teacher(image)
    n = int(out['num_detections'][0])
    keep = out['detection_scores'][0][:n] >= fake_threshold
    boxes = out['detection_boxes'][0][:n][keep] / SIZE
    got = by_id[sid]
    np.testing.assert_allclose(got['groundtruth_boxes'].numpy(),
                               np.clip(boxes, 0, 1), atol=1e-6)
    np.testing.assert_array_equal(got['groundtruth_classes'].numpy(),
                                  out['detection_classes'][0][:n][keep])
    assert got['image'].shape == (SIZE, SIZE, 3)
    assert tf.train.Example.FromString(r).features.feature[
        'image/encoded'].bytes_list.value[0] == encoded
    total_boxes += int(keep.sum())
    dropped += int((~keep).sum())
  assert total_boxes > 0, 'teacher too weak for the test: no boxes kept'
  assert dropped > 0, 'threshold dropped nothing: not tested'
  assert report['boxes_per_image_mean'] == pytest.approx(total_boxes / 48)
  assert sum(report['class_counts'].values()) == total_boxes
  assert sum(report['boxes_per_image_histogram']) == 48
  assert sum(report['score_histogram']) == total_boxes
  assert report['teacher_images_per_second'] > 0
  with open(str(tmp_path / 'p') + '_report.json') as f:
    assert json.load(f)['images_labeled'] == 48
  assert len(os.listdir(str(tmp_path / 'p') + '_overlays')) == 4


def test_non_square_image_boxes_map_back(fake_teacher, unlabeled, tmp_path):
  # Threshold 0: every detection is stored, so no box is lost or gained
  # at the threshold and the test always has boxes to compare.
  _label(fake_teacher, unlabeled['odd'], str(tmp_path / 'odd'),
         score_threshold=0.0)
  teacher = teacher_lib.Teacher(fake_teacher, 'detection')
  (record,) = _records(sharded_writer.output_pattern(str(tmp_path / 'odd')))
  got = tf_example_decoder.TfExampleDecoder().decode(tf.constant(record))
  assert got['source_id'].numpy() == b'777'
  assert got['image'].shape == (96, 160, 3)
  # Reference: the teacher on the very input the pipeline built, re-made
  # here (resize 96x160 to fit the teacher's square input, round to uint8,
  # pad with the teacher's pad value). Its boxes are pixels of that input;
  # mapped back by the fit's scale they are boxes of the original image.
  size = teacher.input_size[0]
  assert teacher.input_size == [size, size] and size != 160
  scale = size / 160
  fitted = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
      got['image'], [round(96 * scale), size], method='bilinear')), 0, 255),
                   tf.int32)
  pad = tf.constant(teacher.pad_value, tf.int32)
  padded = tf.image.pad_to_bounding_box(fitted - pad, 0, 0, size, size) + pad
  out = teacher(tf.cast(padded, tf.uint8)[None])
  n = int(out['num_detections'][0])
  reference = out['detection_boxes'][0][:n] / scale / [96, 160, 96, 160]
  boxes = got['groundtruth_boxes'].numpy()
  assert n > 0 and len(boxes) > 0
  assert abs(len(boxes) - n) <= 2

  def near(box, candidates):
    return bool((np.abs(candidates - box).max(axis=1) <= 0.01).any())

  # Stored boxes are the teacher's own, in original-image coordinates
  # (unmapped boxes of the teacher's input frame would be far off). Batch size
  # may move near-tied low scores across NMS, hence >= 0.95, not all.
  assert np.mean([near(b, np.clip(reference, 0, 1)) for b in boxes]) >= 0.95


def test_pseudo_records_keep_the_inputs_ids(fake_teacher, tmp_path):
  """Open Images / ImageNet ids are strings: the record gets a numeric
  image/source_id (Model Garden parses ints) and keeps the input's id in
  image/original_source_id and its image/filename; a numeric id stays."""
  images, targets = canvases.load_digits()
  canvas = canvases.render_canvas(np.random.RandomState(1), images, targets,
                                np.arange(300))
  inputs = [('n01440764_10026', 'train/n01440764/n01440764_10026.JPEG'),
            ('42', None), ('', 'no_id.png')]
  path = str(tmp_path / 'in.tfrecord')
  with tf.io.TFRecordWriter(path) as w:
    for sid, filename in inputs:
      w.write(tfexample.make_example(canvas.image, sid, filename=filename)
              .SerializeToString())
  _label(fake_teacher, path, str(tmp_path / 'p'), score_threshold=0.5)
  records = [tf.train.Example.FromString(r).features.feature for r in
             _records(sharded_writer.output_pattern(str(tmp_path / 'p')))]
  assert len(records) == 3
  decoded = [tf_example_decoder.TfExampleDecoder().decode(tf.constant(r))
             for r in _records(sharded_writer.output_pattern(
                 str(tmp_path / 'p')))]

  def value(feature, key):
    return (feature[key].bytes_list.value[0].decode() if key in feature
            else None)

  got = [(value(f, 'image/original_source_id'), value(f, 'image/filename'))
         for f in records]
  assert got == [(sid, filename) for sid, filename in inputs]
  ids = [value(f, 'image/source_id') for f in records]
  assert ids[1] == '42'
  assert ids[0] == tfexample.numeric_id(b'n01440764_10026')
  assert all(i.isdigit() for i in ids) and len(set(ids)) == 3
  assert [int(d['source_id'].numpy()) for d in decoded] == [int(i) for i in ids]


def test_two_workers_equal_one(fake_teacher, unlabeled, fake_threshold,
                              tmp_path):
  _label(fake_teacher, unlabeled['pattern'], str(tmp_path / 'one' / 'p'),
         score_threshold=fake_threshold)
  reports = [_label(fake_teacher, unlabeled['pattern'],
                   str(tmp_path / 'two' / 'p'), score_threshold=fake_threshold,
                   num_workers=2, worker_index=i) for i in (1, 0)]
  # Worker 1 finished first: its report names worker 0's shards as missing;
  # worker 0's, written last, covers all.
  assert reports[0]['shards_missing'] == [0, 2, 4]
  assert reports[0]['images_labeled'] == 24
  assert reports[1]['shards_missing'] == []
  assert reports[1]['images_labeled'] == 48
  with open(str(tmp_path / 'two' / 'p') + '_report.json') as f:
    assert json.load(f)['shards_complete'] == 6
  assert not tf.io.gfile.glob(str(tmp_path / 'two' / 'p') + '*.tmp*')
  one = sorted(tf.io.gfile.glob(str(tmp_path / 'one' / 'p-*.tfrecord')))
  two = sorted(tf.io.gfile.glob(str(tmp_path / 'two' / 'p-*.tfrecord')))
  assert [os.path.basename(f) for f in one] == [
      os.path.basename(f) for f in two]
  assert len(one) == 6
  for a, b in zip(one, two):
    with open(a, 'rb') as fa, open(b, 'rb') as fb:
      assert fa.read() == fb.read()


def test_worker_only_writes_its_shards(fake_teacher, unlabeled, tmp_path):
  report = _label(fake_teacher, unlabeled['pattern'], str(tmp_path / 'p'),
                  num_workers=3, worker_index=1, num_shards=3)
  files = sorted(os.path.basename(f) for f in
                 tf.io.gfile.glob(str(tmp_path / 'p-*.tfrecord')))
  assert files == ['p-00001-of-00003.tfrecord']
  assert report['shards_complete'] == 1 and report['num_shards'] == 3


def _tool(teacher, pattern, prefix, threshold):
  """tools/pseudo_label.py as the kill tests run it (batch 2: slow enough
  to be killed between shards)."""
  return [sys.executable, 'tools/pseudo_label.py', f'--teacher={teacher}',
          f'--input_pattern={pattern}', f'--output_prefix={prefix}',
          f'--score_threshold={threshold}', '--batch_size=2', '--no_progress']


_ENV = dict(os.environ, PYTHONPATH=REPO)


@pytest.fixture(scope='module')
def uninterrupted(slow_fake_teacher, unlabeled, fake_threshold,
                  tmp_path_factory):
  """Output prefix of one clean tool run, the bytes both kill tests expect."""
  prefix = str(tmp_path_factory.mktemp('clean') / 'p')
  run_tool(_tool(slow_fake_teacher, unlabeled['pattern'], prefix,
                 fake_threshold)[1:])
  return prefix


def _kill_after_first_shard(args, prefix):
  """Starts `args`, kill -9s it once shard 0 of `prefix` is final."""
  proc = subprocess.Popen(args, cwd=REPO, env=_ENV,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  first = sharded_writer.shard_path(prefix, 0, 6)
  deadline = time.time() + 300
  while not os.path.exists(first) and time.time() < deadline:
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  proc.wait()


def _assert_partial_then_identical_after(rerun, prefix, clean):
  """Some but not all shards final, each with its stats (nothing partial
  under a final name); after `rerun()` every shard equals the clean run's."""
  finals = tf.io.gfile.glob(prefix + '-*.tfrecord')
  assert finals, 'killed before the first shard: nothing to test'
  # Also fails when a labeler ran on after the kill and finished all 6.
  assert len(finals) < 6, 'all shards finished despite the kill'
  for f in finals:
    assert os.path.exists(f + '.stats.json')
  rerun()
  for j in range(6):
    with open(sharded_writer.shard_path(clean, j, 6), 'rb') as a, open(
        sharded_writer.shard_path(prefix, j, 6), 'rb') as b:
      assert a.read() == b.read(), j


def test_kill_mid_run_then_rerun_is_byte_identical(slow_fake_teacher, unlabeled,
                                                   fake_threshold,
                                                   uninterrupted, tmp_path):
  killed = str(tmp_path / 'killed' / 'p')
  args = _tool(slow_fake_teacher, unlabeled['pattern'], killed, fake_threshold)
  _kill_after_first_shard(args, killed)
  _assert_partial_then_identical_after(
      lambda: run_tool(args[1:]),
      killed, uninterrupted)


def _running(marker):
  """Processes whose command line contains `marker` (Linux /proc)."""
  found = []
  for pid in os.listdir('/proc'):
    try:
      with open(f'/proc/{pid}/cmdline', 'rb') as f:
        if marker.encode() in f.read():
          found.append(int(pid))
    except (OSError, ValueError):
      continue
  return found


def test_kill_during_label_on_first_use_then_rerun(slow_fake_teacher, unlabeled,
                                                   fake_threshold,
                                                   uninterrupted, tmp_path):
  """The training process (here: the call the task makes) is killed -9
  while its labeler child runs: the child dies too, no partial shard has a
  final name, and the restarted call gives the same bytes as the tool."""
  out = str(tmp_path / 'first_use')
  prefix = os.path.join(out, 'pseudo')
  args = (slow_fake_teacher, unlabeled['pattern'], out, fake_threshold)
  options = _first_use_options('detection', *args, batch_size=2)
  _kill_after_first_shard(
      [sys.executable, '-c', 'from official_ext.labeling import options; '
       'from official_ext.self_training import first_use; '
       f'first_use.label_on_first_use(options.{options!r})'], prefix)
  marker = f'--output_prefix={prefix}'
  deadline = time.time() + 30
  while _running(marker) and time.time() < deadline:
    time.sleep(0.1)
  assert not _running(marker), 'the labeler outlived its killed parent'

  def rerun():
    # The pattern of this run's 6 shards only, not any count's.
    assert _first_use(
        'detection', *args, batch_size=2) == prefix + '-*-of-00006.tfrecord'

  _assert_partial_then_identical_after(rerun, prefix, uninterrupted)


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_shards=7), 'only 6 input files'),
    (dict(score_threshold=1.5), 'score_threshold=1.5'),
    (dict(num_workers=2, worker_index=2), 'worker_index=2'),
])
def test_bad_arguments_fail_fast(kwargs, match, fake_teacher, unlabeled,
                                 tmp_path):
  config = dict(teacher=fake_teacher, input_pattern=unlabeled['pattern'],
                output_prefix=str(tmp_path / 'p'), show_progress=False)
  config.update(kwargs)
  with pytest.raises(ValueError, match=match):
    pipeline.label(labeling_options.LabelingOptions(**config))


def test_teacher_checks(fake_teacher, tmp_path):
  with pytest.raises(FileNotFoundError, match='does not exist'):
    teacher_lib.Teacher(str(tmp_path / 'nope'), 'detection')
  with pytest.raises(ValueError, match='predicts 11 classes.*num_classes=91'):
    teacher_lib.Teacher(fake_teacher, 'detection', num_classes=91)
  with pytest.raises(ValueError, match=r"lack \['logits'\]"):
    teacher_lib.Teacher(fake_teacher, 'segmentation')


def test_a_detector_without_params_yaml_or_image_info_is_refused(
    fake_teacher, digits_data, tmp_path):
  """Its boxes are in its own resized frame, which nothing then names: one
  line with both fixes, from the teacher check and from calibration (which
  used to fail with an IndexError)."""
  copy = str(tmp_path / 'no_params')
  shutil.copytree(fake_teacher, copy)
  os.remove(os.path.join(copy, 'params.yaml'))
  with pytest.raises(ValueError, match='no params.yaml.*no image_info.*'
                     'tools/export_saved_model.py.*params.yaml'):
    teacher_lib.Teacher(copy, 'detection')
  proc = python(
      ['-m', 'official_ext.tools.pseudo_label',
       f'--teacher={copy}', f"--input_pattern={digits_data['unlabeled']}",
       f'--output_prefix={tmp_path}/p/pseudo', '--no_progress',
       f"--calibration_pattern={digits_data['val']}"], timeout=300)
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith('pseudo_label.py: error: teacher'), last
  assert 'no params.yaml' in last and 'Traceback' not in proc.stderr


def test_slow_nms_export_is_flagged(fake_teacher, tmp_path):
  assert teacher_lib.Teacher(fake_teacher, 'detection').slow_export_reason is None
  copy = str(tmp_path / 'v2_teacher')
  shutil.copytree(fake_teacher, copy)
  params = os.path.join(copy, 'params.yaml')
  with open(params) as f:
    text = f.read()
  assert 'nms_version: batched' in text
  with open(params, 'w') as f:
    f.write(text.replace('nms_version: batched', 'nms_version: v2'))
  reason = teacher_lib.Teacher(copy, 'detection').slow_export_reason
  assert "nms_version='v2'" in reason and 'nms_version=batched' in reason


def test_empty_input_pattern(fake_teacher, tmp_path):
  with pytest.raises(FileNotFoundError, match='matches no file'):
    _label(fake_teacher, str(tmp_path / 'none-*'), str(tmp_path / 'p'))


def test_shards_stream_across_boundaries(fake_teacher, fake_threshold,
                                         tmp_path):
  """An empty input file still gets its (empty) finished shard, and records
  land in the shard of their file although batches span shards."""
  images, targets = canvases.load_digits()
  src = tmp_path / 'src'
  canvases.write_split(str(src), 'train', 5, seed=3, pool=np.arange(300),
                     images=images, targets=targets, num_shards=1,
                     with_labels=False)
  canvases.write_split(str(src), 'val', 3, seed=4, pool=np.arange(300),
                     images=images, targets=targets, num_shards=1,
                     with_labels=False)
  with tf.io.TFRecordWriter(str(src / 'u-empty.tfrecord')):
    pass
  report = _label(fake_teacher, str(src / '*.tfrecord'),
                  str(tmp_path / 'p'), score_threshold=fake_threshold,
                  batch_size=4)
  counts = [len(_records(sharded_writer.shard_path(str(tmp_path / 'p'), j, 3)))
            for j in range(3)]
  assert counts == [5, 0, 3]  # train-*, u-empty, val-* (sorted).
  assert report['images_labeled'] == 8 and report['shards_complete'] == 3
  assert not tf.io.gfile.glob(str(tmp_path / 'p-*.tmp-*'))


def test_short_batch_is_padded_for_a_fixed_batch_teacher():
  images = tf.zeros([3, 8, 8, 3], tf.uint8)
  assert input_pipeline.pad_batch(images, 8).shape == (8, 8, 8, 3)
  assert input_pipeline.pad_batch(images, None) is images
  assert input_pipeline.pad_batch(images, 3) is images


@pytest.mark.parametrize('where', ['local', 'ram'])
def test_first_use_names_the_log_when_the_labeler_fails(tmp_path, unlabeled,
                                                        where):
  """The labeler's log lands under model_dir/pseudo_labels, also when that
  is on another file system (ram:// stands for gs:// here: TensorFlow's
  in-memory one, which a child's stdout cannot be)."""
  out = (str(tmp_path / 'first_use') if where == 'local' else
         f'ram://{tmp_path}/first_use')
  with pytest.raises(RuntimeError, match=r'Pseudo-labeling failed \(exit 1\)'
                     r'\. Log: .*labeler-worker0\.log'):
    _first_use('detection', str(tmp_path / 'nope'),
               unlabeled['pattern'], out, 0.5,
               poll_seconds=0.2)
  with tf.io.gfile.GFile(os.path.join(out, 'labeler-worker0.log')) as f:
    assert 'does not exist' in f.read()  # The child's own error, as it ran.


def test_first_use_stops_a_stalled_labeler(fake_teacher, tmp_path):
  """A labeler that shows no progress (here: reading a FIFO nobody writes)
  is killed after stall_seconds, with a clear error."""
  fifo = str(tmp_path / 'stuck.tfrecord')
  os.mkfifo(fifo)
  start = time.time()
  with pytest.raises(RuntimeError, match='stalled: no log line and no '
                     'finished shard for 5 s; killed it'):
    _first_use('detection', fake_teacher, fifo,
               str(tmp_path / 'out'), 0.5, poll_seconds=0.5,
               stall_seconds=5)
  assert time.time() - start < 60
  assert not _running(f"--output_prefix={tmp_path / 'out' / 'pseudo'}")


def test_first_use_waits_for_other_workers_then_names_them(
    fake_teacher, unlabeled, tmp_path, monkeypatch):
  monkeypatch.setenv('TF_CONFIG', json.dumps({
      'cluster': {'worker': ['localhost:1', 'localhost:2']},
      'task': {'type': 'worker', 'index': 0}}))
  assert first_use.worker_slice() == (2, 0)
  out = str(tmp_path / 'out')
  with pytest.raises(RuntimeError, match=r'Waited 3 s for pseudo-label '
                     r'shards \[1, 3, 5\] \(3 missing\) from workers \[1\] of 2'):
    _first_use('detection', fake_teacher,
               unlabeled['pattern'], out, 0.5,
               poll_seconds=0.5, wait_seconds=3)
  # Worker 0 finished its own shards (0, 2, 4) before it waited.
  assert [sharded_writer.is_complete(sharded_writer.shard_path(
      os.path.join(out, 'pseudo'), j, 6)) for j in range(6)] == [
          True, False, True, False, True, False]


# ---- nothing stale: what made a shard is checked on every rerun ------------

def test_first_use_with_another_teacher_refuses_the_finished_labels(
    fake_teacher, slow_fake_teacher, unlabeled, fake_threshold, tmp_path):
  """A restarted job reuses its finished labels without a labeler; pointed
  at another teacher (or threshold), the finished shards were reused as if
  it had made them; now the labeler runs and stops the job naming what
  changed."""
  out = str(tmp_path / 'first_use')
  args = (unlabeled['pattern'], out, fake_threshold)
  pattern = _first_use('detection', fake_teacher, *args,
                       poll_seconds=0.2)
  shards = sorted(tf.io.gfile.glob(pattern))
  mtimes = [os.path.getmtime(p) for p in shards]
  assert _first_use('detection', fake_teacher, *args,
                    poll_seconds=0.2) == pattern
  for teacher, threshold, changed in [
      (slow_fake_teacher, fake_threshold, 'teacher'),
      (fake_teacher, min(1.0, fake_threshold + 0.1), 'thresholds')]:
    with pytest.raises(RuntimeError) as e:
      _first_use('detection', teacher, args[0], out,
                 threshold, poll_seconds=0.2)
    message = str(e.value)
    assert 'Pseudo-labeling failed' in message
    assert f'was made from other inputs than this run\'s (changed: {changed})' in (
        message)
  # Nothing was rewritten.
  assert [os.path.getmtime(p) for p in shards] == mtimes


def test_first_use_shortcut_compares_class_thresholds_and_tool_version(
    fake_teacher, unlabeled, fake_threshold, tmp_path, monkeypatch):
  """The shortcut that skips the labeler when every shard is finished
  compared teacher, inputs, shard count and the score threshold only: other
  per-class thresholds (a JSON file) or another tool version reused the old
  labels. With class_thresholds=auto (decided by the labeler's calibration)
  the labeler always runs."""
  out = str(tmp_path / 'first_use')
  args = (unlabeled['pattern'], out, fake_threshold)
  pattern = _first_use('detection', fake_teacher, *args,
                       poll_seconds=0.2)
  plan = first_use.shard_plan.plan_shards(
      first_use.shard_plan.input_files(unlabeled['pattern']), 0)

  def changed(flags=None):
    return first_use._changed_since(plan, _first_use_options(
        'detection', fake_teacher, unlabeled['pattern'], out, fake_threshold,
        **(flags or {})))

  assert changed() == []
  other = tmp_path / 'thresholds.json'
  other.write_text(json.dumps({'1': 0.99}))
  assert changed({'class_thresholds': str(other)}) == ['thresholds']
  monkeypatch.setattr(first_use.provenance, 'tool_version', lambda: '9.9')
  assert changed() == ['tool_version']
  monkeypatch.undo()
  # `auto`: the labeler runs (here a stand-in that records its command).
  commands = []
  monkeypatch.setattr(first_use, '_run_labeler',
                      lambda cmd, *unused: commands.append(cmd))
  flags = {'class_thresholds': 'auto', 'calibration_pattern': 'x'}
  assert _first_use('detection', fake_teacher, *args, **flags) == pattern
  assert len(commands) == 1
  assert {'--class_thresholds=auto', '--calibration_pattern=x'} <= set(
      commands[0])
  assert commands[0][-1].startswith('--die_with_parent=')
  assert _first_use('detection', fake_teacher, *args,
                    calibration_pattern='x') == pattern
  assert len(commands) == 1  # The shortcut again: nothing changed.

def test_rerun_with_other_inputs_refuses_instead_of_reusing(
    fake_teacher, unlabeled, digits_data, tmp_path):
  """Two files labeled into P/pseudo, then two other files into the same
  prefix: the old shards were kept as the new ones (exit 0); now the rerun
  stops with one line naming what changed, and --overwrite starts over."""
  prefix = str(tmp_path / 'P' / 'pseudo')
  files = record_files.match(unlabeled['pattern'])
  first, other = files[:2], files[2:4]
  _label(fake_teacher, ','.join(first), prefix, num_shards=2)
  with open(sharded_writer.stats_path(
      sharded_writer.shard_path(prefix, 0, 2))) as f:
    made_from = json.load(f)['made_from']
  assert made_from['inputs'] == [[first[0], os.path.getsize(first[0])]]
  assert made_from['num_shards'] == 2
  assert made_from['teacher'].startswith('fingerprint:')
  with pytest.raises(ValueError, match=r'pseudo-00000-of-00002.tfrecord was '
                     r'made from other inputs .*changed: inputs\).*'
                     r'--overwrite'):
    _label(fake_teacher, ','.join(other), prefix, num_shards=2)
  with pytest.raises(ValueError, match=r'changed: thresholds'):
    _label(fake_teacher, ','.join(first), prefix, num_shards=2,
           score_threshold=0.9)
  report = _label(fake_teacher, ','.join(other), prefix, num_shards=2,
                  overwrite=True)
  got = {tf.train.Example.FromString(r).features.feature[
      'image/source_id'].bytes_list.value[0] for r in _records(
          sharded_writer.output_pattern(prefix, 2))}
  want = {tf.train.Example.FromString(r).features.feature[
      'image/source_id'].bytes_list.value[0] for r in _records(
          ','.join(other))}
  assert got == want and report['images_labeled'] == len(want)


def test_shards_of_another_count_are_refused_then_removed(
    fake_teacher, unlabeled, tmp_path):
  prefix = str(tmp_path / 'pseudo')
  _label(fake_teacher, unlabeled['pattern'], prefix, num_shards=3)
  with pytest.raises(ValueError, match=r'another shard count than this '
                     r"run's 2.*--overwrite"):
    _label(fake_teacher, unlabeled['pattern'], prefix, num_shards=2)
  _label(fake_teacher, unlabeled['pattern'], prefix, num_shards=2,
         overwrite=True)
  names = sorted(os.path.basename(p) for p in tf.io.gfile.glob(
      sharded_writer.output_pattern(prefix)))
  assert names == ['pseudo-00000-of-00002.tfrecord',
                   'pseudo-00001-of-00002.tfrecord']
  assert sharded_writer.output_pattern(prefix, 2).endswith(
      '-*-of-00002.tfrecord')


def test_the_tool_names_a_stale_shard_in_one_line(fake_teacher, unlabeled,
                                                  tmp_path):
  prefix = str(tmp_path / 'pseudo')
  args = ['-m', 'official_ext.tools.pseudo_label',
          f'--teacher={fake_teacher}', f'--output_prefix={prefix}',
          '--no_progress']
  files = record_files.match(unlabeled['pattern'])
  ok = python(args + [f'--input_pattern={files[0]}'], timeout=300)
  assert ok.returncode == 0, child_failure(ok, 2000)
  stale = python(args + [f'--input_pattern={files[1]}'], timeout=300)
  assert stale.returncode != 0
  last = stale.stderr.strip().splitlines()[-1]
  assert last.startswith('pseudo_label.py: error: ') and (
      'changed: inputs' in last and '--overwrite' in last), last

"""Bad unlabeled inputs are skipped with a reason (or stop --strict runs)."""

import io
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from official_ext.data import sharded_writer
from official_ext.data import tfexample
from official_ext.digits import canvases
from official_ext.labeling import bad_inputs

from conftest import REPO


def _png(array) -> bytes:
  buf = io.BytesIO()
  Image.fromarray(array).save(buf, format='PNG')
  return buf.getvalue()


def _canvas(seed):
  images, targets = canvases.load_digits()
  return canvases.render_canvas(np.random.RandomState(seed), images, targets,
                              np.arange(300)).image


def _example(source_id, encoded=None, fmt='png'):
  return tfexample.make_example(None, source_id, encoded_image=encoded,
                                image_format=fmt, height=128, width=128)


def _write(path, records):
  with tf.io.TFRecordWriter(path) as w:
    for r in records:
      w.write(r if isinstance(r, bytes) else r.SerializeToString())


@pytest.fixture(scope='module')
def bad_data(tmp_path_factory):
  """mixed-00000: good, corrupt JPEG, zero-byte image, grayscale PNG, RGBA
  PNG, no image/encoded, not an Example, good (ids 1..8).
  mixed-00001: three good records, then cut inside the fourth (ids 11..14)."""
  out = str(tmp_path_factory.mktemp('bad'))
  good = _png(_canvas(0))
  gray = _png(_canvas(1).mean(-1).astype(np.uint8))
  rgba = _png(np.concatenate(
      [_canvas(2), np.full((128, 128, 1), 200, np.uint8)], -1))
  no_image = tf.train.Example()
  no_image.features.feature['image/source_id'].bytes_list.value.append(b'6')
  _write(os.path.join(out, 'mixed-00000'), [
      _example('1', good), _example('2', good[:200], 'jpeg'),
      _example('3', b''), _example('4', gray), _example('5', rgba),
      no_image, b'\x01\x02 not a proto \xff', _example('8', good)])
  second = os.path.join(out, 'mixed-00001')
  _write(second, [_example(str(i), _png(_canvas(i))) for i in range(11, 15)])
  with open(second, 'rb') as f:
    data = f.read()
  with open(second, 'wb') as f:
    f.write(data[:-100])
  return dict(pattern=os.path.join(out, 'mixed-*'),
              files=[os.path.join(out, 'mixed-00000'), second])


# ---- the helpers, without a teacher ------------------------------------------

def test_scan_records_counts_and_finds_truncation(bad_data, tmp_path):
  assert bad_inputs.scan_records(bad_data['files'][0]) == (8, False)
  assert bad_inputs.scan_records(bad_data['files'][1]) == (3, True)
  empty = str(tmp_path / 'empty')
  open(empty, 'wb').close()
  assert bad_inputs.scan_records(empty) == (0, False)


@pytest.mark.parametrize('index,reason', [
    (1, bad_inputs.UNDECODABLE), (2, bad_inputs.EMPTY_IMAGE),
    (5, bad_inputs.NO_IMAGE), (6, bad_inputs.NOT_AN_EXAMPLE),
    (0, bad_inputs.UNKNOWN)])
def test_diagnose_names_the_reason(bad_data, index, reason):
  assert bad_inputs.diagnose(bad_data['files'][0], index)[0] == reason


def test_tracker_reports_gaps_trailing_records_and_truncation(bad_data):
  skips = []
  tracker = bad_inputs.RecordTracker(
      bad_data['files'], lambda f, k, reason, _: skips.append((f, k, reason)))
  for k in (0, 3, 4):
    tracker.seen(0, k)
  tracker.seen(1, 0)
  tracker.finish()
  assert skips == [
      (0, 1, bad_inputs.UNDECODABLE), (0, 2, bad_inputs.EMPTY_IMAGE),
      (0, 5, bad_inputs.NO_IMAGE), (0, 6, bad_inputs.NOT_AN_EXAMPLE),
      (0, 7, bad_inputs.UNKNOWN),  # Good, but never seen: still reported.
      (1, 1, bad_inputs.UNKNOWN), (1, 2, bad_inputs.UNKNOWN),
      (1, 3, bad_inputs.TRUNCATED_FILE)]


# ---- pseudo-labeling with a teacher SavedModel (the fake one) ------------------

def _pseudo_label(teacher, pattern, prefix, *extra):
  return subprocess.run(
      [sys.executable, 'tools/pseudo_label.py', f'--teacher={teacher}',
       f'--input_pattern={pattern}', f'--output_prefix={prefix}',
       '--score_threshold=0.3', '--no_progress', *extra],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True,
      text=True, timeout=600)


# The single-machine tool, and the same tool on Beam's DirectRunner: the
# same counts, reasons and records.
RUNNERS = [[], ['--runner=DirectRunner']]


@pytest.mark.parametrize('runner', RUNNERS)
def test_bad_inputs_are_skipped_and_counted(fake_teacher, bad_data,
                                            tmp_path, runner):
  prefix = str(tmp_path / 'p' / 'pseudo')
  proc = _pseudo_label(fake_teacher, bad_data['pattern'], prefix, *runner)
  assert proc.returncode == 0, proc.stderr[-3000:]
  report = json.loads(open(prefix + '_report.json').read())
  assert report['images_labeled'] == 7
  assert report['skipped_reasons'] == {
      bad_inputs.UNDECODABLE: 1, bad_inputs.EMPTY_IMAGE: 1,
      bad_inputs.NO_IMAGE: 1, bad_inputs.NOT_AN_EXAMPLE: 1,
      bad_inputs.TRUNCATED_FILE: 1}
  assert report['images_skipped'] == 5
  first = bad_data['files'][0]
  assert report['skipped_inputs'][f'{first} record 1'] == (
      bad_inputs.UNDECODABLE)
  assert 'Skipping' in proc.stderr and f'{first} record 2' in proc.stderr
  # Every good image, grayscale and RGBA included, in input order, as RGB.
  ids, shapes = [], []
  for r in tf.data.TFRecordDataset(
      sorted(tf.io.gfile.glob(sharded_writer.output_pattern(prefix)))):
    feature = tf.train.Example.FromString(r.numpy()).features.feature
    ids.append(feature['image/source_id'].bytes_list.value[0].decode())
    shapes.append(tf.io.decode_image(
        feature['image/encoded'].bytes_list.value[0], channels=3).shape)
  assert ids == ['1', '4', '5', '8', '11', '12', '13']
  assert all(s == (128, 128, 3) for s in shapes)


@pytest.mark.parametrize('runner', RUNNERS)
def test_strict_stops_at_the_first_bad_input(fake_teacher, bad_data,
                                             tmp_path, runner):
  prefix = str(tmp_path / 'strict' / 'pseudo')
  proc = _pseudo_label(fake_teacher, bad_data['pattern'], prefix,
                       '--strict', *runner)
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert f"{bad_data['files'][0]} record 1" in last
  assert bad_inputs.UNDECODABLE in last
  assert not tf.io.gfile.glob(sharded_writer.output_pattern(prefix))


@pytest.mark.parametrize('flags,words', [
    # (The library's checks of each flag are in pseudo_label_test.py; these
    # check what the command prints.)
    (['--teacher=/no/such/teacher'], ['/no/such/teacher', 'does not exist']),
    (['--num_classes=7'], ['num_classes=7', 'predicts 11']),
])
def test_bad_flags_fail_fast_with_one_line(fake_teacher, bad_data, tmp_path,
                                           flags, words):
  args = dict(teacher=fake_teacher, input_pattern=bad_data['pattern'])
  extra = []
  for flag in flags:
    name, value = flag[2:].split('=', 1)
    if name in args:
      args[name] = value
    else:
      extra.append(flag)
  proc = _pseudo_label(args['teacher'], args['input_pattern'],
                       str(tmp_path / 'pseudo'), *extra)
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith('pseudo_label.py: error:'), proc.stderr[-2000:]
  assert 'Traceback' not in proc.stderr
  for word in words:
    assert word in last, last
  assert not os.path.exists(str(tmp_path / 'pseudo_report.json'))

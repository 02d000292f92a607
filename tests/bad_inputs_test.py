"""Bad unlabeled inputs are skipped with a reason (or stop --strict runs)."""

import io
import json
import os

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from official_ext.data import sharded_writer
from official_ext.data import tfexample
from official_ext.digits import canvases
from official_ext.labeling import bad_inputs

from conftest import child_failure
from conftest import python


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
  mixed-00001: three good records, then cut inside the fourth (ids 11..14).
  mixed-00002: six good records (ids 21..26), the third's data damaged
  with its length header intact."""
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
  third = os.path.join(out, 'mixed-00002')
  _write(third, [_example(str(i), _png(_canvas(i))) for i in range(21, 27)])
  _damage(third, record=2, header=False)
  return dict(pattern=os.path.join(out, 'mixed-*'),
              files=[os.path.join(out, 'mixed-00000'), second, third])


def _damage(path, record, header):
  """Flips a byte of a record's length header or of its data."""
  offset = bad_inputs.index_records(path).records[record][0]
  with open(path, 'r+b') as f:
    f.seek(offset + (3 if header else 40))
    byte = f.read(1)
    f.seek(offset + (3 if header else 40))
    f.write(bytes([byte[0] ^ 0xFF]))


# ---- the helpers, without a teacher ------------------------------------------

def test_scan_records_counts_and_finds_truncation(bad_data, tmp_path):
  assert bad_inputs.scan_records(bad_data['files'][0]) == (8, False)
  assert bad_inputs.scan_records(bad_data['files'][1]) == (3, True)
  # Damaged data is found by reading it, not by the header scan.
  assert bad_inputs.scan_records(bad_data['files'][2]) == (6, False)
  empty = str(tmp_path / 'empty')
  open(empty, 'wb').close()
  assert bad_inputs.scan_records(empty) == (0, False)


def test_a_damaged_length_header_ends_the_scan(tmp_path):
  path = str(tmp_path / 'header')
  _write(path, [_example(str(i), _png(_canvas(i))) for i in range(3)])
  size = os.path.getsize(path)
  second = bad_inputs.index_records(path).records[1][0]
  _damage(path, record=1, header=True)
  index = bad_inputs.index_records(path)
  assert len(index.records) == 1
  reason, detail = index.end
  assert reason == bad_inputs.CORRUPT_RECORD
  assert (f'record 1 (byte {second}) is damaged; the {size - second} bytes'
          in detail)
  skips = []
  tracker = bad_inputs.RecordTracker(
      [path], lambda f, k, reason, _: skips.append((f, k, reason)))
  tracker.seen(0, 0)
  tracker.finish()
  assert skips == [(0, 1, bad_inputs.CORRUPT_RECORD)]


@pytest.mark.parametrize('index,reason', [
    (1, bad_inputs.UNDECODABLE), (2, bad_inputs.EMPTY_IMAGE),
    (5, bad_inputs.NO_IMAGE), (6, bad_inputs.NOT_AN_EXAMPLE),
    (0, bad_inputs.UNKNOWN)])
def test_diagnose_names_the_reason(bad_data, index, reason):
  assert bad_inputs.diagnose(bad_data['files'][0], index)[0] == reason


def test_diagnose_reads_each_record_at_its_own_offset(bad_data):
  third = bad_data['files'][2]
  reason, detail = bad_inputs.diagnose(third, 2)
  assert reason == bad_inputs.CORRUPT_RECORD and 'checksum' in detail
  # The records after the damaged one are good (TFRecordDataset would stop
  # at the damaged one and never reach them).
  for k in (0, 1, 3, 4, 5):
    assert bad_inputs.diagnose(third, k)[0] == bad_inputs.UNKNOWN
  assert bad_inputs.diagnose(bad_data['files'][1], 3)[0] == (
      bad_inputs.TRUNCATED_FILE)


def test_tracker_reports_gaps_trailing_records_and_truncation(bad_data):
  skips = []
  tracker = bad_inputs.RecordTracker(
      bad_data['files'][:2],
      lambda f, k, reason, _: skips.append((f, k, reason)))
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


def test_tracker_hands_back_the_good_records_after_a_damaged_one(bad_data):
  third = bad_data['files'][2]
  events = []

  def recover(file_index, records):
    ids = [tf.train.Example.FromString(data).features.feature[
        'image/source_id'].bytes_list.value[0] for _, data in records]
    events.append(('recover', file_index, [k for k, _ in records], ids))
    return [3, 5]  # Record 4 is dropped again, say by the decoder.

  tracker = bad_inputs.RecordTracker(
      [third], lambda f, k, reason, _: events.append((f, k, reason)), recover)
  tracker.seen(0, 0)
  tracker.seen(0, 1)  # Then the stream gives up on the file.
  tracker.finish()
  assert events == [
      (0, 2, bad_inputs.CORRUPT_RECORD),
      ('recover', 0, [3, 4, 5], [b'24', b'25', b'26']),
      (0, 4, bad_inputs.UNKNOWN)]


# ---- pseudo-labeling with a teacher SavedModel (the fake one) ------------------

def _pseudo_label(teacher, pattern, prefix, *extra):
  return python(
      ['tools/pseudo_label.py', f'--teacher={teacher}',
       f'--input_pattern={pattern}', f'--output_prefix={prefix}',
       '--score_threshold=0.3', '--no_progress', *extra], timeout=600)


# The single-machine tool, and the same tool on Beam's DirectRunner: the
# same counts, reasons and records.
RUNNERS = [[], ['--runner=DirectRunner']]


@pytest.mark.parametrize('runner', RUNNERS)
def test_bad_inputs_are_skipped_and_counted(fake_teacher, bad_data,
                                            tmp_path, runner):
  prefix = str(tmp_path / 'p' / 'pseudo')
  proc = _pseudo_label(fake_teacher, bad_data['pattern'], prefix, *runner)
  assert proc.returncode == 0, child_failure(proc, 3000)
  report = json.loads(open(prefix + '_report.json').read())
  assert report['images_labeled'] == 12
  assert report['skipped_reasons'] == {
      bad_inputs.UNDECODABLE: 1, bad_inputs.EMPTY_IMAGE: 1,
      bad_inputs.NO_IMAGE: 1, bad_inputs.NOT_AN_EXAMPLE: 1,
      bad_inputs.TRUNCATED_FILE: 1, bad_inputs.CORRUPT_RECORD: 1}
  assert report['images_skipped'] == 6
  assert report['skipped_inputs'][f"{bad_data['files'][2]} record 2"] == (
      bad_inputs.CORRUPT_RECORD)
  first = bad_data['files'][0]
  assert report['skipped_inputs'][f'{first} record 1'] == (
      bad_inputs.UNDECODABLE)
  assert 'Skipping' in proc.stderr and f'{first} record 2' in proc.stderr
  # Every good image, grayscale and RGBA included, and those after the
  # damaged record, in input order, as RGB.
  ids, shapes = [], []
  for r in tf.data.TFRecordDataset(
      sorted(tf.io.gfile.glob(sharded_writer.output_pattern(prefix)))):
    feature = tf.train.Example.FromString(r.numpy()).features.feature
    ids.append(feature['image/source_id'].bytes_list.value[0].decode())
    shapes.append(tf.io.decode_image(
        feature['image/encoded'].bytes_list.value[0], channels=3).shape)
  assert ids == ['1', '4', '5', '8', '11', '12', '13',
                 '21', '22', '24', '25', '26']
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

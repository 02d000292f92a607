"""tools/images_to_tfrecord.py: a folder of images -> unlabeled TFRecords."""

import io
import json
import os
from unittest import mock

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from official.vision.dataloaders import tf_example_decoder
from official_ext.data import image_folder
from official_ext.data import sharded_writer
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline

from conftest import python
from conftest import run_tool


def _save(path, array, fmt, mode=None, **kwargs):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  image = Image.fromarray(array)
  if mode:
    image = image.convert(mode)
  image.save(path, format=fmt, **kwargs)


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
  """Good images of every common kind, nested, plus three bad files."""
  root = str(tmp_path_factory.mktemp('images'))
  rng = np.random.RandomState(0)
  rgb = rng.randint(0, 256, (40, 60, 3), np.uint8)
  good = {
      'a/rgb.png': (rgb, 'PNG', None),
      'a/b/gray.png': (rgb[..., 0], 'PNG', None),
      'rgba.png': (rgb, 'PNG', 'RGBA'),
      'photo.jpg': (rgb, 'JPEG', None),
      'cmyk.jpg': (rgb, 'JPEG', 'CMYK'),
      'old.bmp': (rgb, 'BMP', None),
  }
  for name, (array, fmt, mode) in good.items():
    _save(os.path.join(root, name), array, fmt, mode)
  open(os.path.join(root, 'empty.jpg'), 'wb').close()
  with open(os.path.join(root, 'notes.png'), 'w') as f:
    f.write('not an image')
  buf = io.BytesIO()
  Image.fromarray(rng.randint(0, 256, (200, 200, 3), np.uint8)).save(
      buf, format='JPEG')
  with open(os.path.join(root, 'truncated.jpg'), 'wb') as f:
    f.write(buf.getvalue()[:len(buf.getvalue()) // 2])
  with open(os.path.join(root, 'readme.txt'), 'w') as f:
    f.write('ignored: not an image extension')
  return dict(root=root, rgb=rgb, good=sorted(good))


def _decode_all(pattern):
  decoder = tf_example_decoder.TfExampleDecoder()
  out = {}
  for r in tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern))):
    ex = tf.train.Example.FromString(r.numpy()).features.feature
    out[ex['image/filename'].bytes_list.value[0].decode()] = decoder.decode(r)
  return out


def test_folder_to_tfrecords(folder, tmp_path):
  prefix = str(tmp_path / 'out' / 'unlabeled')
  proc = run_tool(['tools/images_to_tfrecord.py', f"--input={folder['root']}",
                   f'--output_prefix={prefix}', '--num_shards=2',
                   '--no_progress'])
  report = json.loads(proc.stdout)
  assert report['images_found'] == 9
  assert report['images_written'] == 6
  assert report['skipped_reasons'] == {
      'empty file': 1, 'unreadable image (UnidentifiedImageError)': 1,
      'unreadable image (OSError)': 1}
  shards = sorted(tf.io.gfile.glob(prefix + '-*.tfrecord'))
  assert [os.path.basename(s) for s in shards] == [
      'unlabeled-00000-of-00002.tfrecord', 'unlabeled-00001-of-00002.tfrecord']
  decoded = _decode_all(prefix + '-*.tfrecord')
  assert sorted(decoded) == folder['good']
  for name, d in decoded.items():
    assert d['image'].shape == (40, 60, 3), name
    assert int(d['height']) == 40 and int(d['width']) == 60
    int(d['source_id'].numpy())  # Numeric, as Model Garden's parsers need.
  np.testing.assert_array_equal(decoded['a/rgb.png']['image'], folder['rgb'])
  np.testing.assert_array_equal(decoded['old.bmp']['image'], folder['rgb'])
  np.testing.assert_array_equal(decoded['a/b/gray.png']['image'][..., 1],
                                folder['rgb'][..., 0])
  assert len({d['source_id'].numpy() for d in decoded.values()}) == 6

  # Rerun: finished shards are kept as they are, the report is the same.
  mtimes = [os.path.getmtime(s) for s in shards]
  again = image_folder.convert(folder['root'], prefix, num_shards=2,
                               show_progress=False)
  assert [os.path.getmtime(s) for s in shards] == mtimes
  assert again['images_written'] == 6
  assert again['skipped_reasons'] == report['skipped_reasons']


def test_a_rerun_over_other_images_is_refused_not_mixed(folder, tmp_path):
  """The stale-shard rule of pseudo_label, for images_to_tfrecord too."""
  prefix = str(tmp_path / 'out' / 'unlabeled')
  image_folder.convert(os.path.join(folder['root'], 'a'), prefix,
                       num_shards=1, show_progress=False)
  stats = sharded_writer.read_stats(prefix + '-00000-of-00001.tfrecord')
  assert stats['made_from']['images'] == [['b/gray.png', os.path.getsize(
      os.path.join(folder['root'], 'a/b/gray.png'))], ['rgb.png', mock.ANY]]
  # Other images into the same prefix: one line, nothing written.
  other = os.path.join(folder['root'], '*.jpg')
  proc = python(
      ['tools/images_to_tfrecord.py', f'--input={other}',
       f'--output_prefix={prefix}', '--num_shards=1', '--no_progress'],
      timeout=300)
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert 'unlabeled-00000-of-00001.tfrecord was made from other inputs' in (
      last) and 'changed: images' in last and '--overwrite' in last
  assert 'Traceback' not in proc.stderr
  # Another shard count into the same prefix is refused too.
  with pytest.raises(sharded_writer.StaleOutputError,
                     match='another shard count'):
    image_folder.convert(os.path.join(folder['root'], 'a'), prefix,
                         num_shards=2, show_progress=False)
  # --overwrite: only the new images remain.
  report = json.loads(run_tool(
      ['tools/images_to_tfrecord.py', f'--input={other}',
       f'--output_prefix={prefix}', '--num_shards=1', '--no_progress',
       '--overwrite']).stdout)
  assert report['images_written'] == 2  # photo.jpg, cmyk.jpg
  assert sorted(_decode_all(prefix + '-*.tfrecord')) == ['cmyk.jpg',
                                                         'photo.jpg']


def test_ids_are_stable_and_globs_work(folder, tmp_path):
  a = image_folder.convert(os.path.join(folder['root'], '*.png'),
                           str(tmp_path / 'a'), show_progress=False)
  assert a['images_found'] == 2 and a['images_written'] == 1
  b = image_folder.convert(folder['root'], str(tmp_path / 'b'),
                           show_progress=False)
  ids_a = {k: v['source_id'].numpy() for k, v in
           _decode_all(str(tmp_path / 'a-*.tfrecord')).items()}
  ids_b = {k: v['source_id'].numpy() for k, v in
           _decode_all(str(tmp_path / 'b-*.tfrecord')).items()}
  assert ids_a['rgba.png'] == ids_b['rgba.png']
  assert b['num_shards'] == 1


def test_no_images_is_a_clear_error(tmp_path):
  with pytest.raises(FileNotFoundError, match='holds no image files'):
    image_folder.convert(str(tmp_path), str(tmp_path / 'x'),
                         show_progress=False)


def test_output_feeds_pseudo_labeling(folder, fake_teacher, tmp_path):
  prefix = str(tmp_path / 'unlabeled')
  image_folder.convert(folder['root'], prefix, num_shards=2,
                       show_progress=False)
  report = pipeline.label(labeling_options.LabelingOptions(
      teacher=fake_teacher, input_pattern=prefix + '-*.tfrecord',
      output_prefix=str(tmp_path / 'pseudo'), score_threshold=0.05,
      show_progress=False))
  assert report['images_labeled'] == 6
  decoded = tf_example_decoder.TfExampleDecoder()
  for r in tf.data.TFRecordDataset(
      sorted(tf.io.gfile.glob(str(tmp_path / 'pseudo-*.tfrecord')))):
    d = decoded.decode(r)
    assert d['image'].shape == (40, 60, 3)
    boxes = d['groundtruth_boxes'].numpy()
    assert ((boxes >= 0) & (boxes <= 1)).all()


def test_readme_steps_2_to_3_read_no_sidecar(folder, fake_teacher,
                                             tmp_path):
  """docs/coco.md steps 2 -> 3 with its own patterns (`unlabeled-*`):
  the `.stats.json` files step 2 writes beside its shards are not read as
  records (issue 18: they were counted as 4 truncated files), while a
  really truncated record file beside them is still reported."""
  unlabeled = str(tmp_path / 'U' / 'unlabeled')
  run_tool(['tools/images_to_tfrecord.py', f"--input={folder['root']}",
            f'--output_prefix={unlabeled}', '--num_shards=4', '--no_progress'])
  assert len(tf.io.gfile.glob(unlabeled + '-*.stats.json')) == 4
  pseudo = str(tmp_path / 'P' / 'pseudo')
  args = ['tools/pseudo_label.py', f'--teacher={fake_teacher}',
          '--task=detection', f'--input_pattern={unlabeled}-*',
          f'--output_prefix={pseudo}', '--score_threshold=0.3',
          '--no_progress']
  run_tool(args)
  with open(pseudo + '_report.json') as f:
    report = json.load(f)
  assert report['images_skipped'] == 0, report['skipped_inputs']
  assert report['images_labeled'] == 6  # Every good image of the folder.
  assert report['num_shards'] == 4

  # A cut-off record file matched by the same pattern is still bad input.
  good = sorted(tf.io.gfile.glob(unlabeled + '-00000-of-00004.tfrecord'))[0]
  with open(good, 'rb') as f:
    data = f.read()
  with open(unlabeled + '-extra.tfrecord', 'wb') as f:
    f.write(data[:20])  # The header of record 0 and 8 bytes of its data.
  report = pipeline.label(labeling_options.LabelingOptions(  # The tool's code path.
      teacher=fake_teacher, input_pattern=f'{unlabeled}-*',
      output_prefix=str(tmp_path / 'P2' / 'pseudo'), score_threshold=0.3,
      show_progress=False))
  assert report['skipped_reasons'] == {'truncated_tfrecord_file': 1}
  assert list(report['skipped_inputs']) == [
      unlabeled + '-extra.tfrecord record 0']
  assert report['images_labeled'] == 6

"""tools/create_pascal_tfrecord.py on a tiny VOC + SBD tree in the layout
they are downloaded in; Model Garden's segmentation decoder reads the output."""

import json

import numpy as np
from PIL import Image
import pytest
from scipy import io as sio
import tensorflow as tf

from official.vision.dataloaders import segmentation_input
from official_ext.data import pascal_voc

from conftest import child_failure
from conftest import python


def _jpeg(path, h, w, seed):
  rng = np.random.RandomState(seed)
  Image.fromarray(rng.randint(0, 255, (h, w, 3), np.uint8)).save(path)


def _mask(h, w, cls):
  m = np.zeros((h, w), np.uint8)
  m[2:h // 2, 3:w // 2] = cls
  m[h // 2, :] = 255  # A void boundary.
  return m


@pytest.fixture(scope='module')
def tree(tmp_path_factory):
  root = tmp_path_factory.mktemp('voc')
  voc = root / 'VOCdevkit' / 'VOC2012'
  for d in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
    (voc / d).mkdir(parents=True)
  palette = pascal_voc.voc_colormap().reshape(-1).tolist()
  masks = {}
  for k, i in enumerate(['2007_000001', '2007_000002', '2008_000003',
                         '2008_000004']):
    h, w = 20 + k, 30 - k
    _jpeg(voc / 'JPEGImages' / f'{i}.jpg', h, w, k)
    masks[i] = _mask(h, w, k + 1)
    png = Image.fromarray(masks[i], mode='P')
    png.putpalette(palette)
    if k == 3:  # Someone saved it as RGB: colours map back to ids.
      png = png.convert('RGB')
    png.save(voc / 'SegmentationClass' / f'{i}.png')
  lists = voc / 'ImageSets' / 'Segmentation'
  (lists / 'train.txt').write_text('2007_000001\n2008_000004\n')
  (lists / 'val.txt').write_text('2007_000002\n2008_000003\n')
  (lists / 'trainval.txt').write_text(
      '2007_000001\n2007_000002\n2008_000003\n2008_000004\n')
  sbd = root / 'benchmark_RELEASE' / 'dataset'
  (sbd / 'img').mkdir(parents=True)
  (sbd / 'cls').mkdir()
  for k, i in enumerate(['2007_000001', '2007_000002', '2009_000005']):
    _jpeg(sbd / 'img' / f'{i}.jpg', 16, 18, 10 + k)
    masks.setdefault(i, _mask(16, 18, 7))
    sio.savemat(str(sbd / 'cls' / f'{i}.mat'),
                {'GTcls': {'Segmentation': _mask(16, 18, 7)}})
  (sbd / 'train.txt').write_text('2007_000001\n2009_000005\n')
  (sbd / 'val.txt').write_text('2007_000002\n')
  return dict(root=root, voc=str(root / 'VOCdevkit'),
              sbd=str(root / 'benchmark_RELEASE'), masks=masks)


def _convert(tree, split, out, extra=()):
  proc = python(
      ['tools/create_pascal_tfrecord.py',
       f"--voc_dir={tree['voc']}", f'--split={split}',
       f'--output_prefix={out}', '--no_progress', *extra])
  assert proc.returncode == 0, child_failure(proc, 3000)
  return json.loads(proc.stdout[proc.stdout.index('{'):])


def _decoded(pattern):
  decoder = segmentation_input.Decoder()
  out = {}
  for r in tf.data.TFRecordDataset(sorted(tf.io.gfile.glob(pattern))):
    d = decoder.decode(r)
    name = tf.train.Example.FromString(r.numpy()).features.feature[
        'image/filename'].bytes_list.value[0].decode()
    image = tf.io.decode_image(d['image/encoded'], channels=3)
    mask = tf.io.decode_png(d['image/segmentation/class/encoded'])[..., 0]
    out[name] = (image.numpy(), mask.numpy())
  return out


def test_val_split_keeps_masks_and_void(tree, tmp_path):
  report = _convert(tree, 'val', str(tmp_path / 'val'))
  assert report['examples_written'] == 2 and report['inputs_skipped'] == 0
  got = _decoded(str(tmp_path / 'val-*.tfrecord'))
  assert sorted(got) == ['2007_000002', '2008_000003']
  for name, (image, mask) in got.items():
    np.testing.assert_array_equal(mask, tree['masks'][name])
    assert image.shape[:2] == mask.shape
    assert (mask == 255).any()


def test_rgb_saved_mask_maps_back_to_ids(tree, tmp_path):
  _convert(tree, 'train', str(tmp_path / 'train'))
  got = _decoded(str(tmp_path / 'train-*.tfrecord'))
  np.testing.assert_array_equal(got['2008_000004'][1],
                                tree['masks']['2008_000004'])


def test_train_aug_is_voc_train_plus_sbd_minus_voc_val(tree, tmp_path):
  report = _convert(tree, 'train_aug', str(tmp_path / 'aug'),
                    [f"--sbd_dir={tree['sbd']}", '--num_shards=2'])
  assert report['num_shards'] == 2
  got = _decoded(str(tmp_path / 'aug-*.tfrecord'))
  # 2007_000002 is VOC val: left out although SBD has it.
  assert sorted(got) == ['2007_000001', '2008_000004', '2009_000005']
  # VOC's own mask wins over SBD's for an image both have.
  np.testing.assert_array_equal(got['2007_000001'][1],
                                tree['masks']['2007_000001'])
  np.testing.assert_array_equal(got['2009_000005'][1], _mask(16, 18, 7))


def test_missing_dirs_are_clear_errors(tree, tmp_path):
  with pytest.raises(FileNotFoundError, match='SegmentationClass'):
    pascal_voc.plan('val', str(tmp_path))
  with pytest.raises(ValueError, match='needs --sbd_dir'):
    pascal_voc.plan('train_aug', tree['voc'])

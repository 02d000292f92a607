"""PASCAL VOC 2012 (+ SBD) segmentation, as downloaded -> Model Garden TFRecords.

Layouts read:
  VOC:  VOCdevkit/VOC2012/{JPEGImages/ID.jpg, SegmentationClass/ID.png,
        ImageSets/Segmentation/{train,val,trainval}.txt}
  SBD:  benchmark_RELEASE/dataset/{img/ID.jpg, cls/ID.mat, train.txt, val.txt}

Splits: `train`, `val`, `trainval` (VOC lists) and `train_aug` (VOC train plus
all SBD images, minus VOC val: 10582 images, DeepLab's training set). A VOC
mask is used when both have one. Masks keep VOC's class ids 0..20 and its
255 "void" boundaries (Model Garden's ignore label).
"""

import io
import os
from typing import Dict, List, Optional, Tuple

import numpy as np
from PIL import Image
import tensorflow as tf

from official_ext.data import tfexample

NUM_CLASSES = 21
VOID = 255
SPLITS = ('train', 'val', 'trainval', 'train_aug')


def voc_colormap(n: int = 256) -> np.ndarray:
  """VOC's palette: class c's colour from c's bits, interleaved over RGB."""
  cmap = np.zeros((n, 3), np.uint8)
  for c in range(n):
    r = g = b = 0
    value = c
    for shift in range(7, -1, -1):
      r |= (value & 1) << shift
      g |= ((value >> 1) & 1) << shift
      b |= ((value >> 2) & 1) << shift
      value >>= 3
    cmap[c] = (r, g, b)
  return cmap


def _rgb_to_ids(rgb: np.ndarray) -> np.ndarray:
  """An RGB-saved VOC mask back to ids; unknown colours become void."""
  cmap = voc_colormap()
  keys = (cmap[:, 0].astype(np.int64) << 16) | (cmap[:, 1].astype(
      np.int64) << 8) | cmap[:, 2]
  lookup = {int(k): i for i, k in enumerate(keys) if i < NUM_CLASSES}
  lookup[int(keys[VOID])] = VOID
  flat = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(
      np.int64) << 8) | rgb[..., 2]
  out = np.full(flat.shape, VOID, np.uint8)
  for key, idx in lookup.items():
    out[flat == key] = idx
  return out


def read_png_mask(data: bytes) -> np.ndarray:
  image = Image.open(io.BytesIO(data))
  if image.mode in ('P', 'L'):
    return np.asarray(image, np.uint8)
  return _rgb_to_ids(np.asarray(image.convert('RGB')))


def read_sbd_mask(path: str) -> np.ndarray:
  from scipy import io as sio  # pylint: disable=g-import-not-at-top
  with tf.io.gfile.GFile(path, 'rb') as f:
    mat = sio.loadmat(f, squeeze_me=True, struct_as_record=False)
  gt = mat['GTcls']
  seg = gt.Segmentation if hasattr(gt, 'Segmentation') else gt['Segmentation']
  return np.asarray(seg, np.uint8)


def _read_ids(path: str) -> List[str]:
  with tf.io.gfile.GFile(path) as f:
    return [line.strip().split()[0] for line in f if line.strip()]


def _find_root(flag: str, path: str, subdirs, marker: str, what: str) -> str:
  """The first of `path`/`subdir` holding `marker`/, else a clear error."""
  candidates = [path] + [os.path.join(path, d) for d in subdirs]
  for candidate in candidates:
    if tf.io.gfile.isdir(os.path.join(candidate, marker)):
      return candidate
  raise FileNotFoundError(
      f'--{flag}={path!r}: no {marker}/ in it, ' +
      ' or '.join(f'{d}/' for d in subdirs) +
      f'; point it at the extracted {what} tar.')


def find_voc_root(voc_dir: str) -> str:
  return _find_root('voc_dir', voc_dir,
                    ['VOC2012', os.path.join('VOCdevkit', 'VOC2012')],
                    'SegmentationClass', 'VOCtrainval')


def find_sbd_root(sbd_dir: str) -> str:
  return _find_root('sbd_dir', sbd_dir,
                    ['dataset', os.path.join('benchmark_RELEASE', 'dataset')],
                    'cls', 'SBD')


def plan(split: str, voc_dir: str,
         sbd_dir: Optional[str] = None) -> Dict[str, Tuple[str, str]]:
  """{image id: (image path, mask path)} of a split, sorted by id."""
  if split not in SPLITS:
    raise ValueError(f'--split={split!r}: use one of {SPLITS}.')
  voc = find_voc_root(voc_dir)
  lists = os.path.join(voc, 'ImageSets', 'Segmentation')

  def voc_item(i):
    return (os.path.join(voc, 'JPEGImages', i + '.jpg'),
            os.path.join(voc, 'SegmentationClass', i + '.png'))

  if split != 'train_aug':
    return {i: voc_item(i) for i in sorted(_read_ids(
        os.path.join(lists, split + '.txt')))}
  if not sbd_dir:
    raise ValueError('--split=train_aug needs --sbd_dir (the SBD release).')
  sbd = find_sbd_root(sbd_dir)
  val = set(_read_ids(os.path.join(lists, 'val.txt')))
  items = {}
  for name in ('train.txt', 'val.txt'):
    for i in _read_ids(os.path.join(sbd, name)):
      items[i] = (os.path.join(sbd, 'img', i + '.jpg'),
                  os.path.join(sbd, 'cls', i + '.mat'))
  for i in _read_ids(os.path.join(lists, 'train.txt')):
    items[i] = voc_item(i)
  return {i: items[i] for i in sorted(items) if i not in val}


def to_example(image_id: str, image_path: str, mask_path: str):
  """(example, None), or (None, reason) when a file is missing or broken."""
  try:
    with tf.io.gfile.GFile(image_path, 'rb') as f:
      encoded = f.read()
    image = Image.open(io.BytesIO(encoded))
    width, height = image.size
    if mask_path.endswith('.mat'):
      mask = read_sbd_mask(mask_path)
    else:
      with tf.io.gfile.GFile(mask_path, 'rb') as f:
        mask = read_png_mask(f.read())
  except (OSError, ValueError, KeyError, tf.errors.OpError) as e:
    return None, f'unreadable ({type(e).__name__})'
  if mask.shape != (height, width):
    return None, 'mask size differs from image'
  fmt = (image.format or 'jpeg').lower()
  return tfexample.make_example(
      None, tfexample.numeric_id(image_id.encode()), encoded_image=encoded,
      image_format=fmt, height=height, width=width, mask=mask,
      filename=image_id), None

"""A folder (or glob) of image files -> sharded unlabeled TFRecords.

For the unlabeled sets as users download them (ImageNet, Open Images,
COCO unlabeled2017): every JPEG/PNG becomes one TFExample with
`image/encoded` (the file's own bytes), `image/format`, `image/height`,
`image/width`, `image/filename` and a numeric `image/source_id` (Model
Garden parses source ids as integers) derived from the relative path, so
ids are stable across runs and machines. Other formats Pillow reads (and
CMYK JPEGs, which not every decoder handles) are re-encoded as PNG/JPEG.
Files that are not readable images are skipped and counted by reason.

Image k (sorted by path) goes to shard k % N. Each shard is written to a
temporary name and renamed when complete; rerunning skips finished shards.
"""

import collections
import concurrent.futures
import io
import json
import os
from typing import Iterable, List, Tuple

from absl import logging
from PIL import Image
import tensorflow as tf

from official_ext.data import tfexample

EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.gif', '.webp', '.tif',
              '.tiff')
IMAGES_PER_SHARD = 1024


def list_images(inputs: str) -> Tuple[str, List[str]]:
  """(root, sorted image paths) for a directory or comma-separated globs."""
  paths, roots = [], []
  for item in (s for s in inputs.split(',') if s):
    if tf.io.gfile.isdir(item):
      roots.append(item)
      for dirpath, _, names in tf.io.gfile.walk(item):
        paths += [os.path.join(dirpath, n) for n in names
                  if n.lower().endswith(EXTENSIONS)]
    else:
      matched = tf.io.gfile.glob(item)
      roots.append(os.path.dirname(item.split('*')[0]) or '.')
      paths += [p for p in matched if not tf.io.gfile.isdir(p)]
  paths = sorted(set(paths))
  if not paths:
    raise FileNotFoundError(
        f'--input={inputs!r} holds no image files ({", ".join(EXTENSIONS)}).')
  root = os.path.commonpath(roots) if len(roots) > 1 else roots[0]
  return root, paths


def to_example(path: str, root: str):
  """(tf.train.Example, None) or (None, reason) for one file."""
  with tf.io.gfile.GFile(path, 'rb') as f:
    data = f.read()
  if not data:
    return None, 'empty file'
  try:
    image = Image.open(io.BytesIO(data))
    image.load()  # Decodes fully: truncated/corrupt files fail here.
  except Exception as e:  # pylint: disable=broad-except
    return None, f'unreadable image ({type(e).__name__})'
  fmt = (image.format or '').lower()
  if fmt == 'jpeg' and image.mode in ('RGB', 'L'):
    encoded, out_format = data, 'jpeg'
  elif fmt == 'png' and image.mode in ('RGB', 'L', 'RGBA', 'LA', 'P'):
    encoded, out_format = data, 'png'  # decode_image(channels=3) converts.
  else:
    buf = io.BytesIO()
    if fmt == 'jpeg':
      image.convert('RGB').save(buf, format='JPEG', quality=95)
      out_format = 'jpeg'
    else:
      image.convert('RGB').save(buf, format='PNG')
      out_format = 'png'
    encoded = buf.getvalue()
  rel = os.path.relpath(path, root)
  example = tfexample.make_example(
      None, tfexample.numeric_id(rel.encode()), encoded_image=encoded, image_format=out_format,
      height=image.height, width=image.width, filename=rel)
  return example, None


def _examples(paths: List[str], root: str, threads: int,
              chunk: int = 256) -> Iterable:
  """(path, (example, reason)) in order; a bounded number in memory."""
  with concurrent.futures.ThreadPoolExecutor(threads) as pool:
    for start in range(0, len(paths), chunk):
      part = paths[start:start + chunk]
      yield from zip(part, pool.map(lambda p: to_example(p, root), part))


def convert(inputs: str, output_prefix: str, num_shards: int = 0,
            threads: int = 8, show_progress: bool = True) -> dict:
  """Writes `{output_prefix}-{j:05d}-of-{N:05d}.tfrecord`; returns a report."""
  root, paths = list_images(inputs)
  num_shards = num_shards or max(1, -(-len(paths) // IMAGES_PER_SHARD))
  if num_shards > len(paths):
    raise ValueError(f'--num_shards={num_shards} but only {len(paths)} '
                     'images.')
  out_dir = os.path.dirname(output_prefix)
  if out_dir:
    tf.io.gfile.makedirs(out_dir)
  progress = None
  if show_progress:
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    progress = tqdm(total=len(paths), unit='img', desc='images')
  written, skipped = 0, collections.Counter()
  for j in range(num_shards):
    final = f'{output_prefix}-{j:05d}-of-{num_shards:05d}.tfrecord'
    mine = paths[j::num_shards]
    stats_path = final + '.stats.json'
    if tf.io.gfile.exists(final) and tf.io.gfile.exists(stats_path):
      with tf.io.gfile.GFile(stats_path) as f:
        done = json.load(f)
      written += done['written']
      skipped.update(done['skipped'])
    else:
      shard_skipped = collections.Counter()
      count = 0
      with tf.io.TFRecordWriter(final + '.tmp') as writer:
        for path, (example, reason) in _examples(mine, root, threads):
          if example is None:
            shard_skipped[reason] += 1
            logging.warning('Skipping %s: %s.', path, reason)
          else:
            writer.write(example.SerializeToString(deterministic=True))
            count += 1
          if progress is not None:
            progress.update(1)
      with tf.io.gfile.GFile(stats_path + '.tmp', 'w') as f:
        f.write(json.dumps({'written': count, 'skipped': shard_skipped}))
      tf.io.gfile.rename(stats_path + '.tmp', stats_path, overwrite=True)
      tf.io.gfile.rename(final + '.tmp', final, overwrite=True)
      written += count
      skipped.update(shard_skipped)
      continue
    if progress is not None:
      progress.update(len(mine))
  if progress is not None:
    progress.close()
  return {'images_found': len(paths), 'images_written': written,
          'images_skipped': sum(skipped.values()),
          'skipped_reasons': dict(skipped), 'num_shards': num_shards,
          'output_pattern': f'{output_prefix}-*-of-{num_shards:05d}.tfrecord'}

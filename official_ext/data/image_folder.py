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

import io
import os
from typing import List, Tuple

from PIL import Image
import tensorflow as tf

from official_ext.data import sharded_writer
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


def made_from(paths: List[str], root: str) -> dict:
  """What makes a shard: its images (relative to the input root) and their
  sizes, so a rerun over other images never keeps it."""
  return {'images': [[os.path.relpath(p, root), tf.io.gfile.stat(p).length]
                     for p in paths]}


def remove_outputs(output_prefix: str):
  """--overwrite: every shard under the prefix (any count), finished or not,
  with its stats."""
  for path in tf.io.gfile.glob(f'{output_prefix}-*-of-*.tfrecord*'):
    tf.io.gfile.remove(path)


def convert(inputs: str, output_prefix: str, num_shards: int = 0,
            threads: int = 8, show_progress: bool = True,
            overwrite: bool = False) -> dict:
  """Writes `{output_prefix}-{j:05d}-of-{N:05d}.tfrecord`; returns a report.

  A rerun keeps finished shards made from the same images (resume) and
  raises sharded_writer.StaleOutputError for one made from other images or
  another shard count, unless `overwrite` removes them first.
  """
  root, paths = list_images(inputs)
  num_shards = num_shards or max(1, -(-len(paths) // IMAGES_PER_SHARD))
  if num_shards > len(paths):
    raise ValueError(f'--num_shards={num_shards} but only {len(paths)} '
                     'images.')
  if overwrite:
    remove_outputs(output_prefix)
  report = sharded_writer.write_shards(
      paths, lambda p: to_example(p, root), output_prefix, num_shards,
      threads=threads, show_progress=show_progress,
      made_from=lambda mine: made_from(mine, root))
  return {'images_found': report.pop('inputs_found'),
          'images_written': report.pop('examples_written'),
          'images_skipped': report.pop('inputs_skipped'), **report}

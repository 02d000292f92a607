"""The labeling input pipeline: unlabeled TFRecords -> batches the teacher
takes, each image resized and padded as the exported model would, with its
position (file, record) and what the pseudo record keeps of the input."""

import os
from typing import List, Optional, Sequence, Tuple

import tensorflow as tf

# Decoded batches kept ready ahead of the teacher.
PREFETCH_BATCHES = 2

# Input features a pseudo record keeps (traceability: docs/pseudo_labeling.md).
_KEPT_FEATURES = ('image/source_id', 'image/format', 'image/filename')


def _fit_size(height, width, target):
  """Model Garden's resize-to-fit: scale and scaled size (no upscale limit)."""
  scale = tf.minimum(tf.cast(target[0], tf.float32) / tf.cast(height, tf.float32),
                     tf.cast(target[1], tf.float32) / tf.cast(width, tf.float32))
  scaled = tf.cast(tf.round(tf.cast(tf.stack([height, width]), tf.float32) *
                            scale), tf.int32)
  return scale, scaled


def usable_cpus() -> int:
  """CPUs this process may run on (its affinity where the OS has one)."""
  if hasattr(os, 'sched_getaffinity'):
    return len(os.sched_getaffinity(0))
  return os.cpu_count() or 1


def _pad_bottom_right(image, size, target, pad_value: Sequence[int]):
  """uint8 `image` of `size` (height, width) padded at the bottom and right
  to `target` with the RGB `pad_value`: two strips joined on, in uint8 (a
  third of the CPU of padding through int32 with pad_to_bounding_box)."""
  pad = tf.constant(pad_value, tf.uint8)
  right = tf.broadcast_to(pad, [size[0], target[1] - size[1], 3])
  image = tf.concat([image, right], axis=1)
  bottom = tf.broadcast_to(pad, [target[0] - size[0], target[1], 3])
  return tf.ensure_shape(tf.concat([image, bottom], axis=0),
                         [target[0], target[1], 3])


def _decoder(target_size: Optional[List[int]], pad_value: Sequence[int]):
  """(serialized, shard, file index, record index) -> one element."""
  kept_spec = {k: tf.io.FixedLenFeature([], tf.string, default_value='')
               for k in _KEPT_FEATURES}

  def decode(serialized, shard, file_index, record_index):
    feats = tf.io.parse_single_example(serialized, {
        'image/encoded': tf.io.FixedLenFeature([], tf.string), **kept_spec})
    image = tf.io.decode_image(feats['image/encoded'], channels=3,
                               expand_animations=False)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    if target_size is None:
      scale = tf.constant(1.0)
      fitted = image
    else:
      scale, scaled = _fit_size(height, width, target_size)
      same = tf.reduce_all(tf.equal(scaled, tf.stack([height, width])))
      fitted = tf.cond(
          same, lambda: image,
          lambda: tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
              image, scaled, method='bilinear')), 0, 255), tf.uint8))
      fitted = _pad_bottom_right(fitted, scaled, target_size, pad_value)
    return {'image': fitted, 'scale': scale, 'height': height,
            'width': width, 'encoded': feats['image/encoded'],
            'format': feats['image/format'],
            'source_id': feats['image/source_id'],
            'filename': feats['image/filename'], 'shard': shard,
            'file': file_index, 'record': record_index}

  return decode


def _decoded_batches(ds: tf.data.Dataset, decode, batch_size: int,
                     target_size) -> tf.data.Dataset:
  ds = ds.map(decode, num_parallel_calls=usable_cpus(), deterministic=True)
  # A record that cannot be read or decoded is dropped here, not fatal;
  # bad_inputs.RecordTracker finds it from the (file, record) positions.
  ds = ds.ignore_errors()
  return ds.batch(batch_size if target_size else 1)


def build_dataset(files: List[str], batch_size: int,
                  target_size: Optional[List[int]],
                  shards: Optional[List[int]] = None,
                  pad_value: Sequence[int] = (0, 0, 0)) -> tf.data.Dataset:
  """Decoded images resized to fit `target_size` (as the exported model
  would) and padded, so any image sizes batch together; records in order.

  The padding is `pad_value` (RGB): the exported model normalizes, then
  pads with 0, i.e. with its normalization mean in pixel values; padding
  with black instead would change what it sees near (and, through global
  pooling, far from) the image's edge.

  Each element's 'shard' is the output shard of its file (`shards[i]` for
  `files[i]`, default 0): one pipeline streams over all of a worker's
  shards, so decoding never stalls at a shard boundary. 'file' and
  'record' are its position (index into `files`, record in that file);
  records that fail to read or decode are left out.

  Args:
    files: the input record files, a shard's files contiguous.
    batch_size: images per batch (a batch never spans two shards).
    target_size: the teacher's [height, width], or None (images as they
      are, one per batch).
    shards: the output shard of each file (default 0).
    pad_value: the RGB padding.

  Returns:
    Batches of {'image' [b, h, w, 3] uint8, and META_KEYS}.
  """
  shards = [0] * len(files) if shards is None else shards
  decode = _decoder(target_size, pad_value)

  # Batches never span two shards: an image's teacher outputs depend (in
  # the last bits) on the batch it is in, so a shard's bytes then depend on
  # its own files only, whichever worker or Beam bundle labels it. A
  # shard's files are contiguous in `files`.
  starts = [i for i in range(len(files))
            if i == 0 or shards[i] != shards[i - 1]]
  bounds = (tf.constant(list(zip(starts, starts[1:] + [len(files)])),
                        tf.int64) if files else tf.zeros([0, 2], tf.int64))
  files_t = tf.constant(files, tf.string)
  shards_t = tf.constant(shards, tf.int32)

  def shard_batches(bound):
    start, end = bound[0], bound[1]
    ds = tf.data.Dataset.from_tensor_slices(
        (files_t[start:end], shards_t[start:end], tf.range(start, end)))
    ds = ds.flat_map(lambda f, j, i: tf.data.TFRecordDataset(f).enumerate()
                     .map(lambda k, r: (r, j, i, k)))
    return _decoded_batches(ds, decode, batch_size, target_size)

  ds = tf.data.Dataset.from_tensor_slices(bounds).flat_map(shard_batches)
  return _without_autotune(ds.prefetch(PREFETCH_BATCHES))


def _without_autotune(ds: tf.data.Dataset) -> tf.data.Dataset:
  """Fixed parallelism and buffers, and no autotuning: with it, deleting an
  exhausted iterator whose consumer (the teacher) is slower than decoding
  can block for seconds (autotuning's model thread), once per labeling loop
  and so once per Beam shard; autotuning did not make decoding faster
  (tools/benchmark.py --only=labeling)."""
  options = tf.data.Options()
  options.autotune.enabled = False
  return ds.with_options(options)


def records_dataset(records: List[Tuple[int, bytes]], shard: int,
                    file_index: int, batch_size: int,
                    target_size: Optional[List[int]],
                    pad_value: Sequence[int] = (0, 0, 0)) -> tf.data.Dataset:
  """Records of one file read outside the stream, decoded and batched as
  `build_dataset` does.

  Args:
    records: (record index, bytes) of the records after a damaged one,
      which bad_inputs reads back.
    shard: their output shard.
    file_index: their file's index in the run's files.
    batch_size: images per batch.
    target_size: the teacher's [height, width], or None.
    pad_value: the RGB padding.

  Returns:
    Batches as `build_dataset`'s.
  """
  ds = tf.data.Dataset.from_tensor_slices((
      tf.constant([data for _, data in records], tf.string),
      tf.fill([len(records)], tf.constant(shard, tf.int32)),
      tf.fill([len(records)], tf.constant(file_index, tf.int64)),
      tf.constant([k for k, _ in records], tf.int64)))
  return _without_autotune(_decoded_batches(
      ds, _decoder(target_size, pad_value), batch_size, target_size))


# What the writer needs of each element besides the image.
META_KEYS = ('scale', 'height', 'width', 'encoded', 'format', 'source_id',
             'filename', 'shard', 'file', 'record')


def pad_batch(images, fixed_batch_size: Optional[int]):
  """Pads a last, short batch for a SavedModel exported with a fixed batch
  size (its extra outputs are never read).

  Args:
    images: [b, h, w, 3].
    fixed_batch_size: the export's batch size, or None (any).

  Returns:
    The images, padded with zeros to fixed_batch_size when shorter.
  """
  missing = (fixed_batch_size or 0) - int(images.shape[0])
  if missing <= 0:
    return images
  return tf.pad(images, [[0, missing], [0, 0], [0, 0], [0, 0]])

"""labeling/input_pipeline.py: the labeling input pipeline."""

import numpy as np
import tensorflow as tf

from official_ext.data import tfexample
from official_ext.labeling import input_pipeline


def _write(path, ids, bad_at=()):
  """Records of 8x8 images with the given source ids (a record whose index
  is in `bad_at` holds bytes that do not decode)."""
  with tf.io.TFRecordWriter(path) as w:
    for k, source_id in enumerate(ids):
      image = np.full([8, 8, 3], source_id, np.uint8)
      example = tfexample.make_example(image, str(source_id))
      if k in bad_at:
        example.features.feature['image/encoded'].bytes_list.value[0] = b'?'
      w.write(example.SerializeToString())
  return path


def _batches(files, shards, batch_size):
  return [{k: v.numpy() for k, v in b.items()}
          for b in input_pipeline.build_dataset(files, batch_size, [8, 8],
                                                shards)]


def test_batches_never_span_two_shards(tmp_path):
  """An image's teacher outputs depend (in the last bits) on its batch, so
  a shard's bytes must not depend on its neighbours: shard 0 (9 images,
  two files) ends in a short batch rather than sharing one with shard 1."""
  files = [_write(str(tmp_path / 'a'), [1, 2, 3, 4, 5]),
           _write(str(tmp_path / 'b'), [6, 7, 8, 9]),
           _write(str(tmp_path / 'c'), [10, 11, 12])]
  batches = _batches(files, [0, 0, 1], 4)
  assert [len(b['shard']) for b in batches] == [4, 4, 1, 3]
  assert [sorted(set(b['shard'])) for b in batches] == [[0], [0], [0], [1]]
  # Every record once, in order, with its (file, record) position.
  positions = [(int(f), int(r)) for b in batches
               for f, r in zip(b['file'], b['record'])]
  assert positions == ([(0, k) for k in range(5)] + [(1, k) for k in range(4)]
                       + [(2, k) for k in range(3)])
  ids = [int(i) for b in batches for i in b['source_id']]
  assert ids == list(range(1, 13))
  assert all(b['image'].shape[1:] == (8, 8, 3) for b in batches)
  # The same shard alone (a worker or a Beam bundle with only it) batches
  # its images the same way.
  alone = _batches(files[2:], [1], 4)
  assert [list(b['source_id']) for b in alone] == [
      list(b['source_id']) for b in batches[3:]]


def test_a_bad_record_is_dropped_inside_its_shard(tmp_path):
  files = [_write(str(tmp_path / 'a'), [1, 2, 3], bad_at=[1]),
           _write(str(tmp_path / 'b'), [4, 5])]
  batches = _batches(files, [0, 1], 2)
  assert [[int(i) for i in b['source_id']] for b in batches] == [
      [1, 3], [4, 5]]
  assert [(int(b['file'][0]), list(b['record'])) for b in batches] == [
      (0, [0, 2]), (1, [0, 1])]


def test_no_files_no_batches():
  assert not _batches([], [], 4)


def test_images_are_fitted_then_padded_with_the_pad_value(tmp_path):
  """A 6x12 image into an 8x8 frame: resized by 2/3 to 4x8, then padded at
  the bottom with the RGB pad value (the exported model's normalization
  mean), as Model Garden's export pads a normalized 0."""
  path = str(tmp_path / 'odd')
  image = np.random.RandomState(0).randint(0, 256, [6, 12, 3]).astype(np.uint8)
  with tf.io.TFRecordWriter(path) as w:
    w.write(tfexample.make_example(image, '1').SerializeToString())
  pad = [124, 116, 104]
  (batch,) = input_pipeline.build_dataset([path], 2, [8, 8], pad_value=pad)
  got = batch['image'].numpy()[0]
  fitted = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
      image, [4, 8], method='bilinear')), 0, 255), tf.uint8).numpy()
  np.testing.assert_array_equal(got[:4], fitted)
  np.testing.assert_array_equal(got[4:], np.broadcast_to(pad, [4, 8, 3]))
  assert batch['scale'].numpy()[0] == np.float32(8 / 12)

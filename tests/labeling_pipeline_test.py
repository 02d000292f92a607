"""labeling/pipeline.py's stages: batches labeled in parallel, written in
input order (no model: a teacher and a writer that record what they get)."""

import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from official_ext.data import tfexample
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline


def _write(path, ids):
  with tf.io.TFRecordWriter(path) as w:
    for source_id in ids:
      image = np.full([8, 8, 3], source_id, np.uint8)
      w.write(tfexample.make_example(image, str(source_id))
              .SerializeToString())
  return path


class _Teacher:
  input_size = [8, 8]
  pad_value = (0, 0, 0)
  batch_size = None

  def __call__(self, images):
    return {'brightness': tf.reduce_mean(tf.cast(images, tf.float32),
                                         [1, 2, 3]).numpy()}


class _Writer:
  """Labels slowly for the first batches (so later batches finish labeling
  first) and records the order of the batches it writes."""

  def __init__(self, files, fail_at=None):
    self.files, self.file_shards, self.todo = files, [0] * len(files), [0]
    self.written, self.fail_at, self.relabel = [], fail_at, None
    self.labeling_threads = set()
    self.finished = self.closed = False

  def advance_to(self, j):
    del j

  def labels(self, meta, outputs):
    self.labeling_threads.add(threading.get_ident())
    first = int(meta['source_id'][0])
    if first == self.fail_at:
      raise ValueError(f'labeler failed at {first}')
    time.sleep(0.2 if first < 5 else 0.0)
    return [{'id': int(s), 'brightness': float(b)}
            for s, b in zip(meta['source_id'], outputs['brightness'])]

  def write_batch(self, meta, labels, seconds):
    del meta, seconds
    self.written.extend(labels)
    return len(labels)

  def finish(self):
    self.finished = True

  def close(self):
    self.closed = True


def _config():
  return labeling_options.LabelingOptions(teacher='', batch_size=2,
                                 show_progress=False)


def test_batches_labeled_in_parallel_are_written_in_input_order(
    tmp_path, monkeypatch):
  monkeypatch.setattr(pipeline, 'labeling_threads', lambda: 3)
  files = [_write(str(tmp_path / 'a'), range(1, 12))]
  writer = _Writer(files)
  pipeline.label_shards(_Teacher(), writer, _config())
  assert [r['id'] for r in writer.written] == list(range(1, 12))
  # Each image's own teacher output (its pixels are its id).
  assert [r['brightness'] for r in writer.written] == pytest.approx(
      list(range(1, 12)))
  assert len(writer.labeling_threads) > 1
  assert writer.finished and writer.closed


def test_a_labeling_error_stops_the_run(tmp_path):
  files = [_write(str(tmp_path / 'a'), range(1, 12))]
  writer = _Writer(files, fail_at=5)
  with pytest.raises(ValueError, match='labeler failed at 5'):
    pipeline.label_shards(_Teacher(), writer, _config())
  assert [r['id'] for r in writer.written] == [1, 2, 3, 4]
  assert not writer.finished and writer.closed

"""The task reader skips what pseudo-labeling writes beside its shards."""

import os

import tensorflow as tf

from official_ext.dataloaders import reader


def test_globs_keep_only_record_files(tmp_path):
  names = ['pseudo-00000-of-00002.tfrecord', 'pseudo-00001-of-00002.tfrecord',
           'pseudo-00000-of-00002.tfrecord.stats.json',
           'pseudo-00001-of-00002.tfrecord.tmp-0', 'pseudo_report.json',
           'train-00000-of-00001']
  for n in names:
    (tmp_path / n).write_bytes(b'')
  (tmp_path / 'pseudo_overlays').mkdir()
  got = reader.record_files(f'{tmp_path}/pseudo*,{tmp_path}/train-*')
  assert [os.path.basename(f) for f in got.split(',')] == [
      'pseudo-00000-of-00002.tfrecord', 'pseudo-00001-of-00002.tfrecord',
      'train-00000-of-00001']
  # A pattern that keeps nothing goes on unchanged (Model Garden names it).
  missing = f'{tmp_path}/nothing-*'
  assert reader.record_files(missing) == missing
  assert tf.io.gfile.exists(str(tmp_path / 'pseudo_overlays'))

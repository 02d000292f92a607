"""reshard_tfrecords: 2 big files -> N shards, so N machines can label them."""

import numpy as np
import pytest
import tensorflow as tf

from official_ext.data import sharded_writer
from official_ext.digits import canvases
from official_ext.labeling import shard_plan

from conftest import run_tool


def _records(files):
  return [r.numpy() for r in tf.data.TFRecordDataset(files)]


def test_two_files_to_eight_shards(tmp_path):
  images, targets = canvases.load_digits()
  canvases.write_split(str(tmp_path / 'in'), 'unlabeled', 20, seed=1,
                     pool=np.arange(300), images=images, targets=targets,
                     num_shards=2, with_labels=False)
  pattern = str(tmp_path / 'in' / 'unlabeled-*.tfrecord')
  files = shard_plan.input_files(pattern)
  assert len(files) == 2
  with pytest.raises(ValueError, match='--num_shards=8 but only 2 input files'
                     '.*official_ext.tools.reshard_tfrecords'):
    shard_plan.plan_shards(files, 8)

  prefix = str(tmp_path / 'out' / 'part')
  args = ['tools/reshard_tfrecords.py', f'--input_pattern={pattern}',
          f'--output_prefix={prefix}', '--num_shards=8']
  run_tool(args)
  shards = shard_plan.input_files(sharded_writer.output_pattern(prefix))
  assert len(shards) == 8
  assert len(shard_plan.plan_shards(shards, 8)) == 8
  original = _records(files)
  # Record k of the input (file, then record order) is in shard k % 8.
  for j, shard in enumerate(shards):
    assert _records([shard]) == original[j::8]
  # A rerun over complete shards rewrites nothing.
  mtimes = [tf.io.gfile.stat(s).mtime_nsec for s in shards]
  run_tool(args)
  assert [tf.io.gfile.stat(s).mtime_nsec for s in shards] == mtimes

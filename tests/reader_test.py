"""One rule selects record files from an input pattern (record_files.match);
the task reader, pseudo-labeling and the config check all use it."""

import os

import pytest

from official_ext.data import record_files
from official_ext.labeling import shard_plan


def _touch(root, names):
  for n in names:
    (root / n).write_bytes(b'')
  (root / 'pseudo_overlays').mkdir()


def test_globs_keep_only_record_files(tmp_path):
  _touch(tmp_path, [
      'pseudo-00000-of-00002.tfrecord', 'pseudo-00001-of-00002.tfrecord',
      'pseudo-00000-of-00002.tfrecord.stats.json',
      'pseudo-00001-of-00002.tfrecord.tmp-0', 'pseudo_report.json',
      'train-00000-of-00001', 'train-00000-of-00001.stats.json'])
  got = record_files.match(f'{tmp_path}/pseudo*, {tmp_path}/train-*')
  assert [os.path.basename(f) for f in got] == [
      'pseudo-00000-of-00002.tfrecord', 'pseudo-00001-of-00002.tfrecord',
      'train-00000-of-00001']
  # The labeling tool selects the same files.
  assert shard_plan.input_files(f'{tmp_path}/pseudo*,{tmp_path}/train-*') == got


def test_a_pattern_without_record_files_names_itself(tmp_path):
  _touch(tmp_path, ['u-00000-of-00001.tfrecord.stats.json'])
  with pytest.raises(FileNotFoundError, match=r"--input_pattern='.*/u-\*' "
                     'matches no record file'):
    record_files.match(f'{tmp_path}/u-*', '--input_pattern')
  (tmp_path / 'pseudo_overlays' / 'x').write_bytes(b'')
  with pytest.raises(FileNotFoundError, match='nothing-.*matches no file'):
    record_files.match(f'{tmp_path}/pseudo_overlays/x,{tmp_path}/nothing-*')

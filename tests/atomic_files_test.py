"""official_ext/data/atomic_files.py: whole files or none, many writers."""

import json
import threading

import tensorflow as tf

from official_ext.data import atomic_files


def test_writes_whole_files_and_leaves_no_temporary(tmp_path):
  path = str(tmp_path / 'a.json')
  atomic_files.write_json(path, {'x': [1, 2]})
  assert json.loads(open(path).read()) == {'x': [1, 2]}
  atomic_files.write_text(path, 'replaced')
  assert open(path).read() == 'replaced'
  atomic_files.write_bytes(str(tmp_path / 'b.bin'), b'\x00\x01')
  assert (tmp_path / 'b.bin').read_bytes() == b'\x00\x01'
  assert sorted(p.name for p in tmp_path.iterdir()) == ['a.json', 'b.bin']


def test_many_writers_at_once_leave_one_whole_version(tmp_path):
  """Each writer's temporary name is its own: 8 threads writing the same
  file 20 times each never leave a mix or a partial file."""
  path = str(tmp_path / 'report.json')
  values = [{'writer': k, 'payload': 'x' * (1000 * (k + 1))}
            for k in range(8)]

  def write(value):
    for _ in range(20):
      atomic_files.write_json(path, value)

  threads = [threading.Thread(target=write, args=(v,)) for v in values]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  assert json.loads(open(path).read()) in values
  assert tf.io.gfile.listdir(str(tmp_path)) == ['report.json']
  suffixes = {atomic_files.own_tmp_suffix() for _ in range(100)}
  assert len(suffixes) == 100

"""Pseudo-labeling on a real Dask cluster (Beam's DaskRunner).

Each test starts a cluster on the loopback address as a user would on
machines: `dask scheduler` and two `dask worker` processes of one thread
each, no nanny (a killed worker stays dead, so its work must move), and
tears it down whatever happens. The tool runs as a user runs it:
`pseudo_label --runner=DaskRunner --dask_client_address=HOST:PORT`. Its
shards must equal the single-machine tool's byte for byte, its report must
count every image once, each worker process must load the teacher once (the
runner sets the DoFn up per partition), the shards must spread over both
workers, and a worker killed with -9 mid-run must lose nothing.
"""

import os
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from official_ext.labeling import labeling_report
from official_ext.digits import canvases
from official_ext.testing import dask_cluster

from conftest import child_failure
from conftest import REPO
from conftest import python
from conftest import shard_bytes

NUM_SHARDS = 4
BATCH = 2


@pytest.fixture(scope='module')
def data(tmp_path_factory):
  """16 unlabeled canvases in 4 files: 4 shards of 4 images."""
  out = str(tmp_path_factory.mktemp('dask_data'))
  return canvases.make_dataset(out, seed=3, num_train=4, num_unlabeled=16,
                               num_val=4, num_shards=4, num_test=0)


def _env():
  return dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2',
              CUDA_VISIBLE_DEVICES='')


def _cluster(tmp_path):
  return dask_cluster.local_cluster(str(tmp_path), workers=2, env=_env())


def _args(teacher, task, pattern, prefix, threshold, *extra):
  return ['-m', 'official_ext.tools.pseudo_label', f'--teacher={teacher}',
          f'--task={task}', f'--input_pattern={pattern}',
          f'--output_prefix={prefix}', f'--score_threshold={threshold}',
          f'--num_shards={NUM_SHARDS}', f'--batch_size={BATCH}',
          '--no_progress', *extra]


def _shards(prefix):
  return shard_bytes(prefix, NUM_SHARDS)


_report = labeling_report.read_report


def _single_machine(teacher, task, pattern, prefix, threshold):
  proc = python(_args(teacher, task, pattern, prefix, threshold), timeout=600)
  assert proc.returncode == 0, child_failure(proc, 4000)
  return _shards(prefix)


def _check_report(report, prefix):
  """Every image once; every shard by one worker; the teacher loaded once
  per worker process."""
  assert report['runner'] == 'DaskRunner'
  assert report['runner_counters'] is None  # DaskRunner collects none.
  assert report['images_labeled'] == 16 and report['images_skipped'] == 0
  assert report['shards_complete'] == NUM_SHARDS
  assert not tf.io.gfile.glob(prefix + '-*.tmp*')


@pytest.mark.parametrize('task', ['detection', 'segmentation'])
def test_a_dask_cluster_writes_the_single_machine_bytes(
    task, data, fake_teacher, fake_seg_teacher, fake_threshold, tmp_path):
  teacher = fake_teacher if task == 'detection' else fake_seg_teacher
  threshold = fake_threshold if task == 'detection' else 0.3
  expected = _single_machine(teacher, task, data['unlabeled'],
                             str(tmp_path / 'single' / 'pseudo'), threshold)
  assert sum(len(s) for s in expected) > 0
  prefix = str(tmp_path / 'dask' / 'pseudo')
  with _cluster(tmp_path) as (address, _):
    proc = python(_args(teacher, task, data['unlabeled'], prefix, threshold,
                        '--runner=DaskRunner',
                        f'--dask_client_address={address}'), timeout=900)
    assert proc.returncode == 0, child_failure(proc, 4000)
  assert _shards(prefix) == expected
  report = _report(prefix)
  _check_report(report, prefix)
  workers = report['workers']
  done = sorted(j for w in workers.values() for j in w['shards'])
  assert done == list(range(NUM_SHARDS))  # Each shard once.
  assert not any(w['found_complete'] for w in workers.values())
  assert all(w['teacher_loads'] == 1 for w in workers.values()), workers
  assert len(workers) == 2, f'the shards ran on one worker: {workers}'


def test_a_worker_killed_mid_run_loses_nothing(
    data, slow_fake_teacher, fake_threshold, tmp_path):
  """kill -9 on the worker that is writing a shard (its temporary file
  carries its pid): the scheduler gives that work to the other worker (or,
  if the run fails, the rerun resumes); either way the shards are the
  single-machine bytes, each image counted once, no temporary file left."""
  pattern = data['unlabeled']
  expected = _single_machine(slow_fake_teacher, 'detection', pattern,
                             str(tmp_path / 'single' / 'pseudo'),
                             fake_threshold)
  prefix = str(tmp_path / 'dask' / 'pseudo')
  args = _args(slow_fake_teacher, 'detection', pattern, prefix,
               fake_threshold, '--runner=DaskRunner')
  with _cluster(tmp_path) as (address, workers):
    run = subprocess.Popen(
        [sys.executable, *args, f'--dask_client_address={address}'],
        cwd=REPO, env=_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    pids = {str(w.pid): w for w in workers}
    writing = None
    deadline = time.time() + 600
    while time.time() < deadline and run.poll() is None and not writing:
      for path in tf.io.gfile.glob(prefix + '-*.tfrecord.tmp-beam-*'):
        pid = path.rsplit('.tmp-beam-', 1)[1].split('-')[0]
        try:
          if pid in pids and os.path.getsize(path) > 0:
            writing = pids[pid]
        except OSError:  # Renamed since the glob: that shard is done.
          pass
      time.sleep(0.05)
    assert writing, 'no worker was seen writing a shard: ' + (
        run.stderr.read()[-3000:] if run.poll() is not None else '')
    os.kill(writing.pid, signal.SIGKILL)
    stdout, stderr = run.communicate(timeout=900)
    if run.returncode != 0:  # The engine gave up: the rerun resumes.
      rerun = python(args + [f'--dask_client_address={address}'],
                     timeout=900)
      assert rerun.returncode == 0, child_failure(rerun, 4000)
    else:
      assert stdout, stderr[-3000:]
  assert _shards(prefix) == expected
  report = _report(prefix)
  _check_report(report, prefix)
  # Each shard once: labeled by a worker whose result reached the report,
  # or found complete by the one that computed a lost result again.
  seen = [j for w in report['workers'].values()
          for j in w['shards'] + w['found_complete']]
  assert sorted(seen) == list(range(NUM_SHARDS)), report['workers']


def test_a_misspelled_dask_option_is_refused_in_one_line(
    fake_teacher, data, tmp_path):
  proc = python(_args(fake_teacher, 'detection', data['unlabeled'],
                      str(tmp_path / 'p'), 0.3, '--runner=DirectRunner',
                      '--dask_client_adress=x:1'), timeout=300)
  assert proc.returncode != 0
  assert proc.stderr.strip().splitlines()[-1] == (
      'pseudo_label.py: error: neither this tool nor Beam knows '
      '--dask_client_adress=x:1.')

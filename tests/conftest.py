"""Shared fixtures: a tiny digits data set and helpers to run our commands."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')


@pytest.fixture(scope='session')
def digits_data(tmp_path_factory):
  """Real scikit-learn digits on 128x128 canvases, a few dozen images."""
  from official_ext.data import digits  # pylint: disable=g-import-not-at-top
  out = tmp_path_factory.mktemp('digits')
  return digits.make_dataset(str(out), seed=0, num_train=48,
                             num_unlabeled=16, num_val=16, num_shards=2)


def run_tool(args, timeout=900):
  """Runs a repo script with this interpreter; fails the test on error."""
  env = dict(os.environ, PYTHONPATH=REPO)
  proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=timeout)
  if proc.returncode != 0:
    raise AssertionError(
        f'{args[0]} exited {proc.returncode}\n{proc.stderr[-6000:]}')
  return proc


def read_scalars(event_dir):
  from official_ext.utils import summaries  # pylint: disable=g-import-not-at-top
  return summaries.read_scalars(event_dir)

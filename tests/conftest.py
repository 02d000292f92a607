"""Shared fixtures: a tiny digits data set and helpers to run our commands."""

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

# Two logical CPU devices, so MirroredStrategy tests get two replicas. Must
# happen before TensorFlow initializes its devices.
_CPUS = tf.config.list_physical_devices('CPU')
tf.config.set_logical_device_configuration(
    _CPUS[0], [tf.config.LogicalDeviceConfiguration()] * 2)


@pytest.fixture(scope='session')
def digits_data(tmp_path_factory):
  """Real scikit-learn digits on 128x128 canvases, a few dozen images."""
  from official_ext.data import digits  # pylint: disable=g-import-not-at-top
  out = tmp_path_factory.mktemp('digits')
  return digits.make_dataset(str(out), seed=0, num_train=48,
                             num_unlabeled=16, num_val=16, num_shards=2)


@pytest.fixture(scope='session')
def digits_teacher(digits_data, tmp_path_factory):
  """A briefly trained supervised_digits teacher, exported (image_tensor)."""
  model_dir = str(tmp_path_factory.mktemp('teacher'))
  run_tool(['train.py', '--experiment=supervised_digits', '--mode=train',
            f'--model_dir={model_dir}', '--params_override=' + ','.join([
                f"task.train_data.input_path={digits_data['train']}",
                'trainer.train_steps=300', 'trainer.steps_per_loop=100',
                'trainer.summary_interval=100',
                'trainer.checkpoint_interval=300',
                'trainer.optimizer_config.warmup.linear.warmup_steps=10',
                'trainer.optimizer_config.learning_rate.cosine.decay_steps=1500',
            ])])
  export_dir = os.path.join(model_dir, 'export')
  run_tool(['tools/export_saved_model.py', '--experiment=supervised_digits',
            f'--config_file={model_dir}/params.yaml',
            f'--checkpoint_path={model_dir}', f'--export_dir={export_dir}'])
  return export_dir


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

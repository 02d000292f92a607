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
                'trainer.train_steps=500', 'trainer.steps_per_loop=100',
                'trainer.summary_interval=100',
                'trainer.checkpoint_interval=500',
                'trainer.optimizer_config.warmup.linear.warmup_steps=20',
                'trainer.optimizer_config.learning_rate.cosine.decay_steps=500',
            ])])
  export_dir = os.path.join(model_dir, 'export')
  run_tool(['tools/export_saved_model.py', '--experiment=supervised_digits',
            f'--config_file={model_dir}/params.yaml',
            f'--checkpoint_path={model_dir}', f'--export_dir={export_dir}'])
  return export_dir


@pytest.fixture(scope='session')
def teacher_threshold(digits_teacher, digits_data):
  """A score threshold that keeps some of the test teacher's boxes and drops
  others: the median of its top score per unlabeled image.

  A 500-step teacher is unsure and its scores vary from run to run (CPU
  training is not bit-deterministic), so a fixed number is flaky.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top
  from official_ext.self_training import teacher as teacher_lib  # pylint: disable=g-import-not-at-top
  teacher = teacher_lib.Teacher(digits_teacher, 'detection')
  files = sorted(tf.io.gfile.glob(digits_data['unlabeled']))
  tops = []
  for record in tf.data.TFRecordDataset(files):
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    image = tf.io.decode_image(
        feature['image/encoded'].bytes_list.value[0], channels=3)[None]
    out = teacher(image)
    n = int(out['num_detections'][0])
    if n:
      tops.append(float(out['detection_scores'][0][:n].max()))
  assert len(tops) >= 4, f'test teacher detects almost nothing: {tops}'
  assert max(tops) > min(tops), f'test teacher scores are constant: {tops}'
  return round(float(np.median(tops)), 4)


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

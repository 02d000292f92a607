"""A bad training config fails before any heavy work, with one clear line."""

import os
import time

import pytest
import tensorflow as tf

from official.core import exp_factory
from official_ext import registry_imports  # pylint: disable=unused-import
from official_ext.configs import common
from official_ext.tools import train

from conftest import python

# The digits recipes' [height, width].
SIZE = [common.DIGITS_IMAGE_SIZE] * 2


def _student(digits_data, teacher=''):
  params = exp_factory.get_exp_config('selftrain_digits')
  params.task.train_data.input_path = digits_data['train']
  params.task.validation_data.input_path = digits_data['val']
  params.task.pseudo_data.input_path = digits_data['unlabeled']
  params.task.self_training.teacher = teacher
  return params


@pytest.mark.parametrize('override,error,words', [
    ({'task.self_training.alpha': -1.0}, ValueError, ['alpha=-1.0', '>= 0']),
    ({'task.self_training.score_threshold': 1.5}, ValueError,
     ['score_threshold=1.5', '[0, 1]']),
    ({'task.pseudo_data.global_batch_size': 0}, ValueError,
     ['pseudo_data.global_batch_size=0', 'positive']),
    ({'task.pseudo_data.input_path': ''}, ValueError,
     ['pseudo_data.input_path is empty']),
    ({'task.pseudo_data.input_path': '/no/such/pseudo-*'}, FileNotFoundError,
     ["task.pseudo_data.input_path='/no/such/pseudo-*' matches no file"]),
    ({'task.train_data.input_path': '/no/train-*'}, FileNotFoundError,
     ['task.train_data.input_path']),
    ({'task.self_training.teacher': '/no/such/teacher'}, FileNotFoundError,
     ['task.self_training.teacher', 'does not exist']),
    ({'task.self_training.max_loss_ratio': 0.0}, ValueError,
     ['max_loss_ratio=0.0', '> 0']),
    ({'task.self_training.mode': 'mean_teacher'}, ValueError,
     ["mode='mean_teacher'", "['offline', 'online']"]),
    ({'task.self_training.mode': 'online',
      'task.self_training.burn_in_steps': 0}, ValueError,
     ['burn_in_steps=0', '>= 1']),
    ({'task.self_training.mode': 'online',
      'task.self_training.ema_decay': 1.0}, ValueError,
     ['ema_decay=1.0', '[0, 1)']),
    ({'task.self_training.mode': 'online',
      'task.self_training.teacher': '/a/teacher'}, ValueError,
     ["teacher='/a/teacher' with mode='online'", "mode='offline'"]),
    ({'task.self_training.mode': 'online',
      'task.self_training.class_thresholds': 'auto',
      'task.self_training.calibration_pattern': '/x-*'}, ValueError,
     ["mode='online'", 'no calibration']),
    ({'task.train_data.dtype': 'bfloat16'}, ValueError,
     ["task.pseudo_data.dtype='float32' but task.train_data.dtype="
      "'bfloat16'"]),
])
def test_bad_fields_are_named(digits_data, override, error, words):
  params = _student(digits_data)
  for key, value in override.items():
    nested = value
    for part in reversed(key.split('.')):
      nested = {part: nested}
    params.override(nested, is_strict=True)
  with pytest.raises(error) as info:
    train.check_experiment(params, 'train_and_eval')
  for word in words:
    assert word in str(info.value)


def test_teacher_checked_against_the_student(digits_data, fake_teacher,
                                             fake_seg_teacher):
  params = _student(digits_data, fake_teacher)
  train.check_experiment(params, 'train')  # A good config passes.
  params.task.model.num_classes = 5
  with pytest.raises(ValueError, match='teacher.*predicts 11 classes.*=5'):
    train.check_experiment(params, 'train')
  params = _student(digits_data, fake_seg_teacher)
  with pytest.raises(ValueError, match='teacher.*not a detection model'):
    train.check_experiment(params, 'train')


def test_preflight_reads_the_signature_without_loading_the_teacher(
    digits_data, fake_teacher, monkeypatch):
  """The check reads saved_model.pb's MetaGraph and params.yaml; loading the
  teacher's graph is the labeler's work, not the trainer's."""
  def no_loading(*unused_args, **unused_kwargs):
    raise AssertionError('the preflight loaded the teacher SavedModel')
  monkeypatch.setattr(tf.saved_model, 'load', no_loading)
  params = _student(digits_data, fake_teacher)
  assert train.check_experiment(params, 'train') is None
  # It did read the teacher: another class count is refused, unloaded.
  params.task.model.num_classes += 1
  with pytest.raises(ValueError, match=r'^task\.self_training\.teacher: '):
    train.check_experiment(params, 'train')


def test_eval_mode_does_not_need_training_data(digits_data):
  params = _student(digits_data)
  params.task.train_data.input_path = ''
  params.task.pseudo_data.input_path = ''
  assert train.check_experiment(params, 'eval') is None  # Nothing raised.
  # The same config in a training mode is refused, naming the field: the
  # eval mode's pass is its choice, not a check that never looks.
  with pytest.raises(ValueError, match=r'^task\.train_data'):
    train.check_experiment(params, 'train_and_eval')


def test_train_py_prints_one_line_and_stops_early(digits_data, tmp_path):
  start = time.time()
  proc = python(
      ['train.py', '--experiment=selftrain_digits',
       '--mode=train', f'--model_dir={tmp_path}', '--params_override=' +
       ','.join([f"task.train_data.input_path={digits_data['train']}",
                 f"task.pseudo_data.input_path={digits_data['unlabeled']}",
                 'task.self_training.alpha=-2'])],
      timeout=300)
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith('train.py: error: task.self_training.alpha=-2'), (
      proc.stderr[-2000:])
  assert 'Traceback' not in proc.stderr
  assert not os.listdir(tmp_path)  # Nothing written, no model built.
  assert time.time() - start < 120


@pytest.mark.parametrize('override,words', [
    ({'crop_size': [64, 64]}, ['task.pseudo_data.crop_size=[] but '
                               'task.train_data.crop_size=[64, 64]']),
    ({'output_size': [64, 64]}, [f'task.pseudo_data.output_size={SIZE} '
                                 'but task.train_data.output_size=[64, 64]']),
])
def test_segmentation_halves_must_match(digits_data, override, words):
  """Without the check these fail at trace time with a shape error."""
  params = exp_factory.get_exp_config('selftrain_digits_seg')
  params.task.train_data.input_path = digits_data['train']
  params.task.pseudo_data.input_path = digits_data['unlabeled']
  params.task.validation_data.input_path = digits_data['val']
  train.check_experiment(params, 'train')  # As registered: passes.
  params.task.train_data.override(override)
  with pytest.raises(ValueError) as info:
    train.check_experiment(params, 'train')
  for word in words:
    assert word in str(info.value)
  params.task.pseudo_data.override(override)
  params.task.train_input_partition_dims = [1, 2, 1, 1]
  with pytest.raises(ValueError, match='train_input_partition_dims=.*not '
                     'implemented'):
    train.check_experiment(params, 'train')

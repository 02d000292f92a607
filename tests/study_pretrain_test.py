"""study/pretrain.py: one pre-training per study, shared by its workers."""

import json
import os
import subprocess
import sys
import threading
import time

import filelock
import pytest
import tensorflow as tf

from official_ext.study import pretrain
from official_ext.study import study_config


def _init():
  return study_config.InitConfig(
      name='classification',
      pretrain=study_config.ModelConfig(experiment='pretrain_digits',
                                        recipe='pretrain_digits_cpu.yaml'))


def _finish(model_dir, accuracy):
  """What a finished pre-training leaves: a checkpoint and metrics.json."""
  os.makedirs(model_dir, exist_ok=True)
  tf.train.Checkpoint(v=tf.Variable(1.0)).save(os.path.join(model_dir, 'ckpt'))
  with open(os.path.join(model_dir, pretrain.METRICS_FILE), 'w') as f:
    json.dump({'metrics': {'accuracy': accuracy}}, f)


def test_a_finished_pretrain_is_not_trained_again(tmp_path):
  model_dir = tmp_path / 'pretrain' / 'classification'
  _finish(str(model_dir), 0.9)
  init = _init()
  # No runner: training would fail.
  record = pretrain.run(None, init, ['recipe.yaml'], {}, str(tmp_path), 10)
  assert record['metrics'] == {'accuracy': 0.9}
  assert init.checkpoint == str(model_dir / 'ckpt-1')


def test_a_finished_pretrain_made_from_other_inputs_is_refused(tmp_path):
  """Its metrics.json records what made it; a study with other steps (or
  recipe, or data) stops naming what changed instead of reusing it."""
  model_dir = tmp_path / 'pretrain' / 'classification'
  _finish(str(model_dir), 0.9)
  init = _init()
  record_path = model_dir / pretrain.METRICS_FILE
  record = json.loads(record_path.read_text())
  record['made_from'] = pretrain.made_from(init, ['recipe.yaml'], {}, 10)
  record_path.write_text(json.dumps(record))
  assert pretrain.run(None, init, ['recipe.yaml'], {}, str(tmp_path),
                      10)['metrics'] == {'accuracy': 0.9}
  with pytest.raises(pretrain.stages.StageFailed,
                     match=r'trained from other inputs .*changed: steps\); '
                     r'delete it'):
    pretrain.run(None, _init(), ['recipe.yaml'], {}, str(tmp_path), 20)


def test_a_recipe_comment_does_not_make_a_pretrain_stale(tmp_path):
  """What made a pre-training keeps its recipe's settings, so a comment
  edit reuses it; a record of an earlier version (the recipe's bytes)
  counts while the bytes are the same."""
  recipe = tmp_path / 'pretrain.yaml'
  recipe.write_text('trainer:\n  train_steps: 10\n')
  model_dir = tmp_path / 'pretrain' / 'classification'
  _finish(str(model_dir), 0.9)
  record_path = model_dir / pretrain.METRICS_FILE
  record = json.loads(record_path.read_text())
  legacy = dict(pretrain.made_from(_init(), [str(recipe)], {}, 10),
                recipe=pretrain.stage_records.content_hash(str(recipe)))
  record_path.write_text(json.dumps(dict(record, made_from=legacy)))
  assert pretrain.run(None, _init(), [str(recipe)], {}, str(tmp_path),
                      10)['metrics'] == {'accuracy': 0.9}
  record_path.write_text(json.dumps(dict(
      record, made_from=pretrain.made_from(_init(), [str(recipe)], {}, 10))))
  recipe.write_text('# Measured: 0.9.\ntrainer: {train_steps: 10}\n')
  assert pretrain.run(None, _init(), [str(recipe)], {}, str(tmp_path),
                      10)['metrics'] == {'accuracy': 0.9}
  recipe.write_text('trainer: {train_steps: 10, steps_per_loop: 5}\n')
  with pytest.raises(pretrain.stages.StageFailed,
                     match=r'changed: recipe\)'):
    pretrain.run(None, _init(), [str(recipe)], {}, str(tmp_path), 10)


def test_an_init_s_own_pretrain_data_replaces_the_study_s(tmp_path):
  """pretrain_data: this init pre-trains on its own classification files
  (what made it records them); without it, on the study's."""
  for name in ('shapes-0.tfrecord', 'shapes_val-0.tfrecord',
               'digits-0.tfrecord', 'digits_val-0.tfrecord'):
    (tmp_path / name).write_bytes(name.encode())
  study_data = {'train': 't', 'classification_train':
                str(tmp_path / 'shapes-*.tfrecord'),
                'classification_val': str(tmp_path / 'shapes_val-*.tfrecord')}
  init = _init()
  assert pretrain.init_data(init, study_data) is study_data
  init.pretrain_data.train = str(tmp_path / 'digits-*.tfrecord')
  init.pretrain_data.val = str(tmp_path / 'digits_val-*.tfrecord')
  own = pretrain.init_data(init, study_data)
  assert own == {**study_data, 'classification_train': init.pretrain_data.train,
                 'classification_val': init.pretrain_data.val}
  shapes = pretrain.made_from(init, ['recipe.yaml'], study_data, 10)
  digits = pretrain.made_from(init, ['recipe.yaml'], own, 10)
  assert [k for k in shapes if shapes[k] != digits[k]] == ['train', 'val']
  assert 'digits-0.tfrecord' in json.dumps(digits['train'])


def test_a_worker_waits_for_the_one_holding_the_lock(tmp_path, capsys):
  model_dir = str(tmp_path / 'pretrain' / 'classification')
  os.makedirs(os.path.dirname(model_dir))
  # Released by another thread: not thread-local.
  holder = filelock.FileLock(model_dir + '.lock', thread_local=False)
  holder.acquire()  # Another worker is training it.
  results = {}

  def other_worker():
    time.sleep(0.5)
    _finish(model_dir, 0.7)
    holder.release()

  thread = threading.Thread(target=other_worker)
  thread.start()
  init = _init()
  start = time.time()
  results['record'] = pretrain.run(None, init, ['recipe.yaml'], {},
                                   str(tmp_path), 10, poll_s=0.05)
  thread.join()
  assert time.time() - start >= 0.5
  assert results['record']['metrics'] == {'accuracy': 0.7}
  assert init.checkpoint == model_dir + '/ckpt-1'
  assert 'another worker is training it' in capsys.readouterr().out


def test_a_worker_killed_holding_the_lock_does_not_block_the_others(
    tmp_path):
  """kill -9 of the worker that holds the lock: the next worker takes it and
  trains (here: its runner is called) instead of waiting forever."""
  model_dir = str(tmp_path / 'pretrain' / 'classification')
  os.makedirs(os.path.dirname(model_dir))
  holder = subprocess.Popen(
      [sys.executable, '-c', 'import filelock, sys, time; '
       f'filelock.FileLock({model_dir + ".lock"!r}).acquire(); '
       'print("held", flush=True); time.sleep(600)'],
      stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'held'
  holder.kill()
  holder.wait()
  runner = _FakeTrainRunner()
  data = {}
  for split in ('classification_train', 'classification_val'):
    data[split] = str(tmp_path / f'{split}.tfrecord')
    with tf.io.TFRecordWriter(data[split]) as writer:
      writer.write(b'x')
  record = pretrain.run(runner, _init(), ['recipe.yaml'], data,
                        str(tmp_path), 10, poll_s=0.05, timeout_s=30)
  assert [c['stage'] for c in runner.commands] == ['pretrain/classification']
  assert record['metrics'] == pytest.approx({'accuracy': 0.8,
                                            'top_5_accuracy': 0.9})
  assert record['model_dir'] == model_dir


class _FakeTrainRunner:
  """A stages.Runner whose train command leaves what train.py would: a
  checkpoint and the validation metrics' event file."""

  def __init__(self):
    self.commands = []

  def run(self, stage, argv, unused_log_path):
    self.commands.append({'stage': stage, 'argv': list(argv)})
    model_dir = next(a.split('=', 1)[1] for a in argv
                     if a.startswith('--model_dir='))
    tf.train.Checkpoint(v=tf.Variable(1.0)).save(
        os.path.join(model_dir, 'ckpt'))
    writer = tf.summary.create_file_writer(
        os.path.join(model_dir, 'validation'))
    with writer.as_default():
      tf.summary.scalar('accuracy', 0.8, step=10)
      tf.summary.scalar('top_5_accuracy', 0.9, step=10)
    writer.close()
    return 1.0


def test_a_live_holder_past_the_timeout_names_the_lock(tmp_path):
  model_dir = str(tmp_path / 'pretrain' / 'classification')
  os.makedirs(os.path.dirname(model_dir))
  holder = filelock.FileLock(model_dir + '.lock')
  holder.acquire()
  try:
    with pytest.raises(TimeoutError, match='classification.lock'):
      pretrain.run(None, _init(), ['recipe.yaml'], {}, str(tmp_path), 10,
                   poll_s=0.05, timeout_s=0.3)
  finally:
    holder.release()

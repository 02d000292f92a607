"""study/pretrain.py: one pre-training per study, shared by its workers."""

import json
import os
import threading
import time

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
  record = pretrain.run(None, init, 'recipe.yaml', {}, str(tmp_path), 10)
  assert record['metrics'] == {'accuracy': 0.9}
  assert init.checkpoint == str(model_dir / 'ckpt-1')


def test_a_worker_waits_for_the_one_holding_the_lock(tmp_path, capsys):
  model_dir = str(tmp_path / 'pretrain' / 'classification')
  os.makedirs(model_dir + '.lock')  # Another worker is training it.
  results = {}

  def other_worker():
    time.sleep(0.5)
    _finish(model_dir, 0.7)
    os.rmdir(model_dir + '.lock')

  thread = threading.Thread(target=other_worker)
  thread.start()
  init = _init()
  start = time.time()
  results['record'] = pretrain.run(None, init, 'recipe.yaml', {},
                                   str(tmp_path), 10, poll_s=0.05)
  thread.join()
  assert time.time() - start >= 0.5
  assert results['record']['metrics'] == {'accuracy': 0.7}
  assert init.checkpoint == model_dir + '/ckpt-1'
  assert 'another worker is training it' in capsys.readouterr().out
  assert not os.path.exists(model_dir + '.lock')

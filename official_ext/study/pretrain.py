"""The inits a study trains itself: classification pre-training.

An init with a `pretrain` (the paper's ImageNet role at your scale: the
backbone learns to classify labeled images first) is trained once per study
with train.py (`train_and_eval` of the pretrain experiment on the
classification splits) under OUTPUT/pretrain/<init>; its latest checkpoint
then initializes the modules the init names in every cell of that init.
Workers share it: the first to get there takes OUTPUT/pretrain/<init>.lock
(a folder) and trains; the others wait for its metrics.json.
"""

import json
import os
import time

import tensorflow as tf

from official_ext.utils import loop
from official_ext.utils import stages

# Model Garden's image classification task's validation metrics.
METRICS = ('accuracy', 'top_5_accuracy')
METRICS_FILE = 'metrics.json'


def run(runner: stages.Runner, init, recipe: str, data: dict, out: str,
        steps: int, poll_s: float = 10.0) -> dict:
  """Trains (or finds) `init`'s pre-training and points `init.checkpoint`
  at it; returns its record: metrics on the classification val split,
  steps, seconds, the model_dir."""
  model_dir = os.path.join(out, 'pretrain', init.name)
  record_path = os.path.join(model_dir, METRICS_FILE)
  lock = model_dir + '.lock'
  waiting = False
  while not os.path.exists(record_path):
    try:
      os.makedirs(lock)
    except FileExistsError:
      if not waiting:
        print(f'[pretrain/{init.name}] another worker is training it; '
              f'waiting for {record_path} (if no worker is, remove {lock})',
              flush=True)
        waiting = True
      time.sleep(poll_s)
      continue
    try:
      if not os.path.exists(record_path):  # Finished while we looked.
        _train(runner, init, recipe, data, model_dir, steps, record_path)
    finally:
      os.rmdir(lock)
  with open(record_path) as f:
    record = json.load(f)
  init.checkpoint = tf.train.latest_checkpoint(model_dir)
  return record


def _train(runner, init, recipe, data, model_dir, steps, record_path):
  os.makedirs(os.path.dirname(model_dir), exist_ok=True)
  seconds = loop.train(
      runner, f'pretrain/{init.name}', init.pretrain.experiment, [recipe],
      model_dir, steps,
      [f"task.train_data.input_path={data['classification_train']}",
       f"task.validation_data.input_path={data['classification_val']}"],
      model_dir + '.log')
  record = {'init': init.name, 'experiment': init.pretrain.experiment,
            'model_dir': model_dir, 'steps': steps, 'wall_time_s': seconds,
            'metrics': loop.last_metrics(model_dir, METRICS),
            'command': ' '.join(['python'] + runner.commands[-1]['argv'])}
  scratch = f'{record_path}.tmp{os.getpid()}'
  with open(scratch, 'w') as f:
    json.dump(record, f, indent=2)
  os.replace(scratch, record_path)

"""The inits a study trains itself: classification pre-training.

An init with a `pretrain` (the paper's ImageNet role at your scale: the
backbone learns to classify labeled images first) is trained once per study
with train.py (`train_and_eval` of the pretrain experiment on the
classification splits) under OUTPUT/pretrain/<init>; its latest checkpoint
then initializes the modules the init names in every cell of that init.
Workers share it: the first to get there takes OUTPUT/pretrain/<init>.lock
and trains; the others wait for the lock, then read its metrics.json. The
lock is `filelock`'s (an flock the kernel releases when its holder dies), so
a worker killed while training leaves no stale lock: the next one trains.
"""

import json
import os

import filelock
import tensorflow as tf

from official_ext.data import atomic_files
from official_ext.rounds import stage_records
from official_ext.utils import tool_commands
from official_ext.utils import stages

# Model Garden's image classification task's validation metrics.
METRICS = ('accuracy', 'top_5_accuracy')
METRICS_FILE = 'metrics.json'


def run(runner: stages.Runner, init, files: list, data: dict, out: str,
        steps: int, poll_s: float = 10.0,
        timeout_s: float = 7 * 24 * 3600.0) -> dict:
  """Trains (or finds) `init`'s pre-training and points `init.checkpoint`
  at it; returns its record: metrics on the classification val split,
  steps, seconds, the model_dir. Waits at most `timeout_s` for a worker
  that holds the lock."""
  model_dir = os.path.join(out, 'pretrain', init.name)
  record_path = os.path.join(model_dir, METRICS_FILE)
  now = made_from(init, files, data, steps)
  if not os.path.exists(record_path):
    os.makedirs(os.path.dirname(model_dir), exist_ok=True)
    lock = filelock.FileLock(model_dir + '.lock')
    try:
      lock.acquire(timeout=0)
    except filelock.Timeout:
      print(f'[pretrain/{init.name}] another worker is training it; '
            f'waiting for {lock.lock_file}', flush=True)
      try:
        lock.acquire(timeout=timeout_s, poll_interval=poll_s)
      except filelock.Timeout:
        raise TimeoutError(
            f'pretrain/{init.name}: waited {timeout_s:.0f} s for '
            f'{lock.lock_file}, held by another live worker; is it still '
            'training?') from None
    try:
      if not os.path.exists(record_path):  # Finished while we waited.
        _train(runner, init, files, data, model_dir, steps, record_path,
               now)
    finally:
      lock.release()
  with open(record_path) as f:
    record = json.load(f)
  recorded = record.get('made_from')
  if recorded is not None and recorded == dict(
      now, recipe=stage_records.content_hash(files[0])):
    recorded = now  # Recorded before config_hash: the recipe's bytes.
  if recorded is not None and recorded != now:
    changed = sorted(k for k in now if recorded.get(k) != now[k])
    raise stages.StageFailed(
        f'pretrain/{init.name}: {model_dir} was trained from other inputs '
        f"than this study's (changed: {', '.join(changed)}); delete it to "
        'train it again, or use another --output_dir.')
  init.checkpoint = tf.train.latest_checkpoint(model_dir)
  return record


def init_data(init, data: dict) -> dict:
  """The study's data with `init`'s own classification splits, where its
  `pretrain_data` names them."""
  if not init.pretrain_data.train:
    return data
  return {**data, 'classification_train': init.pretrain_data.train,
          'classification_val': init.pretrain_data.val}


def made_from(init, files: list, data: dict, steps: int) -> dict:
  """What a pre-training is made from: its experiment, the settings of its
  recipe and config_files (`config_hash`: comments aside; `files`: the
  recipe's path first), the steps and the classification files with their
  sizes."""
  inputs = {'experiment': init.pretrain.experiment,
            'recipe': stage_records.config_hash(files[0]), 'steps': steps,
            'train': stage_records.files_record(
                data.get('classification_train', '')),
            'val': stage_records.files_record(
                data.get('classification_val', ''))}
  if files[1:]:
    inputs['config_files'] = [stage_records.config_hash(f) for f in files[1:]]
  return inputs


def _train(runner, init, files, data, model_dir, steps, record_path,
           inputs):
  seconds = tool_commands.train(
      runner, f'pretrain/{init.name}', init.pretrain.experiment, files,
      model_dir, steps,
      [f"task.train_data.input_path={data['classification_train']}",
       f"task.validation_data.input_path={data['classification_val']}"],
      model_dir + '.log')
  record = {'init': init.name, 'experiment': init.pretrain.experiment,
            'made_from': inputs,
            'model_dir': model_dir, 'steps': steps, 'wall_time_s': seconds,
            'metrics': tool_commands.last_metrics(model_dir, METRICS),
            'command': ' '.join(['python'] + runner.commands[-1]['argv'])}
  atomic_files.write_json(record_path, record)

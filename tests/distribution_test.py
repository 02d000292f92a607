"""The self-training task under tf.distribute: 2 replicas, 2 workers and
the TPU config path. (Repeatable runs: seeding_test, for the detection
student's command, and self_train_test's kill test, whose resumed segmentation
student equals the uninterrupted one bit for bit.)

The steps run the segmentation student (conftest.FAST_SEGMENTER): the shared
self-training core is the same for both tasks, and its steps are ~3x faster
on CPU than the SpineNet detector's. mixed_batch_test and selftrain_retinanet_test
cover the detection task's step."""

import json
import os
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

from official.common import distribute_utils
from official.core import exp_factory
from official.modeling.hyperparams import params_dict
from official_ext.configs import recipes as recipe_lib
from official_ext.testing import distributed_steps

from conftest import FAST_SEGMENTER
from conftest import REPO


EXPERIMENT = 'selftrain_digits_seg'
SEGMENTER = recipe_lib.recipe_path(FAST_SEGMENTER)


# The replicas' losses differ by 0.01-0.1% at the start (per-pixel means of
# 4 images each): the "!=" checks below separate values at 2e-5, twice the
# 1e-5 to which the "==" checks hold (float32 sums agree to ~1e-7).


def _params(digits_data, batch=8):
  return distributed_steps.experiment(
      EXPERIMENT, digits_data['train'], digits_data['train'], batch,
      config_files=[SEGMENTER])


def test_mirrored_two_replicas_share_the_loss_averages(digits_data,
                                                       two_replica_strategy):
  result = distributed_steps.run_steps(two_replica_strategy,
                                       _params(digits_data), 2)
  assert result['num_replicas'] == 2
  assert result['human_batch_per_replica'] == [[4, 4], [4, 4]]
  assert result['pseudo_batch_per_replica'] == [[4, 4], [4, 4]]
  # One value on every replica, folded in from the cross-replica mean:
  # the EMA (decay 0.99, first step sets it) of the replicas' mean losses.
  # Without the all-reduce the variables would still agree (they keep the
  # first replica's write), but hold replica 0's losses instead.
  decay = _params(digits_data).task.self_training.loss_average_decay
  for half in ('human', 'pseudo'):
    steps = result[f'{half}_loss_per_replica']
    assert steps[0][0] != pytest.approx(steps[0][1], rel=2e-5), steps
    mean = [sum(s) / 2 for s in steps]
    expected = decay * mean[0] + (1 - decay) * mean[1]
    first_only = decay * steps[0][0] + (1 - decay) * steps[1][0]
    average = result[f'{half}_average']
    assert average[0] == average[1] == pytest.approx(expected, rel=1e-5)
    assert average[0] != pytest.approx(first_only, rel=2e-5)
  assert result['num_updates'] == [2.0, 2.0]
  assert result['optimizer_iterations'] == 2


def test_batch_not_divisible_by_replicas_is_a_clear_error(
    digits_data, two_replica_strategy):
  with pytest.raises(ValueError, match=r'task.train_data.global_batch_size=7 '
                     r'is not divisible by the 2 replicas'):
    distributed_steps.run_steps(two_replica_strategy,
                                _params(digits_data, batch=7), 1)


def _free_ports(n):
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(('localhost', 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


def test_multi_worker_mirrored_two_processes(digits_data, tmp_path):
  workers = [f'localhost:{p}' for p in _free_ports(2)]
  # Output to files, not pipes: a worker blocked on a full pipe would stall
  # the other at the first all-reduce.
  procs, logs = [], []
  for index in range(2):
    env = dict(os.environ, PYTHONPATH=REPO, CUDA_VISIBLE_DEVICES='',
               TF_CONFIG=json.dumps({'cluster': {'worker': workers},
                                     'task': {'type': 'worker',
                                              'index': index}}))
    procs.append(subprocess.Popen(
        [sys.executable, '-m', 'official_ext.testing.distributed_steps',
         f'--experiment={EXPERIMENT}', f'--config_file={SEGMENTER}',
         '--strategy=multi_worker_mirrored', '--steps=3',
         '--online_burn_in_steps=1',
         f"--train={digits_data['train']}",
         f"--pseudo={digits_data['train']}"],
        cwd=REPO, env=env, stdout=open(tmp_path / f'out{index}', 'w'),
        stderr=open(tmp_path / f'err{index}', 'w')))
  results = []
  for index, proc in enumerate(procs):
    proc.wait(timeout=600)
    err = (tmp_path / f'err{index}').read_text()
    assert proc.returncode == 0, err[-4000:]
    out = (tmp_path / f'out{index}').read_text()
    results.append(json.loads(out.strip().splitlines()[-1]))
  # The online mode (its first step burn-in): the shared core's loss
  # averages and batches, plus the teacher. (The offline mode's 2 replicas:
  # the in-process MirroredStrategy test above; both modes run the same
  # train_step, and each worker process costs ~40 s.)
  _assert_workers_share_the_loss_averages(results, digits_data)
  online = results
  for r in online:
    assert r['teacher_step'] == 3
    # Step 1 copied the student, steps 2-3 moved the average, on each
    # worker (float32 arithmetic).
    assert r['teacher_error'] < 1e-5, r['teacher_error']
    assert r['teacher_sum'] != pytest.approx(r['student_sum'], rel=1e-6)
  # One teacher on both workers (the update goes through the strategy).
  assert online[0]['teacher_sum'] == online[1]['teacher_sum']
  assert online[0]['student_sum'] == online[1]['student_sum']


def _assert_workers_share_the_loss_averages(results, digits_data):
  """The same averages on both workers: the EMA of the two workers' mean
  losses (all-reduced before the EMA), not of either worker's own."""
  steps = len(results[0]['losses'])
  for r in results:
    assert r['num_replicas'] == 2
    assert r['human_batch_per_replica'] == [[4]] * steps
    assert r['pseudo_batch_per_replica'] == [[4]] * steps
    assert r['num_updates'] == [float(steps)]
  decay = _params(digits_data).task.self_training.loss_average_decay
  for half in ('human', 'pseudo'):
    own = [[s[0] for s in r[f'{half}_loss_per_replica']] for r in results]
    assert own[0][0] != pytest.approx(own[1][0], rel=2e-5), own
    mean = [(a + b) / 2 for a, b in zip(*own)]
    expected = mean[0]
    for m in mean[1:]:
      expected = decay * expected + (1 - decay) * m
    for r, losses in zip(results, own):
      assert r[f'{half}_average'][0] == pytest.approx(expected, rel=1e-5)
      alone = losses[0]
      for loss in losses[1:]:
        alone = decay * alone + (1 - decay) * loss
      assert r[f'{half}_average'][0] != pytest.approx(alone, rel=2e-5)


def test_tpu_config_selects_tpu_strategy(monkeypatch):
  params = exp_factory.get_exp_config('selftrain_coco')
  params = params_dict.override_params_dict(
      params, os.path.join(REPO, 'configs', 'experiments',
                           'selftrain_coco_spinenet190_1280.yaml'),
      is_strict=True)
  params.override({'runtime': {'distribution_strategy': 'tpu',
                               'tpu': 'grpc://10.0.0.2:8470'}})
  asked = []

  def fake_resolver(tpu=None, **unused_kwargs):
    asked.append(tpu)
    raise RuntimeError('no TPU here')

  monkeypatch.setattr(tf.distribute.cluster_resolver, 'TPUClusterResolver',
                      fake_resolver)
  # What Model Garden's train.py calls with the runtime config.
  with pytest.raises(RuntimeError, match='no TPU here'):
    distribute_utils.get_distribution_strategy(
        distribution_strategy=params.runtime.distribution_strategy,
        all_reduce_alg=params.runtime.all_reduce_alg,
        num_gpus=params.runtime.num_gpus,
        tpu_address=params.runtime.tpu)
  assert asked == ['grpc://10.0.0.2:8470']

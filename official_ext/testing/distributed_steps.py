"""Runs a few self-training steps under a tf.distribute strategy and reports
what each replica saw; used by tests (in-process MirroredStrategy, and one
process per worker for MultiWorkerMirroredStrategy).

  TF_CONFIG=... python -m official_ext.testing.distributed_steps \
      --experiment=selftrain_digits --train=GLOB --pseudo=GLOB --steps=3 \
      --strategy=multi_worker_mirrored
prints one JSON object as its last line. `--online_burn_in_steps=N` runs
the online mode instead (an EMA teacher, decay 0.5, copied for N steps; the
pseudo half is then the raw images of --pseudo) and adds how far the
teacher's weights are from that arithmetic.
"""

import json

from absl import app
from absl import flags
import tensorflow as tf
import tf_keras

from official.common import distribute_utils
from official.core import task_factory
from official_ext import registry_imports  # pylint: disable=unused-import
from official_ext.configs import recipes
from official_ext.self_training import online_teacher
from official_ext.self_training import task as st_task

_EXPERIMENT = flags.DEFINE_string('experiment', 'selftrain_digits', '')
_CONFIG_FILES = flags.DEFINE_multi_string(
    'config_file', [], 'YAML laid over the experiment, in order.')
_TRAIN = flags.DEFINE_string('train', None, 'Human-labeled TFRecords.')
_PSEUDO = flags.DEFINE_string('pseudo', None, 'Pseudo-labeled TFRecords.')
_STEPS = flags.DEFINE_integer('steps', 3, '')
_STRATEGY = flags.DEFINE_string('strategy', 'multi_worker_mirrored', '')
_BATCH = flags.DEFINE_integer('global_batch_size', 8, 'Human and pseudo.')
_ONLINE_BURN_IN = flags.DEFINE_integer(
    'online_burn_in_steps', 0, 'If > 0: task.self_training.mode=online '
    'with this burn-in and ema_decay ONLINE_DECAY.')


ONLINE_DECAY = 0.5


def experiment(name, train, pseudo, global_batch_size, online_burn_in_steps=0,
               config_files=()):
  params = recipes.config_from(name, *config_files)
  if online_burn_in_steps:
    params.task.self_training.override({
        'mode': 'online', 'burn_in_steps': online_burn_in_steps,
        'ema_decay': ONLINE_DECAY, 'score_threshold': 0.0})
  params.task.train_data.input_path = train
  params.task.pseudo_data.input_path = pseudo
  params.task.train_data.global_batch_size = global_batch_size
  params.task.pseudo_data.global_batch_size = global_batch_size
  # Fixed order, no augmentation: every run sees the same batches.
  for data in (params.task.train_data, params.task.pseudo_data):
    data.shuffle_buffer_size = 1
    data.seed = 1
  return params


def _weights(pairs):
  """(teacher, student) values of the mirrored (trainable) pairs, as this
  worker holds them."""
  return [(t.numpy(), s.numpy()) for t, s in pairs]


def run_steps(strategy: tf.distribute.Strategy, params, steps: int) -> dict:
  """Trains `steps` steps; returns losses, loss-norm state, batch sizes;
  in online mode also the teacher's largest distance from copy-then-average
  over the steps and the sum of its weights."""
  tf_keras.utils.set_random_seed(1)
  with strategy.scope():
    task = task_factory.get_task(params.task)
    model = task.build_model()
    optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                      params.runtime)
  dataset = strategy.distribute_datasets_from_function(
      lambda ctx: task.build_inputs(params.task.train_data, ctx))
  iterator = iter(dataset)

  @tf.function
  def step(inputs):
    def replica_fn(inputs):
      (human, _), (pseudo, _) = inputs
      # Without metrics the logs hold this replica's own values (a metric's
      # result is the cross-replica mean).
      logs = task.train_step(inputs, model, optimizer, metrics=None)
      return (logs[task.loss], tf.shape(human)[0], tf.shape(pseudo)[0],
              logs['human_loss'], logs['pseudo_loss'])
    return strategy.run(replica_fn, args=(inputs,))

  per_replica = lambda v: [float(x) for x in  # pylint: disable=g-long-lambda
                           strategy.experimental_local_results(v)]
  names = ('losses', 'human_batch_per_replica', 'pseudo_batch_per_replica',
           'human_loss_per_replica', 'pseudo_loss_per_replica')
  history = {name: [] for name in names}
  teacher = getattr(model, online_teacher.ATTR, None)
  pairs = [] if teacher is None else [
      (t, s) for t, s in teacher.pairs
      if s.synchronization != tf.VariableSynchronization.ON_READ]
  teacher_error = 0.0
  final = _weights(pairs)  # After each step: the next one's "before".
  for index in range(steps):
    before = final
    for name, value in zip(names, step(next(iterator))):
      history[name].append(per_replica(value))
    final = _weights(pairs)
    for (old, _), (new, student) in zip(before, final):
      want = (student if index < teacher.burn_in_steps else
              teacher.decay * old + (1 - teacher.decay) * student)
      teacher_error = max(teacher_error, float(abs(new - want).max()))
  for name in ('human_batch_per_replica', 'pseudo_batch_per_replica'):
    history[name] = [[int(x) for x in row] for row in history[name]]
  normalizer = getattr(model, st_task.NORMALIZER_ATTR)
  return {
      'num_replicas': strategy.num_replicas_in_sync,
      **history,
      'human_average': per_replica(normalizer.human_average),
      'pseudo_average': per_replica(normalizer.pseudo_average),
      'num_updates': per_replica(normalizer.num_updates),
      'optimizer_iterations': int(optimizer.iterations.numpy()),
      **({} if teacher is None else {
          'teacher_step': int(teacher.step.numpy()),
          'teacher_error': teacher_error,
          'teacher_sum': float(sum(t.sum() for t, _ in final)),
          'student_sum': float(sum(s.sum() for _, s in final)),
      }),
  }


def main(_):
  strategy = distribute_utils.get_distribution_strategy(
      distribution_strategy=_STRATEGY.value, num_gpus=0)
  params = experiment(_EXPERIMENT.value, _TRAIN.value, _PSEUDO.value,
                      _BATCH.value, _ONLINE_BURN_IN.value, _CONFIG_FILES.value)
  print(json.dumps(run_steps(strategy, params, _STEPS.value)))


if __name__ == '__main__':
  app.run(main)

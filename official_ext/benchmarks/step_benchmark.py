"""Training-side timings for tools/benchmark.py: train steps, input, forward.

Each function builds the task from its registered experiment plus the CPU
recipe YAML, so the timed code is the code `train.py` runs:

  step_seconds      one compiled train_step on a fixed, pre-fetched batch
                    (no input pipeline in the timing).
  pipeline_rate     examples/s the task's training input delivers alone.
  forward_rate      images/s of the model's forward pass in training mode.

and the figures built from them: `bench_training` (selftrain_vs_supervised_step,
input_pipeline_vs_step, seeded_vs_unseeded_input), `bench_forward`
(teacher_vs_train_forward) and `bench_online` (online_vs_offline_step).
"""

import dataclasses
import time
from typing import Callable, List

import numpy as np
import tensorflow as tf

from official.core import task_factory

from official_ext.benchmarks import labeling_benchmark
from official_ext.digits import recipes
from official_ext.labeling import shard_plan
from official_ext.labeling import teacher as teacher_lib


@dataclasses.dataclass
class Pair:
  """The plain task and the self-training task, built and ready to step."""
  supervised: object
  selftrain: object
  supervised_step: Callable
  selftrain_step: Callable
  supervised_batch: object
  selftrain_batch: object
  selftrain_dataset: tf.data.Dataset
  unseeded_dataset: tf.data.Dataset
  human_batch: int
  pseudo_batch: int
  image_size: List[int]
  model: str


def experiment(name: str, train_pattern: str, batch_size: int,
               pseudo_batch_size: int = 0):
  """The registered experiment + its CPU recipe, pointed at the data."""
  config = recipes.config(name)
  config.task.train_data.input_path = train_pattern
  config.task.train_data.global_batch_size = batch_size
  if pseudo_batch_size:
    # Timing only: the labeled split stands in for pseudo-labeled records
    # (same TFExample format); no teacher runs here.
    config.task.pseudo_data.input_path = train_pattern
    config.task.pseudo_data.global_batch_size = pseudo_batch_size
    config.task.self_training.teacher = ''
  config.validate()
  return config


def model_name(config) -> str:
  model = config.task.model
  backbone = model.backbone.get()
  kind = type(model).__name__.replace('Model', '')
  return (f"{kind} {model.backbone.type} {getattr(backbone, 'model_id', '')}"
          .strip())


def _compiled_step(task, config):
  model = task.build_model()
  optimizer = task.create_optimizer(config.trainer.optimizer_config,
                                    config.runtime)
  metrics = task.build_metrics(training=True)

  @tf.function
  def step(inputs):
    return task.train_step(inputs, model, optimizer, metrics)

  return step


def build_pair(task_name: str, train_pattern: str, human_batch: int,
               pseudo_batch: int) -> Pair:
  """Both tasks at the same total batch and model, one batch each."""
  sup_name, st_name = recipes.EXPERIMENTS[task_name]
  sup_cfg = experiment(sup_name, train_pattern, human_batch + pseudo_batch)
  st_cfg = experiment(st_name, train_pattern, human_batch, pseudo_batch)
  sup_task = task_factory.get_task(sup_cfg.task)
  st_task = task_factory.get_task(st_cfg.task)
  st_data = st_task.build_inputs(st_cfg.task.train_data)
  # The same input without task.seed: parse functions on every core.
  unseeded_cfg = experiment(st_name, train_pattern, human_batch, pseudo_batch)
  unseeded_cfg.task.seed = None
  unseeded_data = task_factory.get_task(unseeded_cfg.task).build_inputs(
      unseeded_cfg.task.train_data)
  return Pair(
      supervised=sup_task, selftrain=st_task,
      supervised_step=_compiled_step(sup_task, sup_cfg),
      selftrain_step=_compiled_step(st_task, st_cfg),
      supervised_batch=next(iter(
          sup_task.build_inputs(sup_cfg.task.train_data))),
      selftrain_batch=next(iter(st_data)),
      selftrain_dataset=st_data, unseeded_dataset=unseeded_data,
      human_batch=human_batch,
      pseudo_batch=pseudo_batch,
      image_size=list(st_cfg.task.model.input_size[:2]),
      model=model_name(st_cfg))


def step_seconds(step: Callable, batch, steps: int) -> float:
  """Mean seconds of one call of `step` (a train step, a forward pass),
  after two warm-up calls."""
  for _ in range(2):
    logs = step(batch)
  tf.nest.map_structure(lambda t: t.numpy(), logs)
  start = time.perf_counter()
  for _ in range(steps):
    logs = step(batch)
  tf.nest.map_structure(lambda t: t.numpy(), logs)
  return (time.perf_counter() - start) / steps


def pipeline_rate(dataset: tf.data.Dataset, examples_per_element: int,
                  elements: int) -> float:
  """examples/s the input pipeline delivers alone (after warm-up)."""
  it = iter(dataset)
  for _ in range(3):
    next(it)
  start = time.perf_counter()
  for _ in range(elements):
    next(it)
  return elements * examples_per_element / (time.perf_counter() - start)


def forward_rate(task_name: str, train_pattern: str, batch_size: int,
                 batches: int) -> float:
  """images/s of the teacher architecture's training-mode forward pass."""
  config = experiment(recipes.EXPERIMENTS[task_name][0], train_pattern,
                      batch_size)
  model = task_factory.get_task(config.task).build_model()
  height, width = config.task.model.input_size[:2]
  images = tf.constant(np.random.RandomState(0).uniform(
      -1, 1, [batch_size, height, width, 3]).astype(np.float32))
  forward = tf.function(lambda x: model(x, training=True))
  return batch_size / step_seconds(forward, images, batches)


def bench_training(task, train_pattern, quick, repeats, human_batch,
                   pseudo_batch):
  """selftrain_vs_supervised_step and input_pipeline_vs_step."""
  pair = build_pair(task, train_pattern, human_batch, pseudo_batch)
  # 5-step runs (--quick) vary by +-15% on a busy 2-core CPU: a smoke test.
  # 40-step runs agree within ~2%.
  steps = 5 if quick else 40
  sup, st, pipe, unseeded = [], [], [], []
  total = pair.human_batch + pair.pseudo_batch
  for _ in range(repeats):
    sup.append(step_seconds(
        pair.supervised_step, pair.supervised_batch, steps))
    st.append(step_seconds(
        pair.selftrain_step, pair.selftrain_batch, steps))
    pipe.append(pipeline_rate(
        pair.selftrain_dataset, total, 10 if quick else 50))
    unseeded.append(pipeline_rate(
        pair.unseeded_dataset, total, 10 if quick else 50))
  st_rate = total / min(st)
  return {
      'selftrain_vs_supervised_step': min(st) / min(sup),
      'selftrain_step_seconds': min(st), 'supervised_step_seconds': min(sup),
      'selftrain_images_per_second': st_rate,
      'supervised_images_per_second': total / min(sup),
      'selftrain_step_runs': st, 'supervised_step_runs': sup,
      'input_pipeline_vs_step': max(pipe) / st_rate,
      'input_pipeline_images_per_second': max(pipe),
      'input_pipeline_runs': pipe,
      'seeded_vs_unseeded_input': max(pipe) / max(unseeded),
      'unseeded_input_images_per_second': max(unseeded),
      'train_batch': f'{pair.human_batch} human + {pair.pseudo_batch} pseudo '
                     f'(supervised: {total})',
      'train_image_size': f'{pair.image_size[0]}x{pair.image_size[1]}',
      'model': pair.model,
  }


def bench_forward(task, teacher_path, pattern, train_pattern, quick,
                  repeats, batch_size):
  """teacher_vs_train_forward: both measured here, alternating."""
  teacher = teacher_lib.Teacher(teacher_path, task)
  files = shard_plan.input_files(pattern)
  batches = 5 if quick else 20
  served, forward = [], []
  for _ in range(repeats):
    served.append(labeling_benchmark.raw_inference(teacher, files, batch_size))
    forward.append(forward_rate(task, train_pattern,
                                               batch_size, batches))
  return {'teacher_vs_train_forward': max(served) / max(forward),
          'train_forward_images_per_second': max(forward),
          'teacher_images_per_second': max(served),
          'train_forward_runs': forward, 'teacher_runs': served}


def bench_online(task, train_pattern, quick, repeats, human_batch,
                 pseudo_batch):
  """online_vs_offline_step: the online self-training step (the EMA
  teacher's forward pass, labels made in the step, the average's update)
  over the offline step, the same student, batch sizes and recipe, each on
  a fixed pre-fetched batch (the labeled split stands in for both inputs)."""
  name = recipes.EXPERIMENTS[task][1]
  steps = 5 if quick else 40
  compiled = {}
  for mode in ('offline', 'online'):
    config = experiment(name, train_pattern, human_batch, pseudo_batch)
    config.task.self_training.mode = mode
    config.task.self_training.burn_in_steps = 1
    built = task_factory.get_task(config.task)
    compiled[mode] = (_compiled_step(built, config), next(iter(
        built.build_inputs(config.task.train_data))))
  runs = {mode: [] for mode in compiled}
  for _ in range(repeats):
    for mode, (step, batch) in compiled.items():
      runs[mode].append(step_seconds(step, batch, steps))
  return {'online_vs_offline_step': min(runs['online']) / min(runs['offline']),
          'online_step_seconds': min(runs['online']),
          'offline_step_seconds': min(runs['offline']),
          'online_step_runs': runs['online'],
          'offline_step_runs': runs['offline'],
          'train_batch': f'{human_batch} human + {pseudo_batch} unlabeled or '
                         'pseudo-labeled'}

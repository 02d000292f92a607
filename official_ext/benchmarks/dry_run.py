"""A recipe's dry run: what a real run will do, on a few images, before
anyone rents the hardware (docs/scale.md; `python -m
official_ext.tools.dry_run`).

On the devices present it builds the recipe's model at its resolution and
precision, runs a few training steps (mixed human + pseudo batches for a
student) at a per-replica batch you set, compiled with XLA when the recipe
targets a TPU (a TPU compiles every step), one validation step, exports the
SavedModel at the recipe's input size (a detector with the labeling NMS,
configs/nms.py) and pseudo-labels a few images with it. It reports the
parameters, FLOPs per image, seconds per step, peak memory per replica and
what the recipe's global batch needs per replica on its target devices.

Data: a few images in Model Garden's TFExample format made by Model
Garden's own test-data writer (tfexample_utils), or the user's TFRecords.
"""

import copy
import dataclasses
import json
import os
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
import tf_keras

from official.core import config_definitions as cfg
from official.core import task_factory
from official.modeling import performance
from official.vision.dataloaders import tfexample_utils
from official.vision.serving import export_saved_model_lib
from official_ext.configs import common
from official_ext.configs import nms
from official_ext.data import paths
from official_ext.benchmarks import dry_run_sizing as sizing
from official_ext.benchmarks import model_cost
from official_ext.data import record_files
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline
from official_ext.serving import online_teacher_export
from official_ext.serving.custom_gradients import custom_gradients
from official_ext.patches import keras_traces

@dataclasses.dataclass
class Options:
  """What the dry run does.

  Attributes:
    output_dir: where the data, checkpoint, export and labels go.
    batch_per_replica: images per replica and step, in each half of a
      student's batch (human and pseudo).
    steps: training steps (the first one traces and compiles).
    data: TFRecords (a glob) to train and validate on; '' synthesizes.
    unlabeled: raw images (a glob) to label (and an online student's pseudo
      half); '' synthesizes.
    num_images: images synthesized (and labeled).
    xla: compile the steps with XLA; None: when the recipe targets a TPU.
    stages: what runs besides building the model and the training steps
      (STAGES; 'label' needs 'export').
  """
  output_dir: str
  batch_per_replica: int = 1
  steps: int = 2
  data: str = ''
  unlabeled: str = ''
  num_images: int = 4
  xla: Optional[bool] = None
  stages: Tuple[str, ...] = ('flops', 'validate', 'export', 'label')


STAGES = ('flops', 'validate', 'export', 'label')


class DryRunError(ValueError):
  """A recipe field or path that stops the run; one line naming it."""


def _label_task(task) -> str:
  return 'detection' if hasattr(task.model, 'detection_generator') else (
      'segmentation')


def check_recipe(params: cfg.ExperimentConfig):
  """Fields and paths a real run needs, before anything is built."""
  task = params.task
  replicas = sizing.target_replicas(params)
  halves = ['train_data'] + (['pseudo_data'] if task.get('pseudo_data')
                             else [])
  for half in halves:
    batch = task.get(half).global_batch_size
    if replicas and batch % replicas:
      raise DryRunError(
          f'task.{half}.global_batch_size={batch} does not divide over the '
          f'recipe\'s {replicas} replicas (runtime.num_gpus); use a '
          'multiple of it.')
  if task.get('init_checkpoint'):
    try:
      paths.require_checkpoint(task.init_checkpoint, 'task.init_checkpoint')
    except FileNotFoundError as e:
      raise DryRunError(f'{e}; give a reachable checkpoint or '
                        '--params_override=task.init_checkpoint=') from None
  st = task.get('self_training')
  if st is not None and st.teacher:
    raise DryRunError('task.self_training.teacher: labeling on first use is '
                      'not part of a dry run (it labels a few images with '
                      'the recipe\'s own export); leave it empty.')


def synthesize(label_task: str, size: List[int], num_images: int,
               path: str) -> str:
  """`num_images` records of Model Garden's test examples at `size`."""
  height, width = size
  if label_task == 'detection':
    examples = [tfexample_utils.create_detection_test_example(
        height, width, 3, num_instances=4) for _ in range(num_images)]
  else:
    examples = [tfexample_utils.create_segmentation_test_example(
        height, width, 3) for _ in range(num_images)]
  tf.io.gfile.makedirs(os.path.dirname(path))
  tfexample_utils.dump_to_tfrecord(path, examples)
  return path


def _strategy() -> tf.distribute.Strategy:
  gpus = tf.config.list_logical_devices('GPU')
  if len(gpus) > 1:
    return tf.distribute.MirroredStrategy([d.name for d in gpus])
  return tf.distribute.get_strategy()


def step_error(message: str) -> str:
  """The line of a failed step's TensorFlow error that says what failed
  (an op without an XLA kernel, an XLA compiler check), not the trace."""
  for pattern in (r'Detected unsupported operations[^\n]*',
                  r'during context \[[^\]]*\]: ([^\n]*)'):
    found = re.search(pattern, message)
    if found:
      line = found.group(found.lastindex or 0)
      return re.sub(r', metadata=\{[^}]*\}', '', line).strip()[:400]
  lines = [x.strip() for x in message.splitlines() if x.strip()]
  return lines[-1][:400] if lines else 'unknown error'


def _distributed(strategy, replica_step, name: str):
  """A step over every replica returning the replica mean of logs[name]."""
  @tf.function
  def step(batch):
    logs = strategy.run(replica_step, args=(batch,))
    return strategy.reduce(tf.distribute.ReduceOp.MEAN,
                           tf.cast(logs[name], tf.float32), axis=None)
  return step


def _timed_steps(step, iterator, steps: int):
  """(first step's seconds, mean seconds of the others, each value)."""
  times, values = [], []
  for _ in range(steps):
    batch = next(iterator)
    start = time.perf_counter()
    values.append(float(step(batch)))
    times.append(time.perf_counter() - start)
  rest = times[1:]
  return times[0], (float(np.mean(rest)) if rest else None), values


def run(params: cfg.ExperimentConfig, options: Options) -> Dict[str, Any]:
  """The dry run of `params` (an experiment with its recipe and overrides
  laid over it); the report, also written to output_dir/dry_run.json.

  Raises:
    DryRunError: a recipe field or path that stops a real run (one line).
  """
  params = copy.deepcopy(params)
  check_recipe(params)
  global_batch = sizing.recipe_batch(params)
  task_config = params.task
  label_task = _label_task(task_config)
  size = common.model_image_size(params)
  target = params.runtime.distribution_strategy
  xla = (target == 'tpu') if options.xla is None else options.xla
  report: Dict[str, Any] = {
      'target': target, 'precision': params.runtime.mixed_precision_dtype,
      'image_size': size, 'xla': xla, 'task': label_task}
  if label_task == 'detection' and xla:
    generator = task_config.model.detection_generator
    generator.nms_version = nms.for_compiled_step(generator.nms_version)
  report['nms_version'] = (task_config.model.detection_generator.nms_version
                           if label_task == 'detection' else None)

  data_dir = os.path.join(options.output_dir, 'data')
  labeled = options.data or synthesize(
      label_task, size, options.num_images, f'{data_dir}/labeled.tfrecord')
  unlabeled = options.unlabeled or labeled
  for field, pattern in (('--data', labeled), ('--unlabeled', unlabeled)):
    record_files.match(pattern, field)

  strategy = _strategy()
  replicas = strategy.num_replicas_in_sync
  batch = options.batch_per_replica * replicas
  student = task_config.get('self_training') is not None
  online = student and task_config.self_training.mode == 'online'
  task_config.train_data.input_path = labeled
  task_config.train_data.global_batch_size = batch
  task_config.validation_data.input_path = labeled
  task_config.validation_data.global_batch_size = batch
  if label_task == 'detection':
    task_config.annotation_file = ''
  if student:
    task_config.pseudo_data.input_path = unlabeled if online else labeled
    task_config.pseudo_data.global_batch_size = batch
  report.update(replicas=replicas, devices=[
      d.name for d in tf.config.list_logical_devices(
          'GPU' if tf.config.list_logical_devices('GPU') else 'CPU')],
      images_per_replica_per_step=options.batch_per_replica * (
          2 if student else 1))

  policy = tf_keras.mixed_precision.global_policy()
  try:
    return _build_step_export_label(params, options, report, strategy,
                                    global_batch, labeled, unlabeled, online)
  finally:
    tf_keras.mixed_precision.set_global_policy(policy)


def _build_step_export_label(params, options, report, strategy, global_batch,
                             labeled, unlabeled, online):
  """run()'s work once the data and devices are known."""
  task_config = params.task
  label_task, size, xla = report['task'], report['image_size'], report['xla']
  stages = set(options.stages)
  performance.set_mixed_precision_policy(params.runtime.mixed_precision_dtype)
  baseline = max(model_cost.peak_memory(strategy).values())
  try:
    with strategy.scope():
      task = task_factory.get_task(task_config,
                                   logging_dir=options.output_dir)
      start = time.perf_counter()
      model = task.build_model()
      task.initialize(model)
      optimizer = task.create_optimizer(params.trainer.optimizer_config,
                                        params.runtime)
      report['build_seconds'] = time.perf_counter() - start
      if 'flops' in stages:
        report['flops'] = model_cost.flops_per_image(model, size)
      task.build_metrics(training=False)  # Detection: its COCO evaluator.
    train_step = tf.function(
        lambda b: task.train_step(b, model, optimizer, metrics=None),
        jit_compile=xla)
    train_data = strategy.distribute_datasets_from_function(
        lambda ctx: task.build_inputs(task_config.train_data, ctx))
    first, per_step, losses = _timed_steps(
        _distributed(strategy, train_step, task.loss), iter(train_data),
        options.steps)
    report.update(first_step_seconds=first, seconds_per_step=per_step,
                  losses=losses, loss=losses[-1])
    report['parameters'] = int(sum(
        np.prod(v.shape) for v in model.trainable_variables))
    if not all(np.isfinite(losses)):
      raise DryRunError(
          f'training losses {losses} in '
          f'{params.runtime.mixed_precision_dtype}: not finite; check the '
          'learning rate and precision.')
    report['peak_memory_gib_per_replica'] = {
        k: v / sizing.GIB for k, v in model_cost.peak_memory(strategy).items()}
    if 'validate' in stages:
      # Not meaningful as a number: the batch-norm statistics of a few
      # steps from the init (it can overflow); the step must run.
      eval_step = tf.function(
          lambda b: task.validation_step(b, model, metrics=None),
          jit_compile=xla)
      val_data = strategy.distribute_datasets_from_function(
          lambda ctx: task.build_inputs(task_config.validation_data, ctx))
      eval_first, _, eval_losses = _timed_steps(
          _distributed(strategy, eval_step, task.loss), iter(val_data), 1)
      report.update(validation_step_seconds=eval_first,
                    validation_loss=eval_losses[0])
  except tf.errors.ResourceExhaustedError as e:
    raise DryRunError('out of memory at '
                      f'{options.batch_per_replica} image(s) per replica: '
                      f'{str(e.message).splitlines()[0]}') from None
  except (tf.errors.InvalidArgumentError, tf.errors.InternalError) as e:
    compiled = 'compiled with XLA ' if xla else ''
    raise DryRunError(
        f'a step {compiled}in {params.runtime.mixed_precision_dtype} '
        f'failed: {step_error(e.message)} (docs/scale.md)') from None
  report['memory_needs'] = sizing.memory_needs(
      params, global_batch, report['parameters'],
      max(model_cost.peak_memory(strategy).values()), baseline,
      report['images_per_replica_per_step'])
  if 'export' in stages:
    checkpoint = tf.train.Checkpoint(model=model).save(
        os.path.join(options.output_dir, 'checkpoint', 'ckpt'))
    report.update(export(params, os.path.dirname(checkpoint), label_task,
                         online, options.output_dir, size))
    if 'label' in stages:
      report.update(label(report['export_dir'], label_task, unlabeled,
                          options.output_dir))
  with tf.io.gfile.GFile(os.path.join(options.output_dir, 'dry_run.json'),
                         'w') as f:
    json.dump(report, f, indent=1)
  return report


def export(params, checkpoint_dir: str, label_task: str, online: bool,
           output_dir: str, size: List[int]) -> Dict[str, Any]:
  """Model Garden's export of the checkpoint at the recipe's input size; a
  detector with the NMS a CPU labels with (an online student: its EMA
  teacher, as tools/export_saved_model.py does)."""
  params = copy.deepcopy(params)
  if label_task == 'detection':
    params.task.model.detection_generator.nms_version = nms.LABELING_NMS
  export_dir = os.path.join(output_dir, 'export')
  start = time.perf_counter()
  tf_keras.mixed_precision.set_global_policy('float32')
  with keras_traces(False), custom_gradients(False):
    if online:
      checkpoint_dir = online_teacher_export.teacher_checkpoint(
          params, checkpoint_dir, os.path.join(output_dir, 'teacher_ckpt'))
    export_saved_model_lib.export_inference_graph(
        input_type='image_tensor', batch_size=None, input_image_size=size,
        params=params, checkpoint_path=checkpoint_dir, export_dir=export_dir,
        export_checkpoint_subdir='checkpoint',
        export_saved_model_subdir='saved_model')  # The export tool's.
  logging.info('Exported %s', export_dir)
  return {'export_dir': export_dir,
          'export_seconds': time.perf_counter() - start}


def label(export_dir: str, label_task: str, unlabeled: str,
          output_dir: str) -> Dict[str, Any]:
  """Pseudo-labels the unlabeled images with the export."""
  start = time.perf_counter()
  report = pipeline.label(labeling_options.LabelingOptions(
      teacher=export_dir, task=label_task, input_pattern=unlabeled,
      output_prefix=os.path.join(output_dir, 'pseudo', 'pseudo'),
      score_threshold=0.5, num_overlays=0, show_progress=False))
  return {'images_labeled': report['images_labeled'],
          'labeling_seconds': time.perf_counter() - start}

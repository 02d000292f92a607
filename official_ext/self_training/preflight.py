"""The self-training fields of a task config, checked before heavy work.

The task runs `check_self_training` when it builds its inputs, and the train
tool (`official_ext/tools/train.py`) right after parsing the config, so a
bad field fails in a second with one line naming it and the fix, not
minutes later inside a tf.function or an input pipeline.
"""

from typing import Optional

import tensorflow as tf

# Data fields that set the dtype or shape of the images both halves put into
# one batch (one forward pass); detection images take their size from
# task.model, shared by both.
BATCH_FIELDS = ('dtype', 'output_size', 'crop_size',
                'image_feature.num_channels', 'additional_dense_features')
# Model Garden options the self-training step does not implement.
UNSUPPORTED = {
    'train_input_partition_dims': 'spatial partitioning of the combined '
                                  'human + pseudo batch is not implemented',
}


def _value(config, dotted: str):
  for part in dotted.split('.'):
    config = config.get(part) if config is not None else None
  if isinstance(config, (list, tuple)):
    return [c.as_dict() if hasattr(c, 'as_dict') else c for c in config]
  return config


def check_self_training(task):
  """Checks the self-training fields of a task config.

  Args:
    task: a self-training task config (task.self_training, pseudo_data).

  Raises:
    ValueError: a wrong field, named.
  """
  task.self_training.check(task.pseudo_data.global_batch_size)
  if not task.pseudo_data.input_path:
    raise ValueError(
        'task.pseudo_data.input_path is empty: point it at pseudo-labeled '
        'TFRecords (tools/pseudo_label.py), or at unlabeled images together '
        'with task.self_training.teacher=SAVED_MODEL.')
  for field in BATCH_FIELDS:
    human = _value(task.train_data, field)
    pseudo = _value(task.pseudo_data, field)
    if human != pseudo:
      raise ValueError(
          f'task.pseudo_data.{field}={pseudo!r} but task.train_data.{field}='
          f'{human!r}: human and pseudo images share one batch, so they must '
          'match; set the same value on both.')
  for field, why in UNSUPPORTED.items():
    if task.get(field):
      raise ValueError(f'task.{field}={task.get(field)!r}: {why} in '
                       f'self-training; remove it (default: empty).')


def check_replicas(task, input_context: Optional[tf.distribute.InputContext]):
  """Both halves' global batches divide over the replicas in sync.

  Args:
    task: a self-training task config.
    input_context: the distribution's input context (None: one replica).

  Raises:
    ValueError: naming the batch that does not divide.
  """
  if input_context is None:
    return
  replicas = input_context.num_replicas_in_sync
  for field in ('train_data', 'pseudo_data'):
    batch = task.get(field).global_batch_size
    if batch % replicas:
      raise ValueError(
          f'task.{field}.global_batch_size={batch} is not divisible by the '
          f'{replicas} replicas in sync; use a multiple of it (each replica '
          'gets global_batch_size / replicas images).')

"""Checks a training experiment before any heavy work (model, data, teacher).

`train.py` runs `check_experiment` right after parsing the config, so a bad
field fails in a second with one line naming it and the fix, not minutes
later inside a tf.function or an input pipeline.
"""

from official.core import config_definitions as cfg
from official.core import task_factory

from official_ext.data import record_files


def _check_pattern(field: str, data_config):
  if not data_config or data_config.get('tfds_name'):
    return
  pattern = data_config.input_path
  if isinstance(pattern, (list, tuple)):
    pattern = ','.join(pattern)
  if not pattern:
    raise ValueError(f'{field}.input_path is empty: point it at TFRecords '
                     '(e.g. DATA/train-*.tfrecord).')
  record_files.match(pattern, f'{field}.input_path')


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
  """The self-training fields of a task config; ValueError naming one."""
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


def check_experiment(params: cfg.ExperimentConfig, mode: str):
  """Raises ValueError/FileNotFoundError naming the bad field and the fix."""
  task = params.task
  if 'train' in mode:
    _check_pattern('task.train_data', task.get('train_data'))
  if 'eval' in mode:
    _check_pattern('task.validation_data', task.get('validation_data'))
  st = task.get('self_training')
  if st is None or 'train' not in mode:
    return
  check_self_training(task)
  _check_pattern('task.pseudo_data', task.pseudo_data)
  if st.teacher:
    from official_ext.self_training import teacher as teacher_lib  # pylint: disable=g-import-not-at-top
    label_task = task_factory.get_task_cls(type(task)).LABEL_TASK
    try:
      teacher_lib.Teacher(st.teacher, label_task,
                          num_classes=task.model.num_classes)
    except (ValueError, FileNotFoundError) as e:
      raise type(e)(f'task.self_training.teacher: {e}') from None

"""The student's training input: each batch a human half and a pseudo half.

Both halves are read by the task's one input path (`read_inputs`,
tasks/inputs.py) and zipped (mixing.py). Offline, the pseudo half is
pseudo-labeled records, labeled by the teacher on first use when
`task.self_training.teacher` is set (first_use.py). Online
(`task.self_training.mode: online`), it is raw unlabeled images parsed in
two views of one geometry by the task's `online_view_wrapper`; the EMA
teacher labels the weak view inside the step (online_teacher.py).
"""

from typing import Callable, Optional

import tensorflow as tf

from official_ext.self_training import first_use
from official_ext.self_training import mixing
from official_ext.self_training import preflight


def online_pseudo_inputs(task, input_context=None) -> tf.data.Dataset:
  """Online mode's pseudo half: raw unlabeled images in two views.

  Args:
    task: a self-training task.
    input_context: the distribution's input context, if any.

  Returns:
    (strong view, labels + {TEACHER_IMAGE: weak view}) batches.
  """
  resolved = task.resolve_data_config(task.task_config.pseudo_data)
  return task.read_inputs(task.online_parser_config(resolved),
                          task.online_view_wrapper(resolved), input_context)


def build(task, params, read: Callable[..., tf.data.Dataset],
          input_context: Optional[tf.distribute.InputContext] = None
          ) -> tf.data.Dataset:
  """A self-training task's training input.

  Args:
    task: a self-training task (SelfTrainingMixin).
    params: its `train_data` (the human half).
    read: the task's own `build_inputs` (tasks/inputs.py: preset, parse
      wrapper, `read_inputs`), past the self-training override.
    input_context: the distribution's input context, if any.

  Returns:
    ((human features, labels), (pseudo features, labels)) batches.

  Raises:
    ValueError: a self-training field that would fail later
      (preflight.py).
  """
  config = task.task_config
  preflight.check_self_training(config)
  preflight.check_replicas(config, input_context)
  human = read(params, input_context)
  if config.self_training.mode == 'online':
    pseudo = online_pseudo_inputs(task, input_context)
  else:
    pseudo = read(first_use.pseudo_data_config(
        config, task.logging_dir, task.LABEL_TASK), input_context)
  return mixing.zip_datasets(human, pseudo)

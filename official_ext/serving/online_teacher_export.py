"""The online teacher of a checkpoint, as a checkpoint Model Garden's
exporter reads.

A run with `task.self_training.mode: online` checkpoints two networks of one
architecture: the student (`model/...`) and the EMA teacher
(`model/online_teacher/network/...`). Model Garden's exporter restores
`model`; to export the teacher, its network is written on its own as
`model` into a new checkpoint, which the exporter then reads unchanged.
"""

import os

import tensorflow as tf

from official.core import task_factory

from official_ext.self_training import online_teacher

PREFIX = f'model/{online_teacher.ATTR}/'


def resolve(checkpoint_path: str) -> str:
  """A checkpoint prefix: a directory's latest, else the path itself."""
  latest = (tf.train.latest_checkpoint(checkpoint_path)
            if tf.io.gfile.isdir(checkpoint_path) else None)
  return latest or checkpoint_path


def has_online_teacher(checkpoint_path: str) -> bool:
  # The reader of a prefix: tf.train.list_variables would test the prefix
  # for a directory, which some filesystems (ram://) answer yes to.
  reader = tf.compat.v1.train.NewCheckpointReader(resolve(checkpoint_path))
  return any(name.startswith(PREFIX)
             for name in reader.get_variable_to_shape_map())


def teacher_checkpoint(params, checkpoint_path: str, output_dir: str) -> str:
  """Writes the online teacher of `checkpoint_path` as `model` into
  `output_dir`; returns the new checkpoint's prefix."""
  params = params.replace(task={'self_training': {'mode': 'online'}})
  model = task_factory.get_task(params.task).build_model()
  status = tf.train.Checkpoint(model=model).read(resolve(checkpoint_path))
  status.expect_partial().assert_existing_objects_matched()
  network = getattr(model, online_teacher.ATTR).network
  return tf.train.Checkpoint(model=network).write(
      os.path.join(output_dir, 'online_teacher'))

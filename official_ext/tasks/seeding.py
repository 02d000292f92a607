"""Repeatable training: the task config's `seed`.

With `task.seed` set (the digits experiments set 0), two runs of the same
command on the same data write identical checkpoints on a CPU:
  * when the task is made, before the trainer builds the model, it seeds
    Python, NumPy and TensorFlow (`tf_keras.utils.set_random_seed`, as Model
    Garden's `projects/yolo` task does from its `seed` field): the initial
    weights and every random op after them;
  * every training input pipeline gets that seed (file order, shuffling;
    unless its data config names its own `seed`), reads deterministically
    (`DataConfig.deterministic`) and runs its parse functions on one thread,
    so the augmentation's random ops draw in the order of the records.

Why not `tf.config.experimental.enable_op_determinism()` (what Model
Garden's maskconver task calls): under it, tf.data rewrites parallel maps
("make_deterministic"), and that rewrite fails on Model Garden's RetinaNet
training parser (TF 2.20: "input[0] == '^args_3', is not found", from the
control dependency around its crowd filter), so no detection run could
start. On a CPU the kernels these models use gave identical results without
it (tests/seeding_test.py); on a GPU some kernels (e.g. cuDNN convolution
gradients) are not deterministic, so a seeded GPU run is repeatable only in
its initial weights and its data order. `task.seed=None` (COCO, PASCAL)
leaves Model Garden's behaviour as it is. The cost: docs/self_training.md.
"""

from typing import Optional

import tensorflow as tf
import tf_keras


def seeded_data_config(params, seed: Optional[int]):
  """A training data config, seeded.

  Args:
    params: a data config.
    seed: task.seed, or None.

  Returns:
    A training config with `seed` (unless it has its own) and deterministic
    reading; anything else unchanged.
  """
  if seed is None or not params.is_training:
    return params
  return params.replace(seed=seed if params.seed is None else params.seed,
                        deterministic=True)


def one_thread(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """Runs a dataset's functions on one thread: random ops inside a parallel
  map then draw in element order, not in thread order.

  Args:
    dataset: the dataset.

  Returns:
    It, with a private thread pool of one thread.
  """
  options = tf.data.Options()
  options.threading.private_threadpool_size = 1
  return dataset.with_options(options)


class SeededTask:
  """Mixin, first in a task's bases: `task.seed` seeds the process when the
  task is made (its inputs: `seeded_data_config` and `one_thread`, applied
  by tasks/inputs.py)."""

  def __init__(self, params, logging_dir: Optional[str] = None,
               name: Optional[str] = None):
    super().__init__(params, logging_dir=logging_dir, name=name)
    if params.seed is not None:
      tf_keras.utils.set_random_seed(params.seed)

"""Mixed human/pseudo batches: zip two datasets, concat and split batches."""

from typing import Any, Tuple

import tensorflow as tf


def zip_datasets(human: tf.data.Dataset,
                 pseudo: tf.data.Dataset) -> tf.data.Dataset:
  """The two halves of every training batch, side by side.

  Args:
    human: batches of (features, labels) with human labels.
    pseudo: batches of (features, labels) with pseudo labels.

  Returns:
    A dataset of ((human features, labels), (pseudo features, labels)).
  """
  return tf.data.Dataset.zip((human, pseudo)).prefetch(tf.data.AUTOTUNE)


def concat_features(human, pseudo) -> Tuple[tf.Tensor, tf.Tensor]:
  """One batch for a single forward pass.

  Args:
    human: the human half's images, [B_h, ...].
    pseudo: the pseudo half's images, [B_p, ...] (same shape and dtype).

  Returns:
    (the [B_h + B_p, ...] batch, B_h as a scalar tensor).
  """
  return tf.concat([human, pseudo], axis=0), tf.shape(human)[0]


def split_outputs(outputs: Any, num_human: tf.Tensor) -> Tuple[Any, Any]:
  """The model's outputs on a `concat_features` batch, back in halves.

  Args:
    outputs: a nested structure of tensors, batch first.
    num_human: the human half's batch size.

  Returns:
    (human outputs, pseudo outputs), each with `outputs`' structure.
  """
  human = tf.nest.map_structure(lambda x: x[:num_human], outputs)
  pseudo = tf.nest.map_structure(lambda x: x[num_human:], outputs)
  return human, pseudo

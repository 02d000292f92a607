"""Mixed human/pseudo batches: zip two datasets, concat and split batches."""

from typing import Any, Tuple

import tensorflow as tf


def zip_datasets(human: tf.data.Dataset,
                 pseudo: tf.data.Dataset) -> tf.data.Dataset:
  """Each element: ((human features, labels), (pseudo features, labels))."""
  return tf.data.Dataset.zip((human, pseudo)).prefetch(tf.data.AUTOTUNE)


def concat_features(human, pseudo) -> Tuple[tf.Tensor, tf.Tensor]:
  """One batch for a single forward pass, and the human batch size."""
  return tf.concat([human, pseudo], axis=0), tf.shape(human)[0]


def split_outputs(outputs: Any, num_human: tf.Tensor) -> Tuple[Any, Any]:
  """Splits every tensor of a nested model output at `num_human`."""
  human = tf.nest.map_structure(lambda x: x[:num_human], outputs)
  pseudo = tf.nest.map_structure(lambda x: x[num_human:], outputs)
  return human, pseudo

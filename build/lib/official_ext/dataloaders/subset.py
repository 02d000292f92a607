"""Deterministic example subsets, applied while reading (no copies on disk).

Every record gets a rank: a keyed SipHash (`tf.strings.to_hash_bucket_strong`)
of its `image/source_id`, or of the serialized record when the id is empty.
One pass over the files finds the rank threshold that keeps exactly the
asked-for count; the reader then filters records by rank as it streams them,
so file order, sharding across workers and shuffling do not change which
examples are kept.
"""

import functools
from typing import Callable, List, Optional, Sequence

from absl import logging
import numpy as np
import tensorflow as tf

from official.core import input_reader as mg_input_reader

_NUM_BUCKETS = 2**62
_HASH_KEY_SALT = 0x5E1F7A11  # Second half of the 128-bit SipHash key.
_CACHE = {}


def _record_rank(serialized: tf.Tensor, seed: int) -> tf.Tensor:
  features = tf.io.parse_single_example(
      serialized, {'image/source_id': tf.io.FixedLenFeature(
          [], tf.string, default_value='')})
  source_id = features['image/source_id']
  key = tf.cond(tf.strings.length(source_id) > 0,
                lambda: source_id, lambda: serialized)
  return tf.strings.to_hash_bucket_strong(
      key, _NUM_BUCKETS, key=[int(seed), _HASH_KEY_SALT])


def _all_ranks(files: Sequence[str], seed: int, dataset_fn) -> np.ndarray:
  ds = tf.data.Dataset.from_tensor_slices(list(files))
  ds = ds.interleave(dataset_fn, cycle_length=4,
                     num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  ds = ds.map(lambda s: _record_rank(s, seed),
              num_parallel_calls=tf.data.AUTOTUNE).batch(4096)
  chunks = [b.numpy() for b in ds]
  return np.concatenate(chunks) if chunks else np.zeros([0], np.int64)


def count_to_keep(num_total: int, num_examples: int, fraction: float) -> int:
  if num_examples > 0:
    return min(num_examples, num_total)
  return int(round(fraction * num_total))


def rank_threshold(files: Sequence[str], subset_config,
                   dataset_fn=tf.data.TFRecordDataset) -> Optional[int]:
  """Largest rank kept, or None to keep everything. Cached per process."""
  key = (tuple(files), subset_config.num_examples, subset_config.fraction,
         subset_config.seed)
  if key in _CACHE:
    return _CACHE[key]
  ranks = _all_ranks(files, subset_config.seed, dataset_fn)
  keep = count_to_keep(len(ranks), subset_config.num_examples,
                       subset_config.fraction)
  if keep >= len(ranks):
    logging.warning('Subset asks for %d of %d examples: keeping all.', keep,
                    len(ranks))
    threshold = None
  elif keep == 0:
    raise ValueError(
        f'subset keeps 0 of {len(ranks)} examples (fraction='
        f'{subset_config.fraction}); raise the fraction.')
  else:
    threshold = int(np.partition(ranks, keep - 1)[keep - 1])
    logging.info('Subset: keeping %d of %d examples (seed %d).', keep,
                 len(ranks), subset_config.seed)
  _CACHE[key] = threshold
  return threshold


def wrap_dataset_fn(dataset_fn: Callable[..., tf.data.Dataset],
                    data_config) -> Callable[..., tf.data.Dataset]:
  """Returns `dataset_fn` filtered to the config's subset (or unchanged)."""
  subset_config = data_config.get('subset')
  if subset_config is None:
    return dataset_fn
  subset_config.check('subset')
  if not subset_config.enabled:
    return dataset_fn
  files = mg_input_reader.match_files(data_config.input_path)
  threshold = rank_threshold(files, subset_config, dataset_fn)
  if threshold is None:
    return dataset_fn
  seed = subset_config.seed

  @functools.wraps(dataset_fn)
  def filtered(*args, **kwargs):
    return dataset_fn(*args, **kwargs).filter(
        lambda s: _record_rank(s, seed) <= threshold)

  return filtered


def selected_source_ids(data_config,
                        dataset_fn=tf.data.TFRecordDataset) -> List[bytes]:
  """The `image/source_id`s a config's subset keeps, in file order."""
  files = mg_input_reader.match_files(data_config.input_path)
  ds = tf.data.Dataset.from_tensor_slices(files).flat_map(
      wrap_dataset_fn(dataset_fn, data_config))
  ds = ds.map(lambda s: tf.io.parse_single_example(
      s, {'image/source_id': tf.io.FixedLenFeature([], tf.string)})[
          'image/source_id'])
  return [x.numpy() for x in ds]

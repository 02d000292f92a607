"""Loss normalization of Zoph et al. 2020 (docs/self_training.md).

    L = (L_h + alpha * sg(avg(L_h) / avg(L_p)) * L_p) / (1 + alpha)

avg is an exponential moving average of each loss, averaged across replicas
before it is folded in, so every replica holds the same values. The ratio is
capped at `max_ratio`: with avg(L_p) small but not ~0 (e.g. pseudo masks
that are mostly the ignore label) it would otherwise scale the pseudo
gradient without bound; `combine` says when it clipped. The averages
are tf.Variables owned by this tf.Module; attach it to the model so Model
Garden's checkpoint saves and restores them with the weights.
"""

import tensorflow as tf

# Below this, avg(L_p) counts as zero: the ratio falls back to 1.
_EPSILON = 1e-8


class LossNormalizer(tf.Module):
  """Holds avg(L_h), avg(L_p) and combines the two losses."""

  def __init__(self, alpha: float = 1.0, decay: float = 0.99,
               enabled: bool = True, max_ratio: float = 10.0,
               name: str = 'loss_normalizer'):
    super().__init__(name=name)
    self.alpha = float(alpha)
    self.decay = float(decay)
    self.enabled = bool(enabled)
    self.max_ratio = float(max_ratio)
    kwargs = dict(trainable=False, dtype=tf.float32,
                  synchronization=tf.VariableSynchronization.ON_WRITE,
                  aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    with self.name_scope:
      self.human_average = tf.Variable(0.0, name='human_average', **kwargs)
      self.pseudo_average = tf.Variable(0.0, name='pseudo_average', **kwargs)
      # Number of (finite) updates so far; the first sets the averages. It
      # is also the number of good steps (with normalization off, too).
      self.num_updates = tf.Variable(
          0, trainable=False, dtype=tf.int64, name='num_updates',
          synchronization=tf.VariableSynchronization.ON_WRITE,
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  def _ema(self, average, value):
    first = tf.equal(self.num_updates, 0)
    return tf.where(first, value,
                    self.decay * average + (1.0 - self.decay) * value)

  def update(self, human_loss, pseudo_loss):
    """Folds this step's losses (mean over replicas) into the averages.

    Args:
      human_loss: this replica's human loss (scalar).
      pseudo_loss: this replica's pseudo loss (scalar).

    Returns:
      One op that assigns the new averages and counts the step in
      `num_updates` (a non-finite loss changes neither).
    """
    values = tf.stack([tf.cast(human_loss, tf.float32),
                       tf.cast(pseudo_loss, tf.float32)])
    values = tf.stop_gradient(values)
    ctx = tf.distribute.get_replica_context()
    if ctx is not None and ctx.num_replicas_in_sync > 1:
      values = ctx.all_reduce(tf.distribute.ReduceOp.MEAN, values)
    finite = tf.reduce_all(tf.math.is_finite(values))
    new_h = tf.where(finite, self._ema(self.human_average, values[0]),
                     self.human_average)
    new_p = tf.where(finite, self._ema(self.pseudo_average, values[1]),
                     self.pseudo_average)
    return tf.group(
        self.human_average.assign(new_h),
        self.pseudo_average.assign(new_p),
        self.num_updates.assign_add(tf.cast(finite, tf.int64)))

  def ratio(self):
    """(sg(min(avg(L_h) / avg(L_p), max_ratio)), whether it was capped);
    the ratio is 1 when avg(L_p) is ~0."""
    safe = self.pseudo_average > _EPSILON
    ratio = tf.where(safe, self.human_average /
                     tf.maximum(self.pseudo_average, _EPSILON), 1.0)
    clipped = ratio > self.max_ratio
    return tf.stop_gradient(tf.minimum(ratio, self.max_ratio)), clipped

  def combine(self, human_loss, pseudo_loss, pseudo_weight=1.0):
    """Updates the averages, then combines the two losses.

    Args:
      human_loss: L_h, this replica's human loss (scalar).
      pseudo_loss: L_p, this replica's pseudo loss (scalar).
      pseudo_weight: w, scales alpha in both places, (L_h + a*w*r*L_p) /
        (1 + a*w): w = 0 (the online teacher's burn-in) gives the labeled
        loss alone, with the averages still kept, so the ratio is meaningful
        when the pseudo loss comes in.

    Returns:
      (total loss, the ratio r used, 1.0 if the cap clipped r else 0.0).
    """
    update = self.update(human_loss, pseudo_loss)
    alpha = self.alpha * tf.cast(pseudo_weight, tf.float32)
    if not self.enabled:
      # The averages are still kept (and num_updates counts steps), unused.
      with tf.control_dependencies([update]):
        return (human_loss + alpha * pseudo_loss, tf.constant(1.0),
                tf.constant(0.0))
    with tf.control_dependencies([update]):
      ratio, clipped = self.ratio()
    total = (human_loss + alpha * ratio * pseudo_loss) / (1.0 + alpha)
    return total, ratio, tf.cast(clipped, tf.float32)

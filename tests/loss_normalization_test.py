"""Loss normalization: formula, EMA, guards, replicas, checkpoint."""

import numpy as np
import pytest
import tensorflow as tf

from official_ext.self_training import loss_normalization


def _combine(normalizer, h, p):
  total, ratio, _ = normalizer.combine(tf.constant(h), tf.constant(p))
  return float(total), float(ratio)


def test_formula_and_ema():
  n = loss_normalization.LossNormalizer(alpha=2.0, decay=0.9)
  # First step: averages start at the losses, so ratio = L_h / L_p.
  total, ratio = _combine(n, 3.0, 1.5)
  assert ratio == pytest.approx(2.0)
  assert total == pytest.approx((3.0 + 2.0 * 2.0 * 1.5) / 3.0)
  # Second step: EMA with decay 0.9.
  avg_h, avg_p = 0.9 * 3.0 + 0.1 * 1.0, 0.9 * 1.5 + 0.1 * 4.0
  total, ratio = _combine(n, 1.0, 4.0)
  assert float(n.human_average) == pytest.approx(avg_h)
  assert float(n.pseudo_average) == pytest.approx(avg_p)
  assert ratio == pytest.approx(avg_h / avg_p)
  assert total == pytest.approx((1.0 + 2.0 * (avg_h / avg_p) * 4.0) / 3.0)
  assert int(n.num_updates) == 2


def test_disabled_is_plain_weighted_sum():
  n = loss_normalization.LossNormalizer(alpha=0.5, enabled=False)
  total, ratio = _combine(n, 3.0, 2.0)
  assert total == pytest.approx(3.0 + 0.5 * 2.0) and ratio == 1.0
  assert int(n.num_updates) == 1  # Counts steps; the averages are unused.


def test_pseudo_weight_zero_is_the_human_loss_with_averages_kept():
  """The online teacher's burn-in: w = 0 gives L_h alone; the averages still
  follow both losses, so the ratio is ready when w becomes 1."""
  n = loss_normalization.LossNormalizer(alpha=2.0, decay=0.9)
  total, _, _ = n.combine(tf.constant(3.0), tf.constant(1.5), 0.0)
  assert float(total) == pytest.approx(3.0)
  assert float(n.pseudo_average) == pytest.approx(1.5)
  total, ratio, _ = n.combine(tf.constant(3.0), tf.constant(1.5), 1.0)
  assert float(ratio) == pytest.approx(2.0)
  assert float(total) == pytest.approx((3.0 + 2.0 * 2.0 * 1.5) / 3.0)
  off = loss_normalization.LossNormalizer(alpha=0.5, enabled=False)
  assert float(off.combine(tf.constant(3.0), tf.constant(2.0),
                           0.0)[0]) == pytest.approx(3.0)


def test_ratio_is_stop_gradient():
  n = loss_normalization.LossNormalizer(alpha=1.0, decay=0.5)
  h, p = tf.Variable(2.0), tf.Variable(0.5)
  with tf.GradientTape() as tape:
    total, ratio, _ = n.combine(h * 1.0, p * 1.0)
  gh, gp = tape.gradient(total, [h, p])
  assert float(gh) == pytest.approx(0.5)
  assert float(gp) == pytest.approx(float(ratio) / 2.0)  # alpha*ratio/(1+a)


def test_zero_pseudo_loss_is_finite():
  n = loss_normalization.LossNormalizer()
  total, ratio = _combine(n, 1.2, 0.0)  # A batch with no pseudo boxes.
  assert np.isfinite(total) and ratio == 1.0
  total, ratio = _combine(n, 1.2, 1e-12)
  assert np.isfinite(total) and np.isfinite(ratio)


def test_non_finite_losses_do_not_poison_the_averages():
  n = loss_normalization.LossNormalizer()
  _combine(n, 1.0, 2.0)
  _combine(n, 1.0, float('nan'))
  assert float(n.human_average) == 1.0 and float(n.pseudo_average) == 2.0
  assert int(n.num_updates) == 1


def test_cross_replica_average_under_mirrored_strategy(two_replica_strategy):
  strategy = two_replica_strategy
  with strategy.scope():
    n = loss_normalization.LossNormalizer(alpha=1.0, decay=0.5)

  @tf.function
  def step(base):
    def replica_fn():
      rid = tf.cast(tf.distribute.get_replica_context().replica_id_in_sync_group,
                    tf.float32)
      # Replica 0 sees (1, 2) * base, replica 1 sees (3, 6) * base.
      total, ratio, _ = n.combine(base * (1.0 + 2.0 * rid),
                               base * (2.0 + 4.0 * rid))
      return ratio
    return strategy.run(replica_fn)

  step(tf.constant(1.0))
  for value in strategy.experimental_local_results(n.human_average):
    assert float(value) == pytest.approx(2.0)   # mean(1, 3)
  for value in strategy.experimental_local_results(n.pseudo_average):
    assert float(value) == pytest.approx(4.0)   # mean(2, 6)
  ratios = strategy.experimental_local_results(step(tf.constant(2.0)))
  # EMA: 0.5*2 + 0.5*4 = 3 and 0.5*4 + 0.5*8 = 6, the same on each replica.
  assert [float(r) for r in ratios] == pytest.approx([0.5, 0.5])
  for value in strategy.experimental_local_results(n.human_average):
    assert float(value) == pytest.approx(3.0)


def test_checkpoint_restores_the_averages(tmp_path):
  n = loss_normalization.LossNormalizer(decay=0.9)
  _combine(n, 3.0, 1.0)
  _combine(n, 2.0, 5.0)
  path = tf.train.Checkpoint(normalizer=n).save(str(tmp_path / 'ckpt'))
  restored = loss_normalization.LossNormalizer(decay=0.9)
  status = tf.train.Checkpoint(normalizer=restored).read(path)
  status.assert_existing_objects_matched()
  for name in ('human_average', 'pseudo_average', 'num_updates'):
    assert float(getattr(restored, name)) == float(getattr(n, name))
  # A resumed run continues exactly: the next step gives the same result.
  assert _combine(restored, 1.0, 1.0) == _combine(n, 1.0, 1.0)


def test_ratio_is_capped_and_says_so():
  """avg(L_p) small but above the ~0 guard (mostly ignored pseudo pixels):
  without the cap the ratio would be 1e4 and the pseudo gradient with it."""
  n = loss_normalization.LossNormalizer(alpha=1.0, decay=0.5, max_ratio=10.0)
  total, ratio, clipped = n.combine(tf.constant(1.0), tf.constant(1e-4))
  assert float(ratio) == 10.0 and float(clipped) == 1.0
  assert float(total) == pytest.approx((1.0 + 10.0 * 1e-4) / 2.0)
  # Balanced losses are not touched.
  m = loss_normalization.LossNormalizer(alpha=1.0, max_ratio=10.0)
  _, ratio, clipped = m.combine(tf.constant(3.0), tf.constant(1.0))
  assert float(ratio) == pytest.approx(3.0) and float(clipped) == 0.0

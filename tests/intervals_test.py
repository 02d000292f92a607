"""Means over seeds and paired differences with Student's t intervals,
checked against hand-computed values."""

import math

import pytest

from official_ext.utils import intervals


def test_three_values_hand_computed():
  # mean 2, sample sd 1, se 1/sqrt(3); t(0.975, 2 dof) = 4.302653:
  # half-width 4.302653 / sqrt(3) = 2.484138.
  got = intervals.mean_interval([1.0, 2.0, 3.0])
  assert got.mean == pytest.approx(2.0)
  assert got.low == pytest.approx(2.0 - 2.484138, abs=1e-6)
  assert got.high == pytest.approx(2.0 + 2.484138, abs=1e-6)
  assert got.n == 3 and not got.excludes_zero


def test_paired_difference_hand_computed():
  # Differences 0.02, 0.02, 0.04: mean 0.026667, sd 0.011547,
  # se 0.006667; half-width 4.302653 * 0.006667 = 0.028684.
  got = intervals.paired_difference([0.70, 0.72, 0.75], [0.68, 0.70, 0.71])
  assert got.mean == pytest.approx(0.026667, abs=1e-6)
  assert got.low == pytest.approx(0.026667 - 0.028684, abs=1e-6)
  assert got.high == pytest.approx(0.026667 + 0.028684, abs=1e-6)
  assert not got.excludes_zero  # -0.002: a gain not shown
  # Five seeds (t(0.975, 4) = 2.776445), differences 1..5: mean 3,
  # sd sqrt(2.5), half-width 2.776445 * sqrt(2.5 / 5) = 1.963243.
  got = intervals.paired_difference([2, 3, 4, 5, 6], [1, 1, 1, 1, 1])
  assert (got.low, got.high) == pytest.approx((3 - 1.963243, 3 + 1.963243),
                                              abs=1e-6)
  assert got.excludes_zero


def test_a_loss_whose_interval_lies_below_zero_excludes_zero():
  got = intervals.paired_difference([0.5, 0.51, 0.49], [0.6, 0.6, 0.6])
  assert got.high < 0 and got.excludes_zero


def test_one_seed_has_no_interval_and_claims_nothing():
  got = intervals.mean_interval([0.7])
  assert got.mean == 0.7 and math.isnan(got.low) and math.isnan(got.high)
  assert not got.excludes_zero
  assert got.text() == '0.700 (n=1, no interval)'


def test_equal_values_have_a_zero_width_interval():
  got = intervals.paired_difference([0.5, 0.6], [0.4, 0.5])
  assert (got.low, got.mean, got.high) == pytest.approx((0.1, 0.1, 0.1))
  assert got.excludes_zero


def test_text_and_dict():
  got = intervals.paired_difference([0.70, 0.72, 0.75], [0.68, 0.70, 0.71])
  assert got.text(signed=True) == '+0.027 [-0.002, +0.055]'
  assert got.as_dict()['excludes_zero'] is False
  assert got.as_dict()['n'] == 3


def test_bad_input_names_the_problem():
  with pytest.raises(ValueError, match='equal counts: 2 vs 3'):
    intervals.paired_difference([1, 2], [1, 2, 3])
  with pytest.raises(ValueError, match='at least one seed'):
    intervals.mean_interval([])

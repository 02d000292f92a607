"""Means over seeds with their 95% intervals (Student's t), and paired
differences: what the demo and the study report for each comparison.

A gain is stated only where its interval excludes zero (`Interval.excludes_zero`);
with one seed there is no interval (NaN bounds) and nothing is claimed.
The t arithmetic is SciPy's (`ttest_1samp(...).confidence_interval`).
"""

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclasses.dataclass(frozen=True)
class Interval:
  """The mean of `n` values and its two-sided confidence interval."""
  mean: float
  low: float
  high: float
  n: int
  confidence: float = CONFIDENCE

  @property
  def excludes_zero(self) -> bool:
    """True when the whole interval lies on one side of zero."""
    return bool(self.low > 0 or self.high < 0)

  @classmethod
  def from_dict(cls, value: dict) -> 'Interval':
    """The inverse of `as_dict`."""
    return cls(value['mean'], value['low'], value['high'], value['n'],
               value.get('confidence', CONFIDENCE))

  def as_dict(self) -> dict:
    return {'mean': self.mean, 'low': self.low, 'high': self.high,
            'n': self.n, 'confidence': self.confidence,
            'excludes_zero': self.excludes_zero}

  def text(self, digits: int = 3, signed: bool = False) -> str:
    """e.g. '+0.021 [-0.004, +0.046]'; one value alone has no interval."""
    fmt = f'{"+" if signed else ""}.{digits}f'
    if math.isnan(self.low):
      return f'{self.mean:{fmt}} (n={self.n}, no interval)'
    return f'{self.mean:{fmt}} [{self.low:{fmt}}, {self.high:{fmt}}]'


def mean_interval(values: Sequence[float],
                  confidence: float = CONFIDENCE) -> Interval:
  """The mean of `values` with its Student's t interval (n - 1 degrees of
  freedom); NaN bounds for a single value."""
  values = np.asarray(values, dtype=np.float64)
  if values.size == 0:
    raise ValueError('no values: an interval needs at least one seed.')
  mean = float(values.mean())
  if values.size == 1:
    return Interval(mean, math.nan, math.nan, 1, confidence)
  if np.all(values == values[0]):  # No spread: SciPy's t is undefined.
    return Interval(mean, mean, mean, int(values.size), confidence)
  low, high = stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
  return Interval(mean, float(low), float(high), int(values.size), confidence)


def paired_difference(a: Sequence[float], b: Sequence[float],
                      confidence: float = CONFIDENCE) -> Interval:
  """Mean of a[i] - b[i] (pairs on the same seed) with its interval."""
  if len(a) != len(b):
    raise ValueError(f'paired values need equal counts: {len(a)} vs '
                     f'{len(b)}.')
  return mean_interval(np.subtract(np.asarray(a, np.float64),
                                   np.asarray(b, np.float64)), confidence)


def text(value: dict, signed: bool = False) -> str:
  """`Interval.text` of an interval stored with `as_dict` (a report's JSON)."""
  return Interval.from_dict(value).text(signed=signed)

"""Per-class thresholds from a calibration table (`measures`' `.table()`).

`auto_thresholds` picks per class the lowest threshold whose precision
reaches a target; `at_thresholds` gives the overall precision and recall at
any per-class thresholds; `target_precision_sweep` the labels' precision,
recall and F1 at each target's thresholds (evidence for choosing one).
"""

from typing import Dict, List, Sequence

import numpy as np


def auto_thresholds(table: dict, target_precision: float, fallback: float,
                    min_ground_truths: int) -> Dict[str, dict]:
  """Per class, the lowest threshold whose precision reaches the target.

  Args:
    table: a precision/recall table (measures' `.table()`): the threshold
      grid and, per class, precision, true positives, predictions and its
      ground-truth count.
    target_precision: the precision each class's threshold must reach.
    fallback: the threshold where a class cannot have its own.
    min_ground_truths: fewer ground truths than this: `fallback`.

  Returns:
    {class: {'threshold', 'why'}}.
  """
  chosen = {}
  for c, row in table['per_class'].items():
    count = next(v for k, v in row.items() if k.startswith('ground_truth_'))
    reached = [t for t, p in zip(table['thresholds'], row['precision'])
               if p is not None and p >= target_precision]
    if count < min_ground_truths:
      chosen[c] = {'threshold': fallback, 'why': f'{count} ground truths '
                   f'(< {min_ground_truths}): the global threshold'}
    elif not reached:
      chosen[c] = {'threshold': fallback, 'why': 'precision never reaches '
                   f'{target_precision}: the global threshold'}
    else:
      chosen[c] = {'threshold': min(reached),
                   'why': f'lowest threshold with precision >= '
                          f'{target_precision}'}
  return chosen


def at_thresholds(table: dict, class_thresholds: Dict[str, float]) -> dict:
  """Overall precision and recall had each class kept its own threshold.

  Args:
    table: a precision/recall table (measures' `.table()`).
    class_thresholds: {class: threshold}, one on the table's grid for
      every class of the table.

  Returns:
    {'precision', 'recall'} (None where undefined).

  Raises:
    ValueError: a threshold that is not on the grid.
  """
  grid = np.asarray(table['thresholds'])
  tp = predictions = ground_truths = 0
  for c, row in table['per_class'].items():
    t = class_thresholds[c]
    if not np.isclose(grid, t).any():
      raise ValueError(f'class {c}: threshold {t} is not one of '
                       f'{grid.tolist()}')
    i = int(np.flatnonzero(np.isclose(grid, t))[0])
    tp += row['true_positives'][i]
    predictions += row['predictions'][i]
    ground_truths += next(v for k, v in row.items()
                          if k.startswith('ground_truth_'))
  return {'precision': tp / predictions if predictions else None,
          'recall': tp / ground_truths if ground_truths else None}


def target_precision_sweep(table: dict, targets: Sequence[float],
                           fallback: float, min_ground_truths: int
                           ) -> List[dict]:
  """Evidence for choosing the target precision, measured in-sample.

  Args:
    table: a precision/recall table (measures' `.table()`).
    targets: the target precisions to try.
    fallback: `auto_thresholds`' global threshold.
    min_ground_truths: `auto_thresholds`' minimum count.

  Returns:
    Per target: the overall precision, recall and F1 at the per-class
    thresholds `auto_thresholds` picks for it, measured on the same table
    (so optimistic: chosen and measured on one set).
  """
  rows = []
  for target in targets:
    chosen = auto_thresholds(table, target, fallback, min_ground_truths)
    figures = at_thresholds(table, {c: v['threshold']
                                    for c, v in chosen.items()})
    p, r = figures['precision'], figures['recall']
    f1 = 2 * p * r / (p + r) if p is not None and r and p + r > 0 else None
    rows.append({'target_precision': target, 'precision': p, 'recall': r,
                 'f1': f1})
  return rows

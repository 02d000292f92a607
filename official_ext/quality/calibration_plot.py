"""The calibration table as a PNG: precision and recall vs the threshold.

One line per class (thin) and overall (thick), the global threshold as a
dashed line and, where chosen, each class's threshold as a dot on its
precision curve. Written next to the labeling report as
`{prefix}_calibration.png`.
"""

import os
from typing import Dict, Optional

import numpy as np
import tensorflow as tf


def _curve(values) -> np.ndarray:
  return np.array([np.nan if v is None else v for v in values], np.float64)


def write(path: str, table: dict, score_threshold: float,
          chosen: Optional[Dict[str, dict]] = None, title: str = ''):
  """Draws a calibration table into a PNG.

  Args:
    path: the PNG.
    table: calibration.measure's table.
    score_threshold: the labeling threshold (marked).
    chosen: per-class thresholds chosen, to mark, or None.
    title: the figure's title.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  thresholds = np.asarray(table['thresholds'])
  fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True, sharey=True)
  colors = plt.get_cmap('tab20')
  for k, (c, row) in enumerate(sorted(table['per_class'].items(),
                                      key=lambda kv: int(kv[0]))):
    color = colors(k % 20)
    for ax, key in zip(axes, ('precision', 'recall')):
      ax.plot(thresholds, _curve(row[key]), color=color, lw=1,
              label=f'class {c}')
    if chosen and c in chosen:
      t = chosen[c]['threshold']
      i = int(np.argmin(np.abs(thresholds - t)))
      axes[0].plot([t], [_curve(row['precision'])[i]], 'o', color=color,
                   ms=4)
  for ax, key in zip(axes, ('precision', 'recall')):
    ax.plot(thresholds, _curve(table['overall'][key]), color='black', lw=2.5,
            label='overall')
    ax.axvline(score_threshold, color='gray', ls='--', lw=1)
    ax.set_title(key)
    ax.set_xlabel('score threshold')
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
  axes[1].legend(fontsize=7, ncol=2, loc='lower left')
  if title:
    fig.suptitle(title, fontsize=10)
  fig.tight_layout()
  tf.io.gfile.makedirs(os.path.dirname(path) or '.')
  with tf.io.gfile.GFile(path, 'wb') as f:
    fig.savefig(f, format='png', dpi=90)
  plt.close(fig)

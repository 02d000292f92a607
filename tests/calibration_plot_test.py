"""The calibration plot: a PNG of precision and recall vs the threshold."""

import numpy as np
from PIL import Image

from official_ext.quality import calibration_plot
from official_ext.quality import measures
from official_ext.quality import thresholds as thresholds_lib


def test_plot_draws_every_class_and_survives_missing_points(tmp_path):
  thresholds = list(measures.THRESHOLDS)
  n = len(thresholds)
  per_class = {
      str(c): {'ground_truth_boxes': 10,
               'precision': list(np.linspace(0.4 + 0.03 * c, 1.0, n)),
               'recall': list(np.linspace(1.0, 0.0, n))}
      for c in range(1, 4)}
  per_class['2']['precision'][-1] = None  # No prediction left at 0.95.
  table = {'thresholds': thresholds, 'per_class': per_class,
           'overall': {'precision': list(np.linspace(0.5, 1.0, n)),
                       'recall': list(np.linspace(1.0, 0.0, n))}}
  chosen = thresholds_lib.auto_thresholds(table, 0.8, 0.3, 3)
  path = str(tmp_path / 'cal.png')
  calibration_plot.write(path, table, 0.3, chosen, title='t')
  with Image.open(path) as image:
    assert image.size == (900, 360)
    pixels = np.asarray(image.convert('RGB')).reshape(-1, 3)
  # Black overall lines and at least 3 other colors (one per class).
  assert (pixels.sum(1) == 0).sum() > 100
  colors = {tuple(p) for p in pixels[(pixels.max(1) - pixels.min(1)) > 60]}
  assert len(colors) >= 3

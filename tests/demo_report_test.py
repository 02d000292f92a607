"""official_ext/digits/demo_report.py: the demo's table and plot from a
results.json dict."""

import numpy as np
from PIL import Image

from official_ext.digits import demo_report


def _results():
  task = lambda init, t, s: {
      'teacher': {'AP': t}, 'student': {'AP': s},
      'student_minus_teacher': {'AP': s - t},
      'steps': {'teacher': 1500, 'student': 1000}, 'student_init': init,
      'wall_time_s': {'teacher': 12.4, 'student': 30.0},
      'calibration': {'class_thresholds': {'2': 0.4, '1': 0.3},
                      'precision': 0.82, 'recall': None, 'threshold': 0.3,
                      'class_thresholds_applied': False}}
  return {'seed': 3, 'quick': False, 'wall_time_s': {'data': 5, 'total': 48},
          'tasks': {'detection': task('teacher', 0.7, 0.75),
                    'segmentation': task('scratch', 0.6, 0.58)}}


def test_table_holds_metrics_steps_calibration_and_times():
  lines = demo_report.table(_results()).splitlines()
  assert '| detection | AP | 0.7000 | 0.7500 | +0.0500 |' in lines
  assert '| segmentation | AP | 0.6000 | 0.5800 | -0.0200 |' in lines
  assert ("detection: teacher 1500 steps, student 1000 steps from the "
          "teacher's checkpoint") in lines
  assert ('segmentation: teacher 1500 steps, student 1000 steps from random '
          'weights') in lines
  assert '| detection | 0.82, n/a at 0.3 | 1:0.3 2:0.4 | False |' in lines
  assert '| detection/teacher | 12 |' in lines
  assert lines[-1] == '| total | 48 |'


def test_plot_draws_bars(tmp_path):
  path = str(tmp_path / 'plot.png')
  demo_report.plot(_results(), path)
  with Image.open(path) as image:
    assert image.size[0] > 300 and image.size[1] > 200
    assert np.asarray(image.convert('L')).std() > 0

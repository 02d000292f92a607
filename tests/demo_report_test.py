"""official_ext/digits/demo_report.py: the demo's table and plot from a
results.json dict."""

import numpy as np
import pytest
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


def test_an_online_run_has_no_calibration_table():
  results = _results()
  for r in results['tasks'].values():
    r['mode'] = 'online'
    del r['calibration']
  results['tasks']['detection']['student_warnings'] = ['kept no box']
  text = demo_report.table(results)
  assert 'calibration split' not in text
  lines = text.splitlines()
  assert ("segmentation: teacher 1500 steps, student 1000 steps from random "
          "weights (online: its moving average labels each batch)") in lines
  detection = lines.index("detection: teacher 1500 steps, student 1000 steps "
                          "from the teacher's checkpoint (online: its moving "
                          "average labels each batch)")
  assert lines[detection + 1] == '  warning: kept no box'


def test_a_lane_with_overrides_says_so_under_its_line():
  results = _results()
  results['params_override'] = {'segmentation': ['a.b=1', 'c=2']}
  lines = demo_report.table(results).splitlines()
  at = lines.index('segmentation: teacher 1500 steps, student 1000 steps '
                   'from random weights')
  assert lines[at + 1] == ('  params_override (not the shipped recipe): '
                           'a.b=1,c=2')
  assert sum('params_override' in l for l in lines) == 1


def test_plot_draws_bars(tmp_path):
  path = str(tmp_path / 'plot.png')
  demo_report.plot(_results(), path)
  with Image.open(path) as image:
    assert image.size[0] > 300 and image.size[1] > 200
    assert np.asarray(image.convert('L')).std() > 0


def _seed_run(teacher, student):
  return {'tasks': {'segmentation': {
      'teacher': {'mean_iou': teacher}, 'student': {'mean_iou': student},
      'steps': {'teacher': 2500, 'student': 2500},
      'images_per_step': {'teacher': 8, 'student': 16},
      'labeled_images_per_step': {'teacher': 8, 'student': 8}}}}


def test_over_seeds_pairs_each_seed_with_a_t_interval():
  runs = {2: _seed_run(0.72, 0.76), 0: _seed_run(0.70, 0.72),
          1: _seed_run(0.71, 0.73)}
  summary = demo_report.over_seeds(runs)
  assert summary['seeds'] == [0, 1, 2]
  m = summary['tasks']['segmentation']['metrics']['mean_iou']
  assert m['teacher'] == [0.70, 0.71, 0.72]
  # Differences 0.02, 0.02, 0.04 (hand-computed as in intervals_test):
  # mean 0.026667, 95% interval [-0.002017, 0.055351]: not shown.
  diff = m['student_minus_teacher']
  assert (diff['mean'], diff['low'], diff['high']) == pytest.approx(
      (0.026667, -0.002017, 0.055351), abs=1e-6)
  assert diff['excludes_zero'] is False
  text = demo_report.seeds_table(summary)
  assert ('| segmentation | mean_iou | 0.700 -> 0.720 | 0.710 -> 0.730 | '
          '0.720 -> 0.760 | 0.710 [0.685, 0.735] | 0.737 [0.685, 0.788] | '
          '+0.027 [-0.002, +0.055] |') in text
  # The teacher trains on 8 images per step, the student on 16: said so.
  assert ('segmentation: images per step: teacher 8 (labeled), student 16 '
          '(8 labeled + 8 pseudo-labeled): NOT an equal-compute comparison'
          in text)


def test_compute_note_says_equal_compute_when_it_holds():
  r = _seed_run(0.7, 0.7)['tasks']['segmentation']
  r['images_per_step']['teacher'] = 16
  r['labeled_images_per_step']['teacher'] = 16
  assert demo_report.compute_note(r).endswith('pseudo-labeled): equal compute')


def test_calibration_summary_reads_the_threshold_used():
  report = {'quality': {
      'calibration': {'thresholds': [0.3, 0.5, 0.7], 'images': 10,
                      'overall': {'precision': [0.6, 0.8, 0.9],
                                  'recall': [0.9, 0.7, 0.4]}},
      'auto_thresholds': {'1': {'threshold': 0.5}},
      'auto_thresholds_applied': False, 'warnings': ['w']}}
  got = demo_report.calibration_summary(report, 0.52)
  assert (got['threshold'], got['precision'], got['recall']) == (0.5, 0.8, 0.7)
  assert got['class_thresholds'] == {'1': 0.5} and got['warnings'] == ['w']
  assert demo_report.calibration_summary({}, 0.5) == {}


def _tested_run(teacher, student, candidate_val, candidate_test, student_test):
  run = _seed_run(teacher, student)
  task = run['tasks']['segmentation']
  task['student_test'] = {'mean_iou': student_test}
  task['baselines'] = {
      'supervised_16': {'validation': {'mean_iou': teacher},
                        'test': {'mean_iou': teacher - 0.05}},
      'supervised_8': {'validation': {'mean_iou': candidate_val},
                       'test': {'mean_iou': candidate_test}}}
  task['compute'] = {'pipeline_train_images': 80000,
                     'pipeline_labeled_by_teacher': 1000,
                     'baseline_train_images': {'supervised_16': 40000,
                                               'supervised_8': 20000}}
  return run


def test_over_seeds_on_test_against_the_candidate_best_on_validation():
  """supervised_8's validation mean (0.74) beats the teacher's (0.71) on
  the mean though not on seed 2, so it is the baseline on every seed; the
  student's test differences to it: 0.02, 0.02, 0.04."""
  runs = {0: _tested_run(0.70, 0.72, 0.75, 0.60, 0.62),
          1: _tested_run(0.71, 0.73, 0.75, 0.61, 0.63),
          2: _tested_run(0.72, 0.76, 0.71, 0.62, 0.66)}
  test = demo_report.over_seeds(runs)['tasks']['segmentation']['test']
  assert test['baseline'] == 'supervised_8'
  assert test['candidates_validation_mean'] == pytest.approx(
      {'supervised_16': 0.71, 'supervised_8': 0.736667}, abs=1e-6)
  m = test['metrics']['mean_iou']
  assert m['baseline'] == [0.60, 0.61, 0.62]
  diff = m['student_minus_baseline']
  assert (diff['mean'], diff['low'], diff['high']) == pytest.approx(
      (0.026667, -0.002017, 0.055351), abs=1e-6)
  text = demo_report.seeds_table(demo_report.over_seeds(runs))
  assert ('| segmentation | mean_iou | 0.610 [0.585, 0.635] (supervised_8) '
          '| 0.637 [0.585, 0.688] | +0.027 [-0.002, +0.055] |') in text
  assert ('segmentation: training images: teacher + student 80000 (and 1000 '
          'labeled by the teacher), baseline supervised_8 20000') in text
  # One run's table: its own best on validation, on test.
  run = runs[2]
  run['tasks']['segmentation'].update(
      baseline='supervised_16', student_minus_teacher={'mean_iou': 0.04},
      wall_time_s={}, student_init='scratch')
  run.update(seed=2, quick=False, wall_time_s={'data': 1, 'total': 2})
  assert ('| segmentation | mean_iou | 0.6700 (supervised_16) | 0.6600 | '
          '-0.0100 |') in demo_report.table(run).splitlines()

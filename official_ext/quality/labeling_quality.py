"""Thresholds and quality checks around a labeling run.

`prepare` (before labeling) reads per-class thresholds from a JSON file,
or measures the teacher on a labeled calibration set (`calibration`, drawn
by `calibration_plot`) and picks per class the lowest threshold that reaches
`target_precision`, which labeling uses with `class_thresholds='auto'`;
the report's `target_precision_sweep` shows what other targets would give.
`review` (after labeling) compares the pseudo labels with the labeled set
and returns the warnings; `enforce` makes them an error with
`strict_quality`.

Thresholds for "far" (bias.warnings): a class's share of the pseudo
labels over 2x its share of the labeled set; over 20% of the images with
no pseudo label; pseudo boxes per image off by over 2x either way.
"""

import json
from typing import Dict, Optional, Tuple

from absl import logging
import tensorflow as tf

from official_ext.data import record_files
from official_ext.quality import bias
from official_ext.quality import calibration
from official_ext.quality import calibration_plot
from official_ext.quality import thresholds as thresholds_lib


# Target precisions the report compares (with the one asked for).
SWEEP_TARGETS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


class QualityError(ValueError):
  """--strict_quality and a quality warning."""


def read_thresholds(path: str) -> Dict[int, float]:
  """Per-class thresholds from a file.

  Args:
    path: a JSON file {"3": 0.4, ...}, or a labeling report (its
      "class_thresholds").

  Returns:
    {class id: threshold}.

  Raises:
    ValueError: the file cannot be read or holds no such object.
  """
  try:
    with tf.io.gfile.GFile(path) as f:
      data = json.load(f)
  except (tf.errors.NotFoundError, json.JSONDecodeError) as e:
    raise ValueError(f'--class_thresholds={path}: cannot read a JSON '
                     f'object of class thresholds ({e}).') from None
  data = data.get('class_thresholds', data) if isinstance(data, dict) else data
  if not isinstance(data, dict):
    raise ValueError(f'--class_thresholds={path}: expected a JSON object '
                     '{"class id": threshold}.')
  out = {}
  for c, t in data.items():
    if not str(c).isdigit() or not isinstance(t, (int, float)) or not (
        0.0 <= t <= 1.0):
      raise ValueError(f'--class_thresholds={path}: entry {c!r}: {t!r} must '
                       'be a class id with a threshold in [0, 1].')
    out[int(c)] = float(t)
  return out


def prepare(config, teacher) -> Tuple[Dict[int, float], dict]:
  """The thresholds to label with, before labeling.

  Args:
    config: the labeling options (labeling/options.LabelingOptions).
    teacher: the loaded teacher (labeling/teacher.py); with
      `config.calibration_pattern` it is measured on those labeled images.

  Returns:
    ({class id: threshold} to label with, the report's 'quality' section
    so far).
  """
  thresholds = {}
  if config.class_thresholds not in ('', 'auto'):
    thresholds = read_thresholds(config.class_thresholds)
  if not config.calibration_pattern:
    return thresholds, {}
  return _calibrate(config, teacher, thresholds)


def _calibrate(config, teacher, thresholds: Dict[int, float]
               ) -> Tuple[Dict[int, float], dict]:
  """Measures the teacher on the calibration set: the 'quality' section's
  table, plot and per-class thresholds; the thresholds to label with."""
  section = {}
  files = record_files.match(config.calibration_pattern,
                             'calibration_pattern')
  logging.info('Calibrating the teacher on %d labeled files.', len(files))
  table, counts = calibration.measure_with_counts(
      teacher, files, config.score_threshold, thresholds, config.batch_size)
  section['calibration'] = table
  # What `auto` picks, reported with or without it (the user's evidence
  # for choosing); applied only with class_thresholds='auto'.
  chosen = thresholds_lib.auto_thresholds(
      table, config.target_precision, config.score_threshold,
      config.min_calibration_examples)
  applied = config.class_thresholds == 'auto'
  section['auto_thresholds'] = chosen
  section['auto_thresholds_applied'] = applied
  if any(abs(t - config.score_threshold) < 1e-6 for t in table['thresholds']):
    section['target_precision_sweep'] = thresholds_lib.target_precision_sweep(
        table, sorted({*SWEEP_TARGETS, config.target_precision}),
        config.score_threshold, config.min_calibration_examples)
  logging.info('Per-class thresholds at target precision %.2f (%s): %s',
               config.target_precision,
               'labeling with them' if applied else 'not applied; '
               '--class_thresholds=auto applies them',
               {c: v['threshold'] for c, v in chosen.items()})
  if applied:
    thresholds = {int(c): v['threshold'] for c, v in chosen.items()
                  if v['threshold'] != config.score_threshold}
    if teacher.task == 'segmentation' and thresholds:
      # The masks' mIoU at the thresholds chosen (same teacher pass).
      table['at_class_thresholds'] = counts.at_class_thresholds(thresholds)
  plot = config.output_prefix + '_calibration.png'
  calibration_plot.write(
      plot, table, config.score_threshold, chosen,
      title=f'teacher on {config.calibration_pattern} '
            f'(dots: lowest threshold with precision >= '
            f'{config.target_precision})')
  section['plot'] = plot
  return thresholds, section


def _labeled_set(config, section: dict) -> Optional[dict]:
  """The labeled set's class counts (and boxes per image)."""
  pattern = config.labeled_pattern or config.calibration_pattern
  if not pattern:
    return None
  field = 'labeled_pattern' if config.labeled_pattern else 'calibration_pattern'
  shares = calibration.class_shares(record_files.match(pattern, field),
                                    config.task)
  shares['pattern'] = pattern
  return shares


def review(config, report: dict, section: dict) -> dict:
  """The pseudo labels against the labeled set, after labeling.

  Args:
    config: the labeling options.
    report: the labeling report (its class counts, empty images, boxes
      per image).
    section: what `prepare` returned for the 'quality' section.

  Returns:
    The report's 'quality' section: `section`, the labeled set's counts and
    the warnings (logged; `enforce` raises them with --strict_quality).
  """
  labeled = _labeled_set(config, section)
  pseudo = report.get('class_counts', report.get('class_pixel_counts', {}))
  found = bias.warnings(
      pseudo, labeled['counts'] if labeled else {},
      empty_fraction=report.get('empty_image_fraction'),
      per_image=report.get('boxes_per_image_mean'),
      labeled_per_image=labeled['per_image'] if labeled else None)
  if report.get('thresholds_differ_between_shards'):
    found.append('shards were labeled with different thresholds (a resumed '
                 'run with other options): '
                 f"{report['thresholds_differ_between_shards']}")
  section = dict(section, warnings=found)
  if labeled:
    section['labeled_set'] = labeled
  for line in found:
    logging.warning('Pseudo-label quality: %s', line)
  return section


def add_to_report(config, report: dict, section: dict):
  """Adds the 'quality' section (`review`) to a labeling report.

  Args:
    config: the labeling options.
    report: the report, changed in place.
    section: what the thresholds step measured before the run.
  """
  report['quality'] = review(config, report, section)


def enforce(config, report: dict):
  """With --strict_quality, the report's warnings are an error.

  Args:
    config: the labeling options.
    report: the written report (so it shows the warnings).

  Raises:
    QualityError: the report has warnings and `config.strict_quality`.
  """
  found = report.get('quality', {}).get('warnings')
  if found and config.strict_quality:
    raise QualityError('--strict_quality: ' + '; '.join(found))

"""official_ext/study/report.py: the tables' values and deltas are the
cells' metrics and their differences; every output file is written."""

import csv
import io
import json

import numpy as np
from PIL import Image
import pytest

from official_ext.study import report
from official_ext.study import study_config

from study_config_test import GOOD


def _study():
  study = study_config.from_dict(dict(GOOD, init=[
      {'name': 'random'}, {'name': 'pre', 'checkpoint': 'c'}], seeds=[0, 1]))
  return study


def _records(study):
  """Cell metrics from a formula, so every table value can be recomputed."""
  out = []
  for i, init in enumerate(['random', 'pre']):
    for j, aug in enumerate(['weak', 's1']):
      for fraction in (0.5, 1.0):
        for seed in (0, 1):
          base = 0.5 + 0.1 * i + 0.01 * j + 0.2 * fraction + 0.002 * seed
          out.append({
              'cell': {'init': init, 'augmentation': aug,
                       'labeled_fraction': fraction, 'seed': seed},
              'supervised': {'AP': base, 'AP50': base + 0.1},
              'selftrain': {'AP': base + 0.03 - 0.02 * i, 'AP50': base},
              'steps': {'supervised': 20, 'selftrain': 20},
              'wall_time_s': {'supervised': 10.0, 'selftrain': 12.0}})
  return out


def test_values_are_seed_means_and_deltas_their_differences():
  study = _study()
  tables = report.axis_tables(study, _records(study))
  # Two augmentation tables (one per fraction), two fraction tables.
  assert [(t['axis'], t['fixed']) for t in tables] == [
      ('augmentation', {'labeled_fraction': 0.5}),
      ('augmentation', {'labeled_fraction': 1.0}),
      ('labeled_fraction', {'augmentation': 'weak'}),
      ('labeled_fraction', {'augmentation': 's1'})]
  aug_full = tables[1]
  assert aug_full['columns'] == ['weak', 's1']
  rows = {r['label']: r for r in aug_full['rows']}
  assert list(rows) == ['random init', 'random init + self-training',
                        'pre init', 'pre init + self-training']
  # random, s1, fraction 1: mean over seeds 0, 1 of 0.5 + 0.01 + 0.2 + ...
  assert rows['random init']['values'][1] == pytest.approx(0.711)
  assert rows['random init + self-training']['deltas'] == pytest.approx(
      [0.03, 0.03])
  assert rows['pre init']['deltas'] == pytest.approx([0.1, 0.1])
  assert rows['pre init + self-training']['deltas'] == pytest.approx(
      [0.11, 0.11])
  frac = tables[2]
  assert frac['columns'] == [0.5, 1.0]
  assert frac['rows'][0]['values'] == pytest.approx([0.601, 0.701])


def test_missing_cells_read_pending():
  study = _study()
  records = [r for r in _records(study) if r['cell']['init'] == 'random']
  text = report.markdown(study, records, 'protocol')
  assert '| pre init | pending | pending |' in text


def test_files(tmp_path):
  study = _study()
  records = _records(study)
  paths = report.write(study, records, str(tmp_path), 'the protocol')
  text = open(paths['md']).read()
  assert '## AP vs augmentation (labeled fraction 1)' in text
  assert '| random init + self-training | 0.731 (+0.030) | 0.741 (+0.030) |' \
      in text
  assert 'the protocol' in text
  rows = list(csv.DictReader(io.StringIO(open(paths['csv']).read())))
  assert len(rows) == 2 * len(records)
  assert float(rows[0]['AP']) == pytest.approx(records[0]['supervised']['AP'])
  assert rows[1]['model'] == 'selftrain'
  data = json.load(open(paths['json']))
  assert data['cells'] == records and data['protocol'] == 'the protocol'
  assert data['study']['name'] == 'digits'
  with Image.open(paths['png']) as png:
    assert png.size[0] > 600
    assert np.asarray(png.convert('L')).std() > 0

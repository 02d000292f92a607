"""official_ext/study/report.py: the tables' values and deltas are the
cells' metrics and their differences; every output file is written."""

import csv
import io
import json
import re

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


def _gain_records(gains_by_init):
  """One cell per init and seed; supervised AP 0.5 + seed / 100, the
  student that plus the given gain."""
  out = []
  for init, gains in gains_by_init.items():
    for seed, gain in enumerate(gains):
      sup = 0.5 + seed / 100
      out.append({'cell': {'init': init, 'augmentation': 'weak',
                           'labeled_fraction': 1.0, 'seed': seed},
                  'supervised': {'AP': sup, 'AP50': sup},
                  'selftrain': {'AP': sup + gain, 'AP50': sup},
                  'steps': {'supervised': 20, 'selftrain': 20},
                  'images_per_step': {'supervised': 16, 'selftrain': 16},
                  'labeled_images_per_step': {'supervised': 16,
                                              'selftrain': 8},
                  'wall_time_s': {'supervised': 10.0, 'selftrain': 12.0}})
  return out


def test_gains_are_paired_differences_with_t_intervals():
  study = study_config.from_dict(dict(GOOD, init=[
      {'name': 'random'}, {'name': 'pre', 'checkpoint': 'c'},
      {'name': 'third', 'checkpoint': 'c'}], seeds=[0, 1, 2],
      augmentation=[{'name': 'weak'}], labeled_fraction=[1.0]))
  records = _gain_records({'random': [0.02, 0.02, 0.04],
                           'pre': [0.05, 0.06, 0.07], 'third': [0.01]})
  got = {g['init']: g for g in report.gains(study, records)}
  # Hand-computed: t(0.975, 2 dof) = 4.302653.
  # random: mean 0.026667, sd 0.011547 -> half-width 0.028684.
  assert got['random']['gain']['mean'] == pytest.approx(0.026667, abs=1e-6)
  assert got['random']['gain']['low'] == pytest.approx(-0.002017, abs=1e-6)
  assert got['random']['gain']['high'] == pytest.approx(0.055351, abs=1e-6)
  assert report.verdict(got['random']['gain']) == (
      'not shown (interval includes 0)')
  # pre: mean 0.06, sd 0.01 -> half-width 0.024841.
  assert (got['pre']['gain']['low'], got['pre']['gain']['high']) == (
      pytest.approx((0.035159, 0.084841), abs=1e-6))
  assert report.verdict(got['pre']['gain']) == 'gain'
  assert got['pre']['seeds'] == [0, 1, 2]
  # The supervised mean: 0.5, 0.51, 0.52.
  assert got['pre']['supervised']['mean'] == pytest.approx(0.51)
  assert report.verdict(got['third']['gain']) == (
      'one seed: no interval, no claim')
  text = report.markdown(study, records, 'P.')
  assert ('| pre | weak | 1 | offline | 3 | 0.510 [0.485, 0.535] | '
          '0.570 [0.520, 0.620] | +0.060 [+0.035, +0.085] | gain |') in text
  lines = report.csv_text(study, records).splitlines()
  assert lines[0].endswith(',train_steps,images_per_step,'
                           'labeled_images_per_step,wall_time_s')
  assert lines[1].split(',')[-4:-1] == ['20', '16', '16']
  assert lines[2].split(',')[-4:-1] == ['20', '16', '8']


def test_online_method_gains_and_online_minus_offline():
  """With method [offline, online]: a gain row per student, and online
  minus offline paired over seeds. Offline gains 0.02, 0.02, 0.04; online
  0.05, 0.06, 0.07: online - offline = 0.03, 0.04, 0.03 (mean 0.033333, sd
  0.005774, half-width 4.302653 * 0.005774 / sqrt(3) = 0.014342)."""
  study = study_config.from_dict(dict(GOOD, seeds=[0, 1, 2],
                                      augmentation=[{'name': 'weak'}],
                                      labeled_fraction=[1.0]))
  study.method = ['offline', 'online']
  records = _gain_records({'random': [0.02, 0.02, 0.04]})
  for record, gain in zip(records, [0.05, 0.06, 0.07]):
    sup = record['supervised']['AP']
    record['online'] = {'AP': sup + gain, 'AP50': sup}
    for key in ('steps', 'images_per_step', 'labeled_images_per_step',
                'wall_time_s'):
      record[key]['online'] = record[key]['selftrain']
  rows = report.gains(study, records)
  assert [r['method'] for r in rows] == ['offline', 'online']
  online = rows[1]
  assert online['gain']['mean'] == pytest.approx(0.06)
  assert online['online']['mean'] == pytest.approx(0.57)
  difference = online['minus_offline']
  assert difference['mean'] == pytest.approx(0.033333, abs=1e-6)
  assert (difference['low'], difference['high']) == pytest.approx(
      (0.018991, 0.047676), abs=1e-6)
  assert 'minus_offline' not in rows[0]
  text = report.markdown(study, records, 'P.')
  assert '| random init + online self-training | 0.570 (+0.060) |' in text
  assert '| random | weak | 1 | +0.033 [+0.019, +0.048] | online ahead |' in (
      text)
  models = [line.split(',')[4] for line in
            report.csv_text(study, records).splitlines()[1:4]]
  assert models == ['supervised', 'selftrain', 'online']


def test_gains_are_on_test_against_the_candidate_best_on_validation():
  """With every model scored on test and a supervised candidate beside the
  cell's own: the baseline is the candidate with the higher validation
  mean (one choice for the point), and the gain is measured on test.
  Candidate batch8: validation 0.60 on every seed (own: 0.50-0.52), test
  0.40 (own: 0.45); student test 0.48, 0.49, 0.50 -> gain +0.08, +0.09,
  +0.10 against batch8 (mean 0.09, sd 0.01, half-width 0.024841)."""
  study = study_config.from_dict(dict(
      GOOD, seeds=[0, 1, 2], augmentation=[{'name': 'weak'}],
      labeled_fraction=[1.0],
      candidates=[{'name': 'batch8',
                   'overrides': ['task.train_data.global_batch_size=8']}]))
  records = _gain_records({'random': [0.02, 0.02, 0.04]})
  for seed, record in enumerate(records):
    record['supervised_test'] = {'AP': 0.45, 'AP50': 0.6}
    record['selftrain_test'] = {'AP': 0.48 + seed / 100, 'AP50': 0.6}
    record['candidates'] = {'batch8': {
        'validation': {'AP': 0.60, 'AP50': 0.7},
        'test': {'AP': 0.40, 'AP50': 0.5},
        'model': {'images_per_step': 8}}}
  split, shown = report.on_split(study, records)
  assert split == 'test' and shown[0]['selftrain']['AP'] == 0.48
  row, = report.gains(study, records, split)
  assert row['baseline'] == 'batch8' and row['split'] == 'test'
  assert row['baselines_validation_mean'] == pytest.approx(
      {'supervised': 0.51, 'batch8': 0.60})
  assert row['supervised']['mean'] == pytest.approx(0.40)
  assert row['gain']['mean'] == pytest.approx(0.09)
  assert (row['gain']['low'], row['gain']['high']) == pytest.approx(
      (0.065159, 0.114841), abs=1e-6)
  text = report.markdown(study, records, 'P.')
  assert 'AP on the test set' in text
  assert ('| random | weak | 1 | offline | 3 | 0.400 [0.400, 0.400] '
          '(batch8) | 0.490 [0.465, 0.515] | +0.090 [+0.065, +0.115] | '
          'gain |') in text
  # Without a test score for the candidate, everything stays on validation.
  del records[0]['candidates']['batch8']['test']
  assert report.on_split(study, records)[0] == 'validation'
  row, = report.gains(study, records)
  assert row['baseline'] == 'batch8'
  assert row['gain']['mean'] == pytest.approx(0.51 + 0.026667 - 0.60,
                                              abs=1e-6)


@pytest.mark.parametrize('candidates,words', [
    ([{'name': 'supervised'}], 'candidates[0].name'),
    ([{'name': 'a'}, {'name': 'a'}], 'candidates: names repeat'),
    ([{'name': 'a', 'train_steps': -1}], 'candidates[0].train_steps'),
    ([{'name': 'a', 'steps': 5}], 'candidates[0].steps: unknown field'),
])
def test_bad_candidates_name_the_field(candidates, words):
  with pytest.raises(study_config.StudyError, match=re.escape(words)):
    study = study_config.from_dict(dict(GOOD, candidates=candidates))
    study_config.check(study)

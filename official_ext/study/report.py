"""A study's results as the paper shows them: study.md, .csv, .json, .png.

Input: one record per finished cell, as the study tool writes it into the
cell's folder (`metrics.json`):
  {'cell': {'init', 'augmentation', 'labeled_fraction', 'seed'},
   'supervised': {metric: value}, 'selftrain': {metric: value},
   ['online': {metric: value},] ['<model>_test': {metric: value},] ...}
The tables, gains and plot are on the test split when every cell has every
model's test metrics (`on_split`: nothing was chosen on it), else on
validation; the page says which.
First the gains: for each init, augmentation and labeled fraction, each
student (offline, and online when the study has that method) minus the
supervised model of the same cell (equal compute, same seed), with its 95%
interval over seeds (utils/intervals.py); with both methods, online minus
offline too. Then the
paper's tables. Rows of every table: each init, supervised and +
self-training; a value is the mean over seeds, "value (delta vs the
random-init supervised model of the same column)". One table per axis
(augmentation, labeled fraction) for each value of the other axis.
"""

import csv
import io
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np

from official_ext.study import cells as cells_lib
from official_ext.study import study_config
from official_ext.utils import intervals

METRICS = {'detection': ('AP', 'AP50'), 'segmentation': ('mean_iou',)}
LABELS = {cells_lib.SUPERVISED: '', cells_lib.SELFTRAIN: ' + self-training',
          cells_lib.ONLINE: ' + online self-training'}


def on_split(study, records: Sequence[dict]) -> tuple:
  """('test', the records with each model's test metrics in its place) when
  every record has them for every model and candidate; else ('validation',
  records)."""
  keys = [f'{m}_test' for m in cells_lib.models(study)]
  if not records or not all(
      all(k in r for k in keys) and
      all(c.get('test') for c in r.get('candidates', {}).values())
      for r in records):
    return 'validation', list(records)
  return 'test', [dict(r, **{m: r[f'{m}_test']
                             for m in cells_lib.models(study)})
                  for r in records]


def headline(task: str) -> str:
  """The metric the tables show."""
  return METRICS[task][0]


def row_label(init: str, model: str) -> str:
  name = 'random init' if init == study_config.RANDOM else f'{init} init'
  return name + LABELS[model]


def mean_metric(records: Sequence[dict], metric: str, model: str,
                **where) -> float:
  """Mean over the records (seeds) matching `where` of model's metric."""
  values = [r[model][metric] for r in records
            if all(r['cell'][k] == v for k, v in where.items())]
  return float(np.mean(values)) if values else float('nan')


def axis_tables(study, records: Sequence[dict]) -> List[dict]:
  """Each table: {'axis', 'fixed' (the other axis and its value),
  'columns', 'rows': [{'label', 'init', 'model', 'values', 'deltas'}]}."""
  metric = headline(study.task)
  inits = [i.name for i in study.init]
  axes = {'augmentation': [a.name for a in study.augmentation],
          'labeled_fraction': [float(f) for f in study.labeled_fraction]}
  tables = []
  for axis, other in (('augmentation', 'labeled_fraction'),
                      ('labeled_fraction', 'augmentation')):
    for fixed in axes[other]:
      rows = []
      base = [mean_metric(records, metric, cells_lib.SUPERVISED,
                          init=study_config.RANDOM, **{axis: c, other: fixed})
              for c in axes[axis]]
      for init in inits:
        for model in cells_lib.models(study):
          values = [mean_metric(records, metric, model, init=init,
                                **{axis: c, other: fixed})
                    for c in axes[axis]]
          rows.append({'label': row_label(init, model), 'init': init,
                       'model': model, 'values': values,
                       'deltas': [v - b for v, b in zip(values, base)]})
      tables.append({'axis': axis, 'fixed': {other: fixed},
                     'columns': axes[axis], 'rows': rows})
  return tables


def supervised_models(record: dict) -> Dict[str, dict]:
  """A cell's supervised models by name, `supervised` and its candidates:
  {name: {'validation': metrics, 'test': metrics or None}}."""
  return {cells_lib.SUPERVISED: {
      'validation': record[cells_lib.SUPERVISED],
      'test': record.get(f'{cells_lib.SUPERVISED}_test')},
          **record.get('candidates', {})}


def baseline(found: Sequence[dict], metric: str) -> tuple:
  """The point's supervised model best on validation (mean over its
  seeds), one choice for all of them: (name, {name: validation mean})."""
  names = [n for n in supervised_models(found[0])
           if all(n in supervised_models(r) for r in found)]
  means = {n: float(np.mean([supervised_models(r)[n]['validation'][metric]
                             for r in found])) for n in names}
  return max(names, key=means.get), means


def _on(record: dict, model: str, split: str) -> dict:
  return record[model if split == 'validation' else f'{model}_test']


def gains(study, records: Sequence[dict],
          split: str = 'validation') -> List[dict]:
  """For each init, augmentation, labeled fraction with finished cells and
  each student method: the student minus the point's supervised model best
  on validation (`baseline`: the cell's own, at the student's images per
  step, or a candidate), on `split`, paired by seed, with its interval over
  seeds; the online rows also hold online minus offline."""
  metric = headline(study.task)
  students = [m for m in cells_lib.models(study) if m in cells_lib.STUDENTS]
  out = []
  for init in study.init:
    for aug in study.augmentation:
      for fraction in study.labeled_fraction:
        where = {'init': init.name, 'augmentation': aug.name,
                 'labeled_fraction': float(fraction)}
        found = sorted((r for r in records if all(
            r['cell'][k] == v for k, v in where.items())),
                       key=lambda r: r['cell']['seed'])
        if not found:
          continue
        best, means = baseline(found, metric)
        sup = [supervised_models(r)[best][split][metric] for r in found]
        offline = [_on(r, cells_lib.SELFTRAIN, split)[metric] for r in found]
        for model in students:
          st = [_on(r, model, split)[metric] for r in found]
          row = {**where, 'metric': metric, 'method': METHOD[model],
                 'seeds': [r['cell']['seed'] for r in found],
                 'split': split, 'baseline': best,
                 'baselines_validation_mean': means,
                 cells_lib.SUPERVISED: intervals.mean_interval(
                     sup).as_dict(),
                 model: intervals.mean_interval(st).as_dict(),
                 'gain': intervals.paired_difference(st, sup).as_dict()}
          if model == cells_lib.ONLINE:
            row['minus_offline'] = intervals.paired_difference(
                st, offline).as_dict()
          out.append(row)
  return out


METHOD = {cells_lib.SELFTRAIN: 'offline', cells_lib.ONLINE: 'online'}
STUDENT_OF = {v: k for k, v in METHOD.items()}


def verdict(gain: dict) -> str:
  """What a gain's interval lets us say."""
  if gain['n'] < 2:
    return 'one seed: no interval, no claim'
  if not gain['excludes_zero']:
    return 'not shown (interval includes 0)'
  return 'gain' if gain['mean'] > 0 else 'loss'


def gains_markdown(study, records: Sequence[dict],
                   split: str = 'validation') -> List[str]:
  """The gains as a table, each with its interval and verdict."""
  rows = gains(study, records, split)
  metric = headline(study.task)
  named = any(r.get('candidates') for r in records)
  lines = ['', f'## Self-training gain ({metric} on {split}, student minus '
           'the supervised model best on validation, same cell and seed)',
           '',
           'Mean over seeds; in brackets its 95% interval (Student\'s t, n-1 '
           'degrees of freedom). A gain is claimed only where the interval '
           'excludes 0.', '',
           '| init | augmentation | labeled fraction | method | seeds | '
           'supervised | student | gain | verdict |',
           '|---|---|---|---|---|---|---|---|---|']
  for row in rows:
    lines.append(
        f"| {row['init']} | {row['augmentation']} | "
        f"{_text(row['labeled_fraction'])} | {row['method']} | "
        f"{len(row['seeds'])} | "
        f"{intervals.text(row[cells_lib.SUPERVISED])}"
        f"{' (' + row['baseline'] + ')' if named else ''} | "
        f"{intervals.text(row[STUDENT_OF[row['method']]])} | "
        f"{intervals.text(row['gain'], True)} | "
        f"{verdict(row['gain'])} |")
  online = [r for r in rows if 'minus_offline' in r]
  if online:
    lines += ['', 'Online minus offline student (same cell and seed):', '',
              '| init | augmentation | labeled fraction | difference | '
              'verdict |', '|---|---|---|---|---|']
    for row in online:
      lines.append(
          f"| {row['init']} | {row['augmentation']} | "
          f"{_text(row['labeled_fraction'])} | "
          f"{intervals.text(row['minus_offline'], True)} | "
          f"{verdict(row['minus_offline']).replace('gain', 'online ahead').replace('loss', 'offline ahead')} |")
  return lines


def _text(value) -> str:
  return f'{value:g}' if isinstance(value, float) else str(value)


def _cell(value: float, delta: float, baseline: bool) -> str:
  if np.isnan(value):
    return 'pending'
  return f'{value:.3f}' if baseline else f'{value:.3f} ({delta:+.3f})'


def markdown(study, records: Sequence[dict], protocol: str,
             pretrained: Optional[Dict[str, dict]] = None) -> str:
  """The tables; `pretrained`: the pre-training records by init name."""
  metric = headline(study.task)
  split, shown = on_split(study, records)
  lines = [f'# Study {study.name}: {study.task}, {metric}', '',
           f'{len(records)} cells finished. {protocol}', '',
           f'Values: {metric} on the {split} set, mean over seeds '
           f'{list(study.seeds)}; in brackets the difference to the '
           'random-init supervised model of the same column.']
  for name, record in (pretrained or {}).items():
    scores = ', '.join(f'{k} {v:.3f}' for k, v in record['metrics'].items())
    lines += ['', f"The {name} init: {record['experiment']} trained "
              f"{record['steps']} steps; on its classification val split "
              f'{scores}.']
  lines += gains_markdown(study, records, split)
  for table in axis_tables(study, shown):
    (other, fixed), = table['fixed'].items()
    lines += ['', f"## {metric} vs {table['axis'].replace('_', ' ')} "
              f"({other.replace('_', ' ')} {_text(fixed)})", '',
              '| | ' + ' | '.join(_text(c) for c in table['columns']) + ' |',
              '|---|' + '---|' * len(table['columns'])]
    for row in table['rows']:
      baseline = (row['init'] == study_config.RANDOM and
                  row['model'] == cells_lib.SUPERVISED)
      lines.append(f"| {row['label']} | " + ' | '.join(
          _cell(v, d, baseline) for v, d in zip(row['values'],
                                                 row['deltas'])) + ' |')
  return '\n'.join(lines) + '\n'


def csv_text(study, records: Sequence[dict]) -> str:
  """One line per cell and model."""
  metrics = METRICS[study.task]
  out = io.StringIO()
  writer = csv.writer(out, lineterminator='\n')
  writer.writerow(['init', 'augmentation', 'labeled_fraction', 'seed',
                   'model', *metrics, 'train_steps', 'images_per_step',
                   'labeled_images_per_step', 'wall_time_s'])
  for r in records:
    c = r['cell']
    for model in cells_lib.models(study):
      writer.writerow([c['init'], c['augmentation'], c['labeled_fraction'],
                       c['seed'], model,
                       *[f'{r[model][m]:.6f}' for m in metrics],
                       r['steps'][model],
                       r.get('images_per_step', {}).get(model, ''),
                       r.get('labeled_images_per_step', {}).get(model, ''),
                       f"{r['wall_time_s'][model]:.1f}"])
  return out.getvalue()


def plot(study, records: Sequence[dict], path: str):
  """The paper's Figure 1: the metric vs augmentation strength, one line
  per row (init, +self-training), one panel per labeled fraction."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  tables = [t for t in axis_tables(study, records)
            if t['axis'] == 'augmentation']
  fig, axes = plt.subplots(1, len(tables), squeeze=False,
                           figsize=(4.2 * len(tables), 3.6))
  for ax, table in zip(axes[0], tables):
    xs = range(len(table['columns']))
    for row in table['rows']:
      ax.plot(list(xs), row['values'], marker='o', label=row['label'],
              linestyle={cells_lib.SELFTRAIN: '--', cells_lib.ONLINE: ':'}.get(
                  row['model'], '-'))
    ax.set_xticks(list(xs))
    ax.set_xticklabels(table['columns'])
    ax.set_xlabel('augmentation')
    ax.set_ylabel(headline(study.task))
    ax.set_title(f"labeled fraction {table['fixed']['labeled_fraction']:g}")
    ax.grid(alpha=0.3)
  axes[0][0].legend(fontsize=7)
  fig.suptitle(f'study {study.name}')
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def write(study, records: List[dict], output_dir: str, protocol: str,
          pretrained: Optional[Dict[str, dict]] = None) -> Dict[str, str]:
  """study.md, study.csv, study.json, study.png under output_dir."""
  paths = {ext: os.path.join(output_dir, f'study.{ext}')
           for ext in ('md', 'csv', 'json', 'png')}
  split, shown = on_split(study, records)
  with open(paths['md'], 'w') as f:
    f.write(markdown(study, records, protocol, pretrained))
  with open(paths['csv'], 'w') as f:
    f.write(csv_text(study, shown))
  with open(paths['json'], 'w') as f:
    json.dump({'study': study.as_dict(), 'protocol': protocol,
               'pretrained': pretrained or {}, 'split': split,
               'gains': gains(study, records, split),
               'tables': axis_tables(study, shown), 'cells': records},
              f, indent=2)
  plot(study, shown, paths['png'])
  return paths

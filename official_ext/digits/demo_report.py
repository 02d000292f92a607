"""The demo's report of a finished run (its results.json dict): the
teacher's calibration summary from the labeling report, the
teacher-vs-student table it prints and the bar plot it saves; and, for
--seeds, the table over seeds with 95% intervals (utils/intervals.py).

Validation is where choices are made: the supervised baseline is the
candidate best on validation (over seeds: by its mean). The student is
compared with that baseline on the test split, which nothing chose on."""

from typing import Dict, List

from official_ext.utils import intervals


def calibration_summary(report: dict, threshold: float) -> dict:
  """The teacher on the calibration split, from the labeling report: its
  COCO AP or mask mIoU, overall precision/recall at the threshold used, the
  per-class thresholds (applied or not) and the quality warnings."""
  section = report.get('quality', {})
  split = section.get('calibration')
  if not split:
    return {}
  at = min(range(len(split['thresholds'])),
           key=lambda i: abs(split['thresholds'][i] - threshold))
  out = {'images': split.get('images'),
         'threshold': split['thresholds'][at],
         'precision': split['overall']['precision'][at],
         'recall': split['overall']['recall'][at],
         'class_thresholds': {c: v['threshold'] for c, v in
                              section.get('auto_thresholds', {}).items()},
         'class_thresholds_applied': section.get('auto_thresholds_applied'),
         'target_precision_sweep': section.get('target_precision_sweep'),
         'warnings': section.get('warnings', []),
         'plot': section.get('plot')}
  if 'teacher_coco' in split:
    out['teacher_coco'] = split['teacher_coco']
  if split.get('mean_iou_at_threshold') is not None:
    out['mean_iou_at_threshold'] = split['mean_iou_at_threshold']
  if split.get('at_class_thresholds'):  # Segmentation, auto applied.
    out['mean_iou_at_class_thresholds'] = split['at_class_thresholds'][
        'mean_iou_at_threshold']
  return out


def best_on_validation(candidates: Dict[str, dict], metric: str) -> str:
  """The name of the candidate with the highest validation `metric`."""
  return max(candidates, key=lambda n: candidates[n]['validation'][metric])


def test_table(results: dict) -> List[str]:
  """Per task and metric on test: the baseline best on validation, the
  student and their difference; the pipeline's and baseline's compute."""
  tasks = {t: r for t, r in results['tasks'].items()
           if r.get('student_test') and r.get('baselines')}
  if not tasks:
    return []
  lines = ['| task | metric (test) | baseline (best on val) | student | '
           'student - baseline |', '|---|---|---|---|---|']
  for task, r in tasks.items():
    base = r['baselines'][r['baseline']]['test']
    for m, v in r['student_test'].items():
      lines.append(f"| {task} | {m} | {base[m]:.4f} ({r['baseline']}) | "
                   f'{v:.4f} | {v - base[m]:+.4f} |')
  for task, r in tasks.items():
    lines.append(f'{task}: ' + compute_text(r['compute'], r['baseline']))
  return lines + ['']


def compute(models: dict, baseline_models: dict, labeled: int) -> dict:
  """Training images (images per step x steps) of the whole pipeline
  (teacher + student) and of each baseline candidate, and the unlabeled
  images the teacher labeled (inference only): equal compute per model is
  not equal compute in all."""
  seen = lambda m: m['images_per_step'] * m['train_steps']
  return {'pipeline_train_images': sum(seen(m) for m in models.values()),
          'pipeline_labeled_by_teacher': labeled,
          'baseline_train_images': {n: seen(m)
                                    for n, m in baseline_models.items()}}


def compute_text(c: dict, baseline: str) -> str:
  return (f"training images: teacher + student {c['pipeline_train_images']}"
          f" (and {c['pipeline_labeled_by_teacher']} labeled by the "
          f"teacher), baseline {baseline} "
          f"{c['baseline_train_images'][baseline]}")


def table(results: dict) -> str:
  lines = test_table(results)
  lines += ['| task | metric (val) | teacher | student | student - teacher |',
            '|---|---|---|---|---|']
  for task, r in results['tasks'].items():
    for m in r['teacher']:
      lines.append(f"| {task} | {m} | {r['teacher'][m]:.4f} | "
                   f"{r['student'][m]:.4f} | "
                   f"{r['student_minus_teacher'][m]:+.4f} |")
  for task, r in results['tasks'].items():
    init = {'teacher': "from the teacher's checkpoint",
            'scratch': 'from random weights'}.get(r.get('student_init'), '')
    mode = (' (online: its moving average labels each batch)'
            if r.get('mode') == 'online' else '')
    lines.append(f"\n{task}: teacher {r['steps']['teacher']} steps, student "
                 f"{r['steps']['student']} steps {init}".rstrip() + mode)
    if 'images_per_step' in r:
      lines.append('  ' + compute_note(r))
    override = results.get('params_override', {}).get(task)
    if override:
      lines.append(f"  params_override (not the shipped recipe): "
                   f"{','.join(override)}")
    lines += [f'  warning: {w}' for w in r.get('student_warnings', [])]
  calibrated = {t: r['calibration'] for t, r in results['tasks'].items()
                if r.get('calibration')}  # None online: no labeling stage.
  if calibrated:
    lines += ['', '| task | calibration split: precision, recall at the '
              'threshold | per-class thresholds (precision >= target) | '
              'applied |', '|---|---|---|---|']
  for task, cal in calibrated.items():
    chosen = ' '.join(f'{c}:{t:g}' for c, t in sorted(
        cal['class_thresholds'].items(), key=lambda kv: int(kv[0])))
    figures = ', '.join('n/a' if v is None else f'{v:.2f}'
                        for v in (cal['precision'], cal['recall']))
    lines.append(f"| {task} | {figures} at {cal['threshold']:g} | "
                 f"{chosen} | {cal['class_thresholds_applied']} |")
  lines += ['', '| stage | seconds |', '|---|---|']
  if 'data' in results['wall_time_s']:
    lines.append(f"| data | {results['wall_time_s']['data']:.0f} |")
  if results.get('teachers_from'):
    lines.append(f"| data, teachers | from {results['teachers_from']} |")
  for task, r in results['tasks'].items():
    for stage, s in r['wall_time_s'].items():
      lines.append(f'| {task}/{stage} | {s:.0f} |')
  lines.append(f"| total | {results['wall_time_s']['total']:.0f} |")
  return '\n'.join(lines)


def plot(results: dict, path: str):
  """Grouped bars: teacher vs student for each task's metrics."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  labels, teacher, student = [], [], []
  for task, r in results['tasks'].items():
    for m in r['teacher']:
      labels.append(f'{task}\n{m}')
      teacher.append(r['teacher'][m])
      student.append(r['student'][m])
  xs = range(len(labels))
  fig, ax = plt.subplots(figsize=(1.8 * len(labels) + 2, 3.5))
  ax.bar([x - 0.2 for x in xs], teacher, 0.4, label='teacher (supervised)')
  ax.bar([x + 0.2 for x in xs], student, 0.4, label='student (self-trained)')
  ax.set_xticks(list(xs))
  ax.set_xticklabels(labels)
  ax.set_ylim(0, 1)
  ax.set_title(f"digits validation, seed {results['seed']}"
               + (' (--quick)' if results['quick'] else ''))
  ax.legend(loc='upper left', fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def compute_note(r: dict) -> str:
  """Images per step of both models, and whether the comparison is at
  equal compute (same images per step and steps)."""
  ips, labeled = r['images_per_step'], r['labeled_images_per_step']
  equal = (ips['teacher'] == ips['student'] and
           r['steps']['teacher'] == r['steps']['student'])
  return (f"images per step: teacher {ips['teacher']} (labeled), student "
          f"{ips['student']} ({labeled['student']} labeled + "
          f"{ips['student'] - labeled['student']} pseudo-labeled): "
          + ('equal compute' if equal else
             'NOT an equal-compute comparison; student - teacher is not a '
             'self-training gain'))


def over_seeds(runs: Dict[int, dict]) -> dict:
  """Per task and metric: each seed's teacher and student, their means and
  the paired difference student - teacher, with 95% intervals."""
  seeds = sorted(runs)
  first = runs[seeds[0]]['tasks']
  tasks = {}
  for task, r in first.items():
    tasks[task] = {'images_per_step': r.get('images_per_step'),
                   'labeled_images_per_step': r.get('labeled_images_per_step'),
                   'steps': r['steps'], 'metrics': {}}
    for metric in r['teacher']:
      teacher = [runs[s]['tasks'][task]['teacher'][metric] for s in seeds]
      student = [runs[s]['tasks'][task]['student'][metric] for s in seeds]
      tasks[task]['metrics'][metric] = {
          'teacher': teacher, 'student': student,
          'teacher_mean': intervals.mean_interval(teacher).as_dict(),
          'student_mean': intervals.mean_interval(student).as_dict(),
          'student_minus_teacher': intervals.paired_difference(
              student, teacher).as_dict()}
    if all(runs[s]['tasks'][task].get('baselines') and
           runs[s]['tasks'][task].get('student_test') for s in seeds):
      tasks[task]['test'] = _test_over_seeds(
          [runs[s]['tasks'][task] for s in seeds], list(r['teacher']))
  return {'seeds': seeds, 'tasks': tasks}


def _test_over_seeds(runs: List[dict], metrics: List[str]) -> dict:
  """The point's baseline: the candidate whose mean validation (first
  metric) over seeds is highest, one choice for every seed; then per
  metric the student against it on test, paired by seed."""
  names = list(runs[0]['baselines'])
  validation = {n: intervals.mean_interval(
      [r['baselines'][n]['validation'][metrics[0]] for r in runs]).mean
                for n in names}
  best = max(names, key=validation.get)
  out = {'baseline': best, 'candidates_validation_mean': validation,
         'compute': runs[0]['compute'], 'metrics': {}}
  for m in metrics:
    base = [r['baselines'][best]['test'][m] for r in runs]
    student = [r['student_test'][m] for r in runs]
    out['metrics'][m] = {
        'baseline': base, 'student': student,
        'baseline_mean': intervals.mean_interval(base).as_dict(),
        'student_mean': intervals.mean_interval(student).as_dict(),
        'student_minus_baseline': intervals.paired_difference(
            student, base).as_dict()}
  return out


def seeds_table(summary: dict) -> str:
  """The table over seeds, with what each interval lets us say."""
  seeds = summary['seeds']
  lines = [f"Over seeds {seeds}: mean [95% interval, Student's t]; a gain is "
           'claimed only where its interval excludes 0.', '']
  tested = {t: v['test'] for t, v in summary['tasks'].items()
            if v.get('test')}
  if tested:
    lines += ['On test (nothing chosen on it), against the supervised '
              'candidate best on validation:', '',
              '| task | metric | baseline | student | student - baseline |',
              '|---|---|---|---|---|']
    for task, t in tested.items():
      for metric, m in t['metrics'].items():
        lines.append(f"| {task} | {metric} | "
                     f"{intervals.text(m['baseline_mean'])} ({t['baseline']})"
                     f" | {intervals.text(m['student_mean'])} | "
                     f"{intervals.text(m['student_minus_baseline'], True)} |")
    for task, t in tested.items():
      lines.append(f'{task}: ' + compute_text(t['compute'], t['baseline']) +
                   '; validation means: ' + ', '.join(
                       f'{n} {v:.3f}' for n, v in
                       t['candidates_validation_mean'].items()))
    lines += ['', 'On validation (where the choices were made):', '']
  lines += [
           '| task | metric | ' + ' | '.join(f'seed {s}' for s in seeds) +
           ' | teacher | student | student - teacher |',
           '|---|---|' + '---|' * (len(seeds) + 3)]
  for task, t in summary['tasks'].items():
    for metric, m in t['metrics'].items():
      per_seed = ' | '.join(f'{a:.3f} -> {b:.3f}'
                            for a, b in zip(m['teacher'], m['student']))
      lines.append(f"| {task} | {metric} | {per_seed} | "
                   f"{intervals.text(m['teacher_mean'])} | "
                   f"{intervals.text(m['student_mean'])} | "
                   f"{intervals.text(m['student_minus_teacher'], True)} |")
  for task, t in summary['tasks'].items():
    if t.get('images_per_step'):
      lines.append(f'\n{task}: ' + compute_note(t))
  return '\n'.join(lines)

"""The demo's report of a finished run (its results.json dict): the
teacher-vs-student table it prints and the bar plot it saves."""


def table(results: dict) -> str:
  lines = ['| task | metric | teacher | student | student - teacher |',
           '|---|---|---|---|---|']
  for task, r in results['tasks'].items():
    for m in r['teacher']:
      lines.append(f"| {task} | {m} | {r['teacher'][m]:.4f} | "
                   f"{r['student'][m]:.4f} | "
                   f"{r['student_minus_teacher'][m]:+.4f} |")
  for task, r in results['tasks'].items():
    init = {'teacher': "from the teacher's checkpoint",
            'scratch': 'from random weights'}.get(r.get('student_init'), '')
    lines.append(f"\n{task}: teacher {r['steps']['teacher']} steps, student "
                 f"{r['steps']['student']} steps {init}".rstrip())
  lines += ['', '| task | calibration split: precision, recall at the '
            'threshold | per-class thresholds (precision >= target) | '
            'applied |', '|---|---|---|---|']
  for task, r in results['tasks'].items():
    cal = r.get('calibration')
    if cal:
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

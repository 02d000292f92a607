"""A run's results: DIR/results.json, the table printed at the end and the
metric by round (DIR/metric_by_round.png)."""

from typing import List

from official_ext.data import atomic_files

NOT_EQUAL = ('student and teacher differ in images per step or steps: '
             'student - teacher is not a self-training gain (compare with a '
             'labeled-only model at the student\'s images per step and steps)')


def write(path: str, run_file: str, rounds: List[dict]) -> dict:
  """Writes results.json (atomically).

  Args:
    path: the file.
    run_file: the run file's path, recorded.
    rounds: each round's record (round_loop.Rounds.run_round).

  Returns:
    What it wrote.
  """
  results = {'run_file': run_file, 'rounds': rounds}
  atomic_files.write_json(path, results)
  return results


def _equal_compute(r: dict) -> bool:
  teacher = r.get('teacher_model')
  student = r['student_model']
  return bool(teacher) and (
      teacher['images_per_step'] == student['images_per_step'] and
      teacher['train_steps'] == student['train_steps'])


def table(rounds: List[dict]) -> str:
  """The rounds as a Markdown table.

  Args:
    rounds: each round's record.

  Returns:
    One line per round: teacher and student metrics, the student's images
    per step (labeled + pseudo) and steps, pseudo-labeled images.
  """
  metrics = list(rounds[0]['student'])
  head = (['round'] + [f'teacher {m}' for m in metrics] +
          [f'student {m}' for m in metrics] +
          ['student - teacher', 'images/step (labeled)', 'steps',
           'pseudo images'])
  lines = [' | '.join(head), ' | '.join('---' for _ in head)]
  for r in rounds:
    teacher = r.get('teacher') or {}
    first = metrics[0]
    delta = (f"{r['student'][first] - teacher[first]:+.3f}"
             if first in teacher else 'n/a')
    model = r['student_model']
    lines.append(' | '.join(
        [str(r['round'])] +
        [f'{teacher[m]:.3f}' if m in teacher else 'n/a' for m in metrics] +
        [f"{r['student'][m]:.3f}" for m in metrics] +
        [delta, f"{model['images_per_step']} "
                f"({model['labeled_images_per_step']})",
         str(model['train_steps']),
         # Online: labeled in the train step, none written.
         str(r.get('pseudo_labels', {}).get('images_labeled', 'online'))]))
  if rounds[0].get('teacher_model') and not _equal_compute(rounds[0]):
    lines.append(f'\nround 1: {NOT_EQUAL}')
  for r in rounds:
    for warning in r.get('student_warnings', []):
      lines.append(f"\nround {r['round']} student: {warning}")
  return '\n'.join(lines)


def plot(rounds: List[dict], path: str):
  """Plots the first metric by round (round 0: round 1's teacher, when
  known).

  Args:
    rounds: each round's record.
    path: the PNG to write.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  metric = list(rounds[0]['student'])[0]
  xs, ys = [], []
  if metric in (rounds[0].get('teacher') or {}):
    xs.append(0)
    ys.append(rounds[0]['teacher'][metric])
  for r in rounds:
    xs.append(r['round'])
    ys.append(r['student'][metric])
  fig, ax = plt.subplots(figsize=(4.5, 3.2))
  ax.plot(xs, ys, marker='o')
  ax.set_xticks(xs)
  ax.set_xticklabels(['teacher' if x == 0 else f'round {x}' for x in xs])
  ax.set_ylabel(f'validation {metric}')
  ax.set_title('self-training by round')
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)

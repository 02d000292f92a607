"""Self-training on your data, one command: teacher -> pseudo labels ->
student, for N rounds (round r > 1: round r-1's student is the teacher).

  python -m official_ext.tools.self_train --config=RUN.yaml --output_dir=DIR \
      [--rounds=N] [--quick] [--num_workers=K --worker_index=I]

RUN.yaml (official_ext/rounds/run_config.py; examples in configs/runs/)
names the data, the teacher (an experiment to train, or a SavedModel), the
student experiment, the labeling options, the rounds and runtime overrides
passed to every train.py. The whole file is checked before anything runs.

Every stage is a child process a user could run by hand (DIR/commands.txt),
logged to DIR/round_<r>/<stage>.log, TensorBoard in DIR/round_<r>/{teacher,
student}. A rerun with the same file skips finished stages, resumes a
stopped one and redoes a stage whose inputs changed (and those after it).
Writes DIR/results.json ({run_file, rounds: [{round, teacher, student,
student_model: {images_per_step, labeled_images_per_step, train_steps},
pseudo_labels, ...}]}), prints the table and plots DIR/metric_by_round.png.
"""

import os

from absl import app
from absl import flags

from official_ext.rounds import results as results_lib
from official_ext.rounds import round_loop
from official_ext.rounds import run_config
from official_ext.utils import stages

_CONFIG = flags.DEFINE_string('config', None, 'The run file (YAML).',
                              required=True)
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Output folder.',
                                  required=True)
_ROUNDS = flags.DEFINE_integer('rounds', 0, 'Rounds; 0: the run file\'s.')
_NUM_WORKERS = flags.DEFINE_integer(
    'num_workers', 1, 'Machines (or processes) sharing --output_dir: each '
    'labels its slice of the unlabeled data; worker 0 trains and exports.')
_WORKER_INDEX = flags.DEFINE_integer('worker_index', 0, 'This worker, '
                                     'in [0, --num_workers).')
_QUICK = flags.DEFINE_bool(
    'quick', False, 'Every model trains 20 steps: checks the whole loop on '
    'your data in minutes; too short to mean anything.')

QUICK_STEPS = 20
PROGRESS = ('train | step', ' eval | step', 'Worker 0/', '"images_labeled"',
            'Per-class thresholds', 'quality:')


def main(_):
  try:
    run = run_config.load(_CONFIG.value)
  except run_config.RunError as e:
    raise app.UsageError(f'--config={_CONFIG.value}: {e}') from None
  if _ROUNDS.value < 0:
    raise app.UsageError(f'--rounds={_ROUNDS.value}: at least 1 (0: the '
                         'run file\'s)')
  if not 0 <= _WORKER_INDEX.value < _NUM_WORKERS.value:
    raise app.UsageError(f'--worker_index={_WORKER_INDEX.value} must be in '
                         f'[0, --num_workers={_NUM_WORKERS.value}).')
  out = os.path.abspath(_OUTPUT_DIR.value)
  os.makedirs(out, exist_ok=True)
  options = round_loop.Options(
      output_dir=out, rounds=_ROUNDS.value or run.rounds,
      train_steps=QUICK_STEPS if _QUICK.value else None,
      num_workers=_NUM_WORKERS.value, worker_index=_WORKER_INDEX.value)
  runner = stages.Runner(PROGRESS, env={'TF_CPP_MIN_LOG_LEVEL': '2'})
  try:
    rounds = round_loop.Rounds(run, options, runner).run_all()
  except stages.StageFailed as e:
    raise SystemExit(str(e)) from None
  if options.worker_index > 0:
    print(f'worker {options.worker_index}: labeled its slice of '
          f'{len(rounds)} round(s); worker 0 writes the results.')
    return
  path = os.path.join(out, 'results.json')
  results_lib.write(path, os.path.abspath(_CONFIG.value), rounds)
  results_lib.plot(rounds, os.path.join(out, 'metric_by_round.png'))
  print('\n' + results_lib.table(rounds))
  print(f'\nresults: {path}\nplot:    '
        f"{os.path.join(out, 'metric_by_round.png')}\n"
        f'commands: {os.path.join(out, "commands.txt")}\n'
        f'logs:    tensorboard --logdir={out}')


def run():
  app.run(main)


if __name__ == '__main__':
  run()

"""The whole self-training loop on the built-in digits data, with results.

  python -m official_ext.tools.demo --output_dir=runs/demo [--quick] [--seed=0]
  python -m official_ext.tools.demo --output_dir=runs/demo --seeds=0,1,2
  python -m official_ext.tools.demo --output_dir=runs/demo_online --mode=online
  python -m official_ext.tools.demo --output_dir=runs/auto_s0 \
      --teachers_from=runs/demo --class_thresholds=auto

The last form compares pseudo-label options on the same teachers: it reuses
an earlier run's data and exported teachers (read in place, not copied) and
runs only pseudo_label, student and student_export.

Per task, one round of `self_train` (the same as `self_train
--config=configs/runs/digits_<task>.yaml`) beside the other task, the
recipe's 8-per-step supervised model beside its teacher, each model scored
on the test split; every stage recorded (a rerun skips or resumes).
Stages, outputs and the tables: docs/demo.md.
"""

import json
import math
import os
import time

from absl import app
from absl import flags
import tensorflow as tf

from official_ext.configs import recipes as recipe_lib
from official_ext.digits import demo_report
from official_ext.digits import recipes
from official_ext.rounds import round_loop
from official_ext.rounds import run_config
from official_ext.rounds import stage_records
from official_ext.utils import stages
from official_ext.utils import tool_commands

_OUTPUT_DIR = flags.DEFINE_string('output_dir', 'runs/demo', 'Output folder.')
_QUICK = flags.DEFINE_bool('quick', False,
                           'Toy sizes (a few minutes): checks the pipeline, '
                           'too short for the student to win.')
_SEED = flags.DEFINE_integer(
    'seed', 0, 'Seed of the data and of every model (init, augmentation, '
    'data order).')
_SEEDS = flags.DEFINE_list(
    'seeds', [], 'Several seeds: one whole run per seed (OUTPUT/seed_<s>), '
    'then their table with 95% intervals over seeds; replaces --seed.')
_TASKS = flags.DEFINE_list('tasks', ['detection', 'segmentation'],
                           'Which tasks to run.')
_PARALLEL = flags.DEFINE_bool(
    'parallel_tasks', True,
    'Run the tasks\' loops side by side (they share only the data), each '
    'process with a share of the CPUs\' threads; --noparallel_tasks runs '
    'them one after the other with TensorFlow\'s default threads.')
_CLASS_THRESHOLDS = flags.DEFINE_enum(
    'class_thresholds', '', ['', 'auto'],
    'Pseudo-label thresholds: \'\' the student recipe\'s one threshold for '
    'every class; auto: per class, the lowest with precision >= '
    '--target_precision on the calibration split (the per-class thresholds '
    'are reported either way).')
_TARGET_PRECISION = flags.DEFINE_float(
    'target_precision', 0.8, 'For the per-class thresholds (pseudo_label).')
_FROM_TEACHER = flags.DEFINE_list(
    'students_from_teacher', [],
    'Tasks whose student starts from its teacher\'s last training checkpoint '
    '(Model Garden\'s task.init_checkpoint, all modules) instead of random '
    'weights; either way the student trains for its recipe\'s steps.')
_MODE = flags.DEFINE_enum(
    'mode', 'offline', ['offline', 'online'],
    'The students\' teacher: offline, the exported teacher labels the '
    'unlabeled split once (pseudo_label, the paper\'s way); online, a moving '
    'average of the student labels each batch in its train step (the '
    'students\' online recipes; no pseudo_label stage, and the teacher is '
    'trained only to be compared with).')
_TEACHERS_FROM = flags.DEFINE_string(
    'teachers_from', None,
    'Output folder of an earlier, finished demo run with the same --seed and '
    '--quick: its data and exported teachers are used as they are, and only '
    'the pseudo-labels, the student and its export are made here.')

METRICS = round_loop.METRICS
_OVERRIDES = {task: flags.DEFINE_list(
    f'{task}_params_override', [],
    f'KEY=VALUE items (Model Garden\'s --params_override) laid over the '
    f'recipes of the {task} models this run trains, e.g. another backbone; '
    'recorded in their params.yaml and in results.json.')
              for task in METRICS}
PROGRESS = ('train | step', ' eval | step', 'Worker 0/', '"images_labeled"',
            'Writing fingerprint', 'Per-class thresholds', 'quality:')
_RUNNER = stages.Runner(PROGRESS, env={'TF_CPP_MIN_LOG_LEVEL': '2'})


def train_steps(task: str, quick: bool) -> int:
  """Steps of the task's teacher and student: their recipes' common
  `trainer.train_steps` (one checkpoint and evaluation at the end), or 20."""
  if quick:
    return 20
  steps = {recipes.config(name).trainer.train_steps
           for name in recipes.EXPERIMENTS[task]}
  if len(steps) != 1:
    raise ValueError(f'{task}: the teacher and student recipes train for '
                     f'different steps {sorted(steps)}; the demo compares '
                     'them at equal steps')
  return steps.pop()


def baselines(rounds: round_loop.Rounds, task: str, teacher: dict) -> dict:
  """The supervised candidates (recipes.baseline_candidates) beside round
  1, each with its validation and test metrics and images per step; the
  teacher (`teacher`: its metrics and model) is the first and is not
  trained again. The report picks the best on validation."""
  experiment = recipes.EXPERIMENTS[task][0]
  (own, _), *others = recipes.baseline_candidates(task).items()
  out = {own: teacher}
  for name, overrides in others:
    out[name] = rounds.train_supervised(1, name, run_config.ModelConfig(
        experiment=experiment, recipe=f'{experiment}_cpu.yaml',
        config_files=recipes.overlay_files(experiment),
        overrides=overrides))
  return out


def run_task(task: str, data: dict, out: str, steps: int, seed: int,
             teachers_from: str = None, from_teacher: bool = False,
             overrides: tuple = ()) -> dict:
  """One round of `self_train` for one task on the digits data, under
  out/<task>/ (round_1/{teacher,teacher_export,pseudo,student,
  student_export}, stages/, commands.txt): teacher -> export ->
  pseudo-label -> student -> export. With `teachers_from`, that run's
  exported teacher labels and nothing else of it is redone;
  `from_teacher` starts the student from the teacher's last checkpoint;
  `overrides` (params_override items) go to every model trained here."""
  root = os.path.join(out, task)
  teacher_root = os.path.join(teachers_from or out, task, 'round_1')
  online = _MODE.value == 'online'
  run = recipes.run_file(
      task, data,
      # The seed picks every model's init, augmentation and data order (a
      # repeatable run on a CPU: tasks/seeding.py).
      runtime_overrides=[f'task.seed={seed}', *overrides])
  if online:
    run['student']['recipe'] = recipes.ONLINE_RECIPES[task]
  else:
    run['labeling'] = {'class_thresholds': _CLASS_THRESHOLDS.value,
                       'target_precision': _TARGET_PRECISION.value}
  if teachers_from:
    run['teacher'] = {'saved_model': os.path.join(teacher_root,
                                                  'teacher_export')}
  if from_teacher:  # Model Garden restores all modules by default.
    run['student']['overrides'] = [
        f"task.init_checkpoint={os.path.join(teacher_root, 'teacher')}"]
  options = round_loop.Options(output_dir=root, rounds=1, train_steps=steps,
                               name=task)
  rounds = round_loop.Rounds(run_config.from_dict(run), options, _RUNNER)
  result, = rounds.run_all()
  dirs = {k: os.path.join(root, 'round_1', k) for k in (
      'teacher', 'student', 'student_export') + (
          () if online else ('teacher_export', 'pseudo'))}
  if teachers_from:
    for k in ('teacher', 'teacher_export'):
      dirs[k] = os.path.join(teacher_root, k)
  models = {'teacher': result.get('teacher_model') or
            recipe_lib.model_summary(dirs['teacher'], student=False),
            'student': result['student_model']}
  summary = {'mode': _MODE.value,
             'steps': {k: m['train_steps'] for k, m in models.items()},
             **{key: {k: m[key] for k, m in models.items()} for key in (
                 'images_per_step', 'labeled_images_per_step')},
             'student_init': 'teacher' if from_teacher else 'scratch',
             'wall_time_s': result['wall_time_s'], 'dirs': dirs}
  if not online:
    with open(result['pseudo_report']) as f:
      report = json.load(f)
    summary['pseudo_labels'] = {k: report.get(k) for k in (
        'images_labeled', 'score_threshold', 'boxes_per_image_mean',
        'ignored_fraction', 'teacher_images_per_second')
                                if report.get(k) is not None}
    summary['calibration'] = demo_report.calibration_summary(
        report, report['score_threshold'])
  # The round's result holds both models' last evaluations, except a reused
  # teacher's (trained by the earlier run): that one is read from its folder.
  summary['student'] = result['student']
  if result.get('student_warnings'):
    summary['student_warnings'] = result['student_warnings']
  summary['teacher'] = result.get('teacher') or tool_commands.last_metrics(
      dirs['teacher'], METRICS[task])
  summary['student_minus_teacher'] = {
      m: summary['student'][m] - summary['teacher'][m] for m in METRICS[task]}
  if 'student_test' in result:
    summary['student_test'] = result['student_test']
  if not teachers_from:  # The candidates train beside this run's teacher.
    summary['baselines'] = baselines(rounds, task, {
        'validation': result['teacher'], 'test': result.get('teacher_test'),
        'model': result['teacher_model']})
    summary['baseline'] = demo_report.best_on_validation(
        summary['baselines'], METRICS[task][0])
    summary['compute'] = demo_report.compute(
        models, {n: b['model'] for n, b in summary['baselines'].items()},
        summary.get('pseudo_labels', {}).get('images_labeled', 0))
  return summary


def earlier_run(path: str, results: dict, tasks: list) -> str:
  """The absolute path of a finished demo run whose data and teachers this
  run can reuse: same seed, --quick and sizes, every task's teacher exported;
  a UsageError naming what differs otherwise."""
  path = os.path.abspath(path)
  if path == os.path.abspath(_OUTPUT_DIR.value):
    raise app.UsageError('--teachers_from: must not be --output_dir (the '
                         'earlier run\'s students would be overwritten)')
  try:
    with open(os.path.join(path, 'results.json')) as f:
      earlier = json.load(f)
  except (OSError, ValueError) as e:
    raise app.UsageError(f'--teachers_from={path}: not a finished demo run '
                         f'({e})') from None
  for key in ('seed', 'quick', 'sizes'):
    if earlier.get(key) != results[key]:
      raise app.UsageError(
          f'--teachers_from={path}: its {key} is {earlier.get(key)!r}, this '
          f'run\'s {results[key]!r}')
  for task in tasks:
    saved_model = os.path.join(path, task, 'round_1', 'teacher_export',
                               'saved_model',
                               'saved_model.pb')
    if task not in earlier.get('tasks', {}) or not os.path.exists(saved_model):
      raise app.UsageError(f'--teachers_from={path}: no exported {task} '
                           f'teacher ({saved_model})')
    teacher_dir = os.path.join(path, task, 'round_1', 'teacher')
    if (task in _FROM_TEACHER.value and
        not tf.train.latest_checkpoint(teacher_dir)):
      raise app.UsageError(
          f'--teachers_from={path}: no {task} teacher checkpoint in '
          f'{teacher_dir} for --students_from_teacher')
  return path


def main(argv):
  try:
    demo(argv)
  except stages.StageFailed as e:
    raise SystemExit(str(e)) from None


def demo(_):
  for flag in (_TASKS, _FROM_TEACHER):
    for task in flag.value:
      if task not in METRICS:
        raise app.UsageError(
            f'--{flag.name}: {task!r} is not one of {sorted(METRICS)}')
  if _MODE.value == 'online' and _CLASS_THRESHOLDS.value:
    raise app.UsageError('--class_thresholds: --mode=online has no labeling '
                         'stage (the moving-average teacher labels in the '
                         'train step with the recipe\'s threshold)')
  out = os.path.abspath(_OUTPUT_DIR.value)
  if not _SEEDS.value:
    demo_run(_SEED.value, out)
    return
  try:
    seeds = [int(s) for s in _SEEDS.value]
  except ValueError:
    raise app.UsageError(f'--seeds={",".join(_SEEDS.value)}: integers, '
                         'e.g. --seeds=0,1,2') from None
  if len(set(seeds)) != len(seeds) or _TEACHERS_FROM.value:
    raise app.UsageError('--seeds: distinct seeds, without --teachers_from '
                         f'(got {seeds})')
  runs = {seed: demo_run(seed, os.path.join(out, f'seed_{seed}'))
          for seed in seeds}
  summary = demo_report.over_seeds(runs)
  with open(os.path.join(out, 'seeds.json'), 'w') as f:
    json.dump(summary, f, indent=2)
  print('\n' + demo_report.seeds_table(summary))
  print(f"\nover seeds: {os.path.join(out, 'seeds.json')}")


def demo_run(seed: int, out: str) -> dict:
  """One whole demo run with `seed` into `out`; its results."""
  os.makedirs(out, exist_ok=True)
  size = recipes.data_sizes(_QUICK.value)
  start = time.time()
  results = {'quick': _QUICK.value, 'seed': seed, 'sizes': size,
             'mode': _MODE.value,
             'class_thresholds': _CLASS_THRESHOLDS.value or 'one threshold',
             'params_override': {t: f.value for t, f in _OVERRIDES.items()
                                 if f.value},
             'tasks': {}, 'wall_time_s': {}}
  if _TEACHERS_FROM.value:
    earlier = earlier_run(_TEACHERS_FROM.value, results, _TASKS.value)
    results['teachers_from'] = earlier
    data_dir = os.path.join(earlier, 'data')
  else:
    data_dir = os.path.join(out, 'data')
    argv = ['-m', 'official_ext.tools.make_digits_dataset',
            f'--output_dir={data_dir}', f'--seed={seed}',
            *[f'--{k}={v}' for k, v in size.items()]]
    # Like every stage after it: skipped when made earlier by this command.
    record = stage_records.StageRecords(out).run(
        'data', {'command': argv}, [data_dir],
        lambda _: _RUNNER.run('data', argv, os.path.join(out, 'data.log')))
    results['wall_time_s']['data'] = (0.0 if record['skipped']
                                      else record['seconds'])
  data = {split: os.path.join(data_dir, f'{split}-*.tfrecord')
          for split in ('train', 'unlabeled', 'val', 'calibration', 'test')}
  for split in ('val', 'test'):
    data[f'{split}_annotations'] = os.path.join(data_dir,
                                                f'annotations_{split}.json')
  if not tf.io.gfile.glob(data['test']):  # An earlier run's data, no test.
    del data['test'], data['test_annotations']
  lanes = _TASKS.value if _PARALLEL.value else _TASKS.value[:1]
  threads = stages.lane_threads(len(lanes))
  if threads:
    print(f'[demo] {" and ".join(lanes)} side by side, each process with '
          f'{threads}', flush=True)
  _RUNNER.env.update(threads)
  results['parallel_tasks'] = {'lanes': lanes, 'threads': threads}

  def lane(task):
    return lambda: run_task(task, data, out, train_steps(task, _QUICK.value),
                            seed, results.get('teachers_from'),
                            task in _FROM_TEACHER.value,
                            results['params_override'].get(task, ()))

  if _PARALLEL.value:
    results['tasks'] = stages.run_lanes(
        _RUNNER, {task: lane(task) for task in _TASKS.value})
  else:
    for task in _TASKS.value:
      results['tasks'][task] = lane(task)()
  results['wall_time_s']['total'] = time.time() - start
  bad = [(t, m) for t, r in results['tasks'].items()
         for model in ('teacher', 'student') for m, v in r[model].items()
         if not math.isfinite(v)]
  with open(os.path.join(out, 'results.json'), 'w') as f:
    json.dump(results, f, indent=2)
  demo_report.plot(results, os.path.join(out, 'teacher_vs_student.png'))
  print('\n' + demo_report.table(results))
  print(f"\nresults: {os.path.join(out, 'results.json')}\n"
        f"plot:    {os.path.join(out, 'teacher_vs_student.png')}\n"
        f'logs:    tensorboard --logdir={out}')
  if bad:
    raise SystemExit(f'non-finite metrics: {bad}')
  return results


def run():
  app.run(main)


if __name__ == '__main__':
  run()

"""The whole loop on the built-in digits data set, with a results table.

  python tools/demo.py --output_dir=runs/demo [--quick] [--seed=0]

Stages (each a real command a user runs, output streamed):
  data      tools/make_digits_dataset.py
  teacher   train.py --experiment=supervised_digits[_seg] (train_and_eval)
  export    tools/export_saved_model.py
for detection, then segmentation. Writes OUTPUT/results.json.
"""

import json
import os
import subprocess
import sys
import time

from absl import app
from absl import flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from official_ext.utils import summaries  # pylint: disable=g-import-not-at-top

_OUTPUT_DIR = flags.DEFINE_string('output_dir', 'runs/demo', 'Output folder.')
_QUICK = flags.DEFINE_bool('quick', False, 'Toy sizes: a few minutes.')
_SEED = flags.DEFINE_integer('seed', 0, 'Data seed.')
_TASKS = flags.DEFINE_list('tasks', ['detection', 'segmentation'],
                           'Which tasks to run.')

TASKS = {
    'detection': dict(teacher='supervised_digits', metrics=('AP', 'AP50'),
                      recipe='configs/experiments/supervised_digits_cpu.yaml'),
    'segmentation': dict(
        teacher='supervised_digits_seg', metrics=('mean_iou',),
        recipe='configs/experiments/supervised_digits_seg_cpu.yaml'),
}


def _sizes(quick):
  if quick:
    return dict(num_train=32, num_unlabeled=32, num_val=16, steps=40)
  return dict(num_train=200, num_unlabeled=1000, num_val=200, steps=1500)


def _run(stage, args, log_path):
  """Runs a command, streaming its progress lines; raises on failure."""
  print(f'[{stage}] {" ".join(args)}', flush=True)
  env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2')
  start = time.time()
  with open(log_path, 'w') as log:
    proc = subprocess.Popen([sys.executable] + args, cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    for line in proc.stdout:
      log.write(line)
      if (line.startswith(('train | step', ' eval | step')) or
          'Writing fingerprint' in line):
        print(f'  [{stage}] {line.strip()[:120]}', flush=True)
    proc.wait()
  if proc.returncode:
    raise SystemExit(f'[{stage}] failed (exit {proc.returncode}); '
                     f'see {log_path}')
  return time.time() - start


def main(_):
  out = os.path.abspath(_OUTPUT_DIR.value)
  os.makedirs(out, exist_ok=True)
  sizes = _sizes(_QUICK.value)
  results = {'quick': _QUICK.value, 'seed': _SEED.value, 'sizes': sizes,
             'tasks': {}, 'wall_time_s': {}}
  data_dir = os.path.join(out, 'data')
  results['wall_time_s']['data'] = _run('data', [
      'tools/make_digits_dataset.py', f'--output_dir={data_dir}',
      f'--seed={_SEED.value}', f"--num_train={sizes['num_train']}",
      f"--num_unlabeled={sizes['num_unlabeled']}",
      f"--num_val={sizes['num_val']}"], os.path.join(out, 'data.log'))
  for task in _TASKS.value:
    spec = TASKS[task]
    steps = sizes['steps']
    model_dir = os.path.join(out, task, 'teacher')
    overrides = ','.join([
        f'task.train_data.input_path={data_dir}/train-*',
        f'task.validation_data.input_path={data_dir}/val-*',
        f'trainer.train_steps={steps}',
        f'trainer.validation_interval={steps}',
        f'trainer.checkpoint_interval={steps}',
        f'trainer.optimizer_config.learning_rate.cosine.decay_steps={steps}',
        f'trainer.steps_per_loop={min(50, steps)}',
        f'trainer.summary_interval={min(50, steps)}'])
    timings = results['wall_time_s'].setdefault(task, {})
    timings['teacher_train'] = _run(f'{task}/teacher', [
        'train.py', f"--experiment={spec['teacher']}",
        '--mode=train_and_eval', f'--model_dir={model_dir}',
        f"--config_file={spec['recipe']}", f'--params_override={overrides}'],
        os.path.join(out, f'{task}_teacher.log'))
    timings['teacher_export'] = _run(f'{task}/export', [
        'tools/export_saved_model.py', f"--experiment={spec['teacher']}",
        f'--config_file={model_dir}/params.yaml',
        f'--checkpoint_path={model_dir}',
        f'--export_dir={os.path.join(out, task, "teacher_export")}'],
        os.path.join(out, f'{task}_export.log'))
    metrics = {m: summaries.last_value(os.path.join(model_dir, 'validation'),
                                       m) for m in spec['metrics']}
    results['tasks'][task] = {'teacher': metrics}
  with open(os.path.join(out, 'results.json'), 'w') as f:
    json.dump(results, f, indent=2)
  print('\n| task | model | ' + ' | '.join(['metric', 'value']) + ' |')
  print('|---|---|---|---|')
  for task, r in results['tasks'].items():
    for model, metrics in r.items():
      for k, v in metrics.items():
        print(f'| {task} | {model} | {k} | {v:.4f} |')
  print(f"\nresults: {os.path.join(out, 'results.json')}")


if __name__ == '__main__':
  app.run(main)

"""Whole-tool timings for tools/benchmark.py --only=export|beam.

Each figure times our tools as a user runs them, every run a fresh process
(start-up included), alternating the two sides, best of `repeats`:

  export_figures  export_saved_model (our default) vs with Keras layer
                  traces, and vs with custom gradients; tf.saved_model.load
                  of the exports.
  beam_figures    pseudo_label on Beam's DirectRunner (2 worker processes;
                  2 threads in one process) and on a Dask cluster of 2
                  single-threaded worker processes on this machine
                  (DaskRunner) vs the single-machine tool, images/s of the
                  whole run; for Dask also the cluster's start and what a
                  cold run costs over a warm one (the workers' imports and
                  teacher load, once per worker process).
"""

import os
import subprocess
import sys
import time
from typing import List

from official_ext.digits import recipes
from official_ext.labeling import labeling_report
from official_ext.testing import dask_cluster

# Each Beam arm: its name -> the pipeline options it adds.
BEAM_ARMS = {
    'beam': ('--runner=DirectRunner', '--direct_num_workers=2',
             '--direct_running_mode=multi_processing'),
    'beam_threads': ('--runner=DirectRunner', '--direct_num_workers=2',
                     '--direct_running_mode=multi_threading'),
}

# (key, label, target, format), as benchmark.TABLE.
TABLES = {
    'export': (
        ('export_vs_keras_traces', 'export_vs_keras_traces',
         'lower is better', '.3f'),
        ('export_seconds', '  export s (default)', '', '.1f'),
        ('export_keras_traces_seconds', '  export s (--save_keras_traces)',
         '', '.1f'),
        ('load_vs_keras_traces', 'load_vs_keras_traces', 'lower is better',
         '.3f'),
        ('load_seconds', '  load s (default)', '', '.2f'),
        ('load_keras_traces_seconds', '  load s (--save_keras_traces)', '',
         '.2f'),
        ('export_vs_custom_gradients', 'export_vs_custom_gradients',
         'lower is better', '.3f'),
        ('export_custom_gradients_seconds',
         '  export s (--save_custom_gradients)', '', '.1f'),
        ('load_vs_custom_gradients', 'load_vs_custom_gradients',
         'lower is better', '.3f'),
        ('load_custom_gradients_seconds',
         '  load s (--save_custom_gradients)', '', '.2f'),
    ),
    'beam': (
        ('beam_vs_single_machine', 'beam_vs_single_machine', '>= 0.8',
         '.3f'),
        ('beam_images_per_second', '  Beam DirectRunner 2 processes img/s',
         '', '.1f'),
        ('beam_threads_vs_single_machine', 'beam_threads_vs_single_machine',
         '', '.3f'),
        ('beam_threads_images_per_second',
         '  Beam DirectRunner 2 threads img/s', '', '.1f'),
        ('dask_vs_single_machine', 'dask_vs_single_machine', '', '.3f'),
        ('dask_images_per_second',
         '  Dask 2 workers img/s (warm)', '', '.1f'),
        ('dask_cold_images_per_second',
         '  Dask img/s, first run (cold)', '', '.1f'),
        ('dask_worker_start_seconds',
         '  Dask worker start (imports, teacher) s', '', '.1f'),
        ('dask_cluster_start_seconds',
         '  Dask scheduler + 2 workers up s', '', '.1f'),
        ('single_machine_images_per_second', '  single-machine images/s', '',
         '.1f'),
    ),
}


def run_tool(tool: str, args: List[str]) -> float:
  """Runs `python -m official_ext.tools.<tool> ARGS`; its seconds."""
  start = time.perf_counter()
  proc = subprocess.run(
      [sys.executable, '-m', f'official_ext.tools.{tool}'] + args,
      capture_output=True, text=True)
  if proc.returncode:
    raise RuntimeError(f'{tool} failed:\n{proc.stderr[-4000:]}')
  return time.perf_counter() - start


def export_args(task: str, model_dir: str, export_dir: str) -> List[str]:
  """export_saved_model's flags for a digits model trained in model_dir."""
  experiment = recipes.EXPERIMENTS[task][0]
  return [f'--experiment={experiment}',
          f'--config_file={model_dir}/params.yaml',
          f'--checkpoint_path={model_dir}', f'--export_dir={export_dir}']


def _load_seconds(export_dir: str) -> float:
  """Seconds of tf.saved_model.load in a fresh process (import excluded)."""
  code = ('import sys, time, tensorflow as tf\n'
          't = time.perf_counter()\n'
          'tf.saved_model.load(sys.argv[1])\n'
          'print(time.perf_counter() - t)\n')
  proc = subprocess.run([sys.executable, '-c', code,
                         os.path.join(export_dir, 'saved_model')],
                        capture_output=True, text=True, check=True)
  return float(proc.stdout.strip().splitlines()[-1])


# Each export arm: its name -> the export_saved_model flags it adds.
EXPORT_ARMS = {'default': [], 'keras_traces': ['--save_keras_traces'],
               'custom_gradients': ['--save_custom_gradients']}


def export_figures(task: str, model_dir: str, work_dir: str,
                   repeats: int) -> dict:
  """export_vs_keras_traces, export_vs_custom_gradients and their load
  figures: our default over each of Model Garden's extras (lower is
  better)."""
  runs = {name: [] for name in EXPORT_ARMS}
  loads = {name: [] for name in EXPORT_ARMS}
  for r in range(repeats):
    for name, extra in EXPORT_ARMS.items():
      export_dir = os.path.join(work_dir, f'export_{name}{r}')
      runs[name].append(run_tool('export_saved_model', export_args(
          task, model_dir, export_dir) + extra))
      loads[name].append(_load_seconds(export_dir))
  out = {'export_seconds': min(runs['default']),
         'load_seconds': min(loads['default']),
         'export_runs': runs, 'load_runs': loads}
  for name in EXPORT_ARMS:
    if name == 'default':
      continue
    out.update({
        f'export_vs_{name}': min(runs['default']) / min(runs[name]),
        f'export_{name}_seconds': min(runs[name]),
        f'load_vs_{name}': min(loads['default']) / min(loads[name]),
        f'load_{name}_seconds': min(loads[name])})
  return out


def beam_figures(task: str, label_args: List[str], work_dir: str,
                 repeats: int) -> dict:
  """beam_vs_single_machine; `label_args`: pseudo_label's flags but the
  output prefix."""
  arms = {'single_machine': (), **BEAM_ARMS}
  runs = {name: [] for name in arms}
  images = None
  for r in range(repeats):
    for name, extra in arms.items():
      prefix = os.path.join(work_dir, f'{name}{r}', 'pseudo')
      seconds = run_tool('pseudo_label', [f'--task={task}',
                                          f'--output_prefix={prefix}',
                                          *label_args, *extra])
      images = labeling_report.read_report(prefix)['images_labeled']
      runs[name].append(images / seconds)
  out = {'single_machine_images_per_second': max(runs['single_machine']),
         'single_machine_runs': runs['single_machine'], 'images': images}
  for name, options in BEAM_ARMS.items():
    out.update({f'{name}_vs_single_machine':
                    max(runs[name]) / max(runs['single_machine']),
                f'{name}_images_per_second': max(runs[name]),
                f'{name}_runs': runs[name],
                f'{name}_options': ' '.join(options)})
  out.update(dask_figures(task, label_args, work_dir, repeats))
  out['dask_vs_single_machine'] = (out['dask_images_per_second'] /
                                   out['single_machine_images_per_second'])
  return out


def dask_figures(task: str, label_args: List[str], work_dir: str,
                 repeats: int) -> dict:
  """pseudo_label --runner=DaskRunner on a cluster of 2 single-threaded
  worker processes started here: the first run (cold workers: TensorFlow
  imports, teacher load), then `repeats` warm runs (each worker keeps its
  teacher); the cold run's extra seconds are the workers' start-up."""
  start = time.perf_counter()
  with dask_cluster.local_cluster(os.path.join(work_dir, 'dask')) as (
      address, _):
    up = time.perf_counter() - start
    seconds = []
    for r in range(repeats + 1):
      prefix = os.path.join(work_dir, f'dask{r}', 'pseudo')
      seconds.append(run_tool('pseudo_label', [
          f'--task={task}', f'--output_prefix={prefix}', *label_args,
          '--runner=DaskRunner', f'--dask_client_address={address}']))
      images = labeling_report.read_report(prefix)['images_labeled']
  warm = min(seconds[1:])
  return {'dask_cluster_start_seconds': up,
          'dask_cold_images_per_second': images / seconds[0],
          'dask_images_per_second': images / warm,
          'dask_worker_start_seconds': seconds[0] - warm,
          'dask_runs_seconds': seconds}

"""Benchmarks as ratios: what our code costs on top of the model it runs.

  python tools/benchmark.py [--quick] [--task=detection|segmentation]
      [--teacher=EXPORT --input_pattern=GLOB]
      [--only=export|beam|labeling|online]

Each comparison runs side by side in this one process (alternating, best of
--repeats), then a table is printed and, as the last line, one JSON object.

Without --teacher, a digits teacher (supervised_digits or
supervised_digits_seg) is trained briefly and exported (Model Garden's
exporter, our default export options) into --work_dir, on generated digits
data. The train-step figures use the digits experiments with their CPU
recipes (configs/experiments/*_digits*_cpu.yaml).

Figures:
  pseudo_label_vs_raw_inference: images/s of the pseudo-labeling pipeline
    (read, decode, resize, batch, teacher, threshold, encode, write) over
    images/s of the bare SavedModel on pre-decoded, pre-batched tensors.
    Target >= 0.9.
  selftrain_vs_supervised_step: seconds of the self-training train step
    (human + pseudo batch, one forward pass, split losses, loss
    normalization) over seconds of Model Garden's plain task step at the same
    total batch and model, both on a fixed pre-fetched batch.
    Target <= 1.05.
  input_pipeline_vs_step: examples/s the mixed (human + pseudo) training
    input delivers alone over examples/s the self-training step consumes.
    Target >= 2. With task.seed (the digits recipes) the input runs its
    parse functions on one thread (tasks/seeding.py);
    seeded_vs_unseeded_input: its examples/s over the same input without
    the seed (no target; what repeatable runs cost in input speed).
  labeler_only_img_per_s: images/s of the same pipeline with a teacher that
    costs nothing (a SavedModel of the right outputs, testing/fake_teacher):
    the labeler's own ceiling; labeler_only_vs_raw_inference: that over the
    real teacher's raw images/s, target >= 5 (a 5x faster accelerator
    teacher is still not throttled); labeler_only_core_scaling: whole
    pseudo_label runs pinned to 2 CPUs over 1 CPU, target >= 1.6. The free
    teacher takes the real one's input size and class count (the labeler's
    work grows with both); labeler_cpu_seconds_per_image: one image on one
    pinned core, and from it host_cores_per_100_teacher_img_per_s: the cores
    that keep an accelerator teacher serving 100 images/s fed.
  teacher_vs_train_forward: teacher SavedModel images/s over the same
    architecture's training-mode forward pass images/s, same batch.
    Target >= 0.5.
  export_vs_keras_traces (--only=export, the benchmark's own teacher):
    seconds of `export_saved_model` (our default: no Keras layer traces)
    over seconds with --save_keras_traces (Model Garden's artifact), each a
    fresh process as a user runs it; load_vs_keras_traces: seconds of
    tf.saved_model.load of the two exports, in fresh processes. Lower is
    better. export_vs_custom_gradients, load_vs_custom_gradients: the same
    against --save_custom_gradients (TensorFlow's default, which traces a
    gradient for every swish activation).
  online_vs_offline_step (--only=online): seconds of the online
    self-training step (task.self_training.mode: online: the EMA teacher's
    forward pass, pseudo labels made in the step, the average's update) over
    the offline step, same student, batches and recipe, each on a fixed
    pre-fetched batch. Target <= 1.6.
  --only=labeling: the pseudo_label and labeler_only figures alone (no
    training-side figures), e.g. with --teacher and --input_pattern.
  beam_vs_single_machine (--only=beam): images/s of `pseudo_label
    --runner=DirectRunner --direct_num_workers=2
    --direct_running_mode=multi_processing` over images/s of the
    single-machine tool, both whole runs of the tool (start-up, teacher
    loading, labeling, report) on the same input and --num_shards.
    Target >= 0.8. beam_threads_vs_single_machine: the same with
    --direct_running_mode=multi_threading (one process, the launcher's
    teacher shared by the 2 threads). dask_vs_single_machine: the same
    with --runner=DaskRunner on a Dask cluster of 2 single-threaded worker
    processes this benchmark starts (best warm run: each worker keeps its
    teacher), beside the first, cold run, the workers' start-up (its extra
    seconds: imports, teacher load) and the cluster's start. No target on
    2 cores (the single-machine tool already fills both); the figures are
    for planning a real cluster.
"""

import json
import os
import platform
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from official_ext.benchmarks import labeling_benchmark
from official_ext.benchmarks import step_benchmark
from official_ext.benchmarks import tool_benchmark
from official_ext.configs import recipes as recipe_lib
from official_ext.digits import canvases
from official_ext.digits import recipes

_QUICK = flags.DEFINE_bool('quick', False, 'Small sizes: a few minutes.')
_TASK = flags.DEFINE_enum('task', 'detection', ['detection', 'segmentation'],
                          'Which task to measure.')
_TEACHER = flags.DEFINE_string('teacher', None, 'Teacher SavedModel of --task; '
                               'default: train a small digits one.')
_INPUT = flags.DEFINE_string('input_pattern', None, 'Unlabeled TFRecords; '
                             'default: generated digits canvases.')
_WORK_DIR = flags.DEFINE_string('work_dir', None, 'Scratch dir (default: a '
                                'temporary one).')
_BATCH = flags.DEFINE_integer('batch_size', 8, 'Teacher batch size.')
_THRESHOLD = flags.DEFINE_float('score_threshold', 0.3, 'Pseudo-label '
                                'score threshold.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Alternating runs per figure; '
                                'the best of each is kept.')
_HUMAN_BATCH = flags.DEFINE_integer('human_batch_size', 8, 'Human images per '
                                    'self-training step.')
_PSEUDO_BATCH = flags.DEFINE_integer('pseudo_batch_size', 8, 'Pseudo images '
                                     'per self-training step.')
_ONLY = flags.DEFINE_enum('only', None,
                          ['export', 'beam', 'labeling', 'online'],
                          'Measure only this figure (export: needs the '
                          'benchmark\'s own teacher, so no --teacher; '
                          'labeling: the pseudo_label and labeler_only '
                          'figures).')
_NUM_SHARDS = flags.DEFINE_integer('num_shards', 0, 'Output shards of the '
                                   'beam figure; 0: one per input file.')


def _data(work_dir: str, quick: bool) -> dict:
  return canvases.make_dataset(
      os.path.join(work_dir, 'data'), seed=0,
      num_train=64 if quick else 200,
      num_unlabeled=160 if quick else 1000, num_val=16, num_shards=2)


def prepare_train_data(work_dir: str, quick: bool) -> str:
  """The labeled train pattern alone (no teacher)."""
  return _data(work_dir, quick)['train']


def prepare(task: str, work_dir: str, quick: bool):
  """(teacher export dir, unlabeled pattern, labeled train pattern)."""
  data = _data(work_dir, quick)
  pattern = _INPUT.value or data['unlabeled']
  teacher = _TEACHER.value
  experiment = recipes.EXPERIMENTS[task][0]
  if not teacher:
    model_dir = os.path.join(work_dir, 'teacher')
    steps = 30 if quick else 300
    logging.info('Training a %d-step %s teacher in %s.', steps, experiment,
                 model_dir)
    tool_benchmark.run_tool('train', [
        f'--experiment={experiment}', '--mode=train',
        # The demo's model (its segmenter: ResNet-18 x0.25).
        *[f'--config_file={f}' for f in recipes.overlay_files(experiment)],
        f'--model_dir={model_dir}', '--params_override=' + ','.join(
            [f"task.train_data.input_path={data['train']}"] +
            recipe_lib.schedule_overrides(steps, interval=steps,
                                          warmup=10))])
    teacher = os.path.join(work_dir, 'teacher_export')
    tool_benchmark.run_tool('export_saved_model', tool_benchmark.export_args(
        task, model_dir, teacher))
  return teacher, pattern, data['train']


def _device() -> str:
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    return tf.config.experimental.get_device_details(gpus[0]).get(
        'device_name', 'GPU')
  return f'CPU ({os.cpu_count()} cores, {platform.processor() or "?"})'


TABLE = (
    # (key, label, target, format)
    ('pseudo_label_vs_raw_inference', 'pseudo_label_vs_raw_inference',
     '>= 0.9', '.3f'),
    ('pseudo_label_images_per_second', '  pseudo_label images/s', '', '.1f'),
    ('raw_inference_images_per_second', '  raw SavedModel images/s', '',
     '.1f'),
    ('labeler_only_img_per_s', 'labeler_only_img_per_s (free teacher)', '',
     '.1f'),
    ('labeler_only_vs_raw_inference', 'labeler_only_vs_raw_inference',
     '>= 5', '.2f'),
    ('labeler_only_core_scaling', 'labeler_only_core_scaling (2 over 1 CPU)',
     '>= 1.6', '.2f'),
    ('selftrain_vs_supervised_step', 'selftrain_vs_supervised_step',
     '<= 1.05', '.3f'),
    ('selftrain_images_per_second', '  self-training step images/s', '',
     '.1f'),
    ('supervised_images_per_second', '  Model Garden step images/s', '',
     '.1f'),
    ('input_pipeline_vs_step', 'input_pipeline_vs_step', '>= 2', '.2f'),
    ('seeded_vs_unseeded_input', 'seeded_vs_unseeded_input', '(cost)', '.2f'),
    ('input_pipeline_images_per_second', '  mixed input images/s', '', '.1f'),
    ('teacher_vs_train_forward', 'teacher_vs_train_forward', '>= 0.5', '.3f'),
    ('teacher_images_per_second', '  teacher SavedModel images/s', '', '.1f'),
    ('train_forward_images_per_second', '  train-mode forward images/s', '',
     '.1f'),
)

LABELING_TABLE = TABLE[:6] + (
    ('labeler_cpu_seconds_per_image', '  labeler CPU seconds per image', '',
     '.3f'),
    ('host_cores_per_100_teacher_img_per_s',
     '  host cores per 100 teacher img/s', '', '.1f'),
)
ONLINE_TABLE = (
    ('online_vs_offline_step', 'online_vs_offline_step', '<= 1.6', '.3f'),
    ('online_step_seconds', '  online step seconds', '', '.3f'),
    ('offline_step_seconds', '  offline step seconds', '', '.3f'),
)


def main(_):
  task = _TASK.value
  work_dir = _WORK_DIR.value or tempfile.mkdtemp(prefix='benchmark-')
  results = {'task': task, 'device': _device(), 'quick': _QUICK.value}
  if _ONLY.value == 'export' and _TEACHER.value:
    raise app.UsageError('--only=export exports the benchmark\'s own '
                         'teacher checkpoint: leave out --teacher.')
  if _ONLY.value == 'online':
    # No teacher: the training data alone.
    train_pattern = prepare_train_data(work_dir, _QUICK.value)
    results.update(step_benchmark.bench_online(
        task, train_pattern, _QUICK.value, _REPEATS.value, _HUMAN_BATCH.value,
        _PSEUDO_BATCH.value))
    print(f"{task} on {results['device']}: train batch "
          f"{results['train_batch']}")
    _print_table(ONLINE_TABLE, results)
    return
  teacher, pattern, train_pattern = prepare(task, work_dir, _QUICK.value)
  if _ONLY.value == 'export':
    results.update(tool_benchmark.export_figures(
        task, os.path.join(work_dir, 'teacher'), work_dir, _REPEATS.value))
  elif _ONLY.value == 'beam':
    results.update(tool_benchmark.beam_figures(task, [
        f'--teacher={teacher}', f'--input_pattern={pattern}',
        f'--score_threshold={_THRESHOLD.value}',
        f'--num_shards={_NUM_SHARDS.value}', f'--batch_size={_BATCH.value}',
        '--no_progress'], work_dir, _REPEATS.value))
    results['num_shards'] = _NUM_SHARDS.value
  if _ONLY.value in tool_benchmark.TABLES:
    print(f"{task} on {results['device']}: whole runs of the tools in fresh "
          'processes, best of each')
    _print_table(tool_benchmark.TABLES[_ONLY.value], results)
    return
  if not _ONLY.value:
    # Training-side figures first: Model Garden's input pipeline does not
    # run under op determinism, which cannot be turned off once on.
    results.update(step_benchmark.bench_training(
        task, train_pattern, _QUICK.value, _REPEATS.value, _HUMAN_BATCH.value,
        _PSEUDO_BATCH.value))
    results.update(step_benchmark.bench_forward(
        task, teacher, pattern, train_pattern, _QUICK.value, _REPEATS.value,
        _BATCH.value))
  # As tools/pseudo_label.py runs (byte-identical reruns).
  tf.config.experimental.enable_op_determinism()
  results.update(labeling_benchmark.bench_pseudo_label(
      task, teacher, pattern, work_dir, _REPEATS.value, _BATCH.value,
      _THRESHOLD.value))
  # The free teacher at the real one's input size and classes: the
  # labeler's work depends on both.
  results.update(labeling_benchmark.bench_labeler_only(
      task, pattern, work_dir, _REPEATS.value, _BATCH.value, _THRESHOLD.value,
      results['raw_inference_images_per_second'],
      size=(results['teacher_input_size'] or [128])[0],
      num_classes=results['teacher_num_classes'] or 11))
  if _ONLY.value:
    print(f"{task} on {results['device']}: teacher batch "
          f"{results['batch_size']} at {results['image_size']}")
    _print_table(LABELING_TABLE, results)
    return
  print(f"{task} on {results['device']}: {results['model']}, teacher batch "
        f"{results['batch_size']} at {results['image_size']}, train batch "
        f"{results['train_batch']} at {results['train_image_size']}")
  _print_table(TABLE, results)


def _print_table(table, results):
  """The figures with their targets, then all results as one JSON line."""
  print(f"{'figure':40s} {'value':>10s}  target")
  for key, label, target, fmt in table:
    value = results.get(key)
    shown = 'n/a' if value is None else format(value, fmt)
    print(f'{label:40s} {shown:>10s}  {target}')
  print(json.dumps(results))


def run():
  app.run(main)


if __name__ == '__main__':
  run()

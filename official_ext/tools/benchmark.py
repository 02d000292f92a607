"""Benchmarks as ratios: what our code costs on top of the model it runs.

  python tools/benchmark.py [--quick] [--teacher=EXPORT --input_pattern=GLOB]

Each comparison runs side by side in this one process (alternating, best of
--repeats), then a table is printed and, as the last line, one JSON object.

Without --teacher, a supervised_digits teacher is trained briefly and
exported (Model Garden's exporter, our default export options) into
--work_dir, on generated digits data.

Figures:
  pseudo_label_vs_raw_inference: images/s of the pseudo-labeling pipeline
    (read, decode, resize, batch, teacher, threshold, encode, write) over
    images/s of the bare SavedModel on pre-decoded, pre-batched tensors.
    Target >= 0.9.
"""

import json
import os
import platform
import subprocess
import sys
import tempfile
import time

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from official_ext.data import digits
from official_ext.self_training import labeling
from official_ext.self_training import teacher as teacher_lib

_QUICK = flags.DEFINE_bool('quick', False, 'Small sizes: about a minute.')
_TEACHER = flags.DEFINE_string('teacher', None, 'Detection teacher SavedModel; '
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

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def _run(args):
  env = dict(os.environ, PYTHONPATH=REPO)
  proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env,
                        capture_output=True, text=True)
  if proc.returncode:
    raise RuntimeError(f'{args[0]} failed:\n{proc.stderr[-4000:]}')


def prepare_detection(work_dir: str, quick: bool):
  """(teacher export dir, unlabeled pattern), made when not given."""
  pattern = _INPUT.value
  data = None
  if not pattern or not _TEACHER.value:
    data = digits.make_dataset(
        os.path.join(work_dir, 'data'), seed=0,
        num_train=64 if quick else 200,
        num_unlabeled=160 if quick else 1000, num_val=16, num_shards=2)
    pattern = pattern or data['unlabeled']
  teacher = _TEACHER.value
  if not teacher:
    model_dir = os.path.join(work_dir, 'teacher')
    steps = 30 if quick else 300
    logging.info('Training a %d-step digits teacher in %s.', steps, model_dir)
    _run(['train.py', '--experiment=supervised_digits', '--mode=train',
          f'--model_dir={model_dir}', '--params_override=' + ','.join([
              f"task.train_data.input_path={data['train']}",
              f'trainer.train_steps={steps}', f'trainer.steps_per_loop={steps}',
              f'trainer.checkpoint_interval={steps}',
              'trainer.optimizer_config.warmup.linear.warmup_steps=10'])])
    teacher = os.path.join(work_dir, 'teacher_export')
    _run(['tools/export_saved_model.py', '--experiment=supervised_digits',
          f'--config_file={model_dir}/params.yaml',
          f'--checkpoint_path={model_dir}', f'--export_dir={teacher}'])
  return teacher, pattern


def raw_inference(teacher, files, batch_size):
  """images/s of the bare SavedModel on pre-decoded, pre-batched tensors."""
  batches = [b['image'] for b in labeling.build_dataset(
      files, batch_size, teacher.input_size, pad_value=teacher.pad_value)]
  teacher(batches[0])  # Warm up.
  start = time.perf_counter()
  for images in batches:
    teacher(images)
  seconds = time.perf_counter() - start
  return sum(int(b.shape[0]) for b in batches) / seconds


def pseudo_label_pipeline(teacher_path, pattern, out_prefix, batch_size,
                          threshold):
  """images/s of labeling.label's shard loop (the teacher already loaded)."""
  report = labeling.label(labeling.LabelingConfig(
      teacher=teacher_path, input_pattern=pattern, output_prefix=out_prefix,
      score_threshold=threshold, batch_size=batch_size, show_progress=False,
      num_overlays=0))
  return report['images_per_second'], report


def bench_pseudo_label(work_dir, quick, repeats):
  teacher_path, pattern = prepare_detection(work_dir, quick)
  teacher = teacher_lib.Teacher(teacher_path, 'detection')
  files = labeling.input_files(pattern)
  raw, pipe, report = [], [], None
  for r in range(repeats):
    raw.append(raw_inference(teacher, files, _BATCH.value))
    ips, report = pseudo_label_pipeline(
        teacher_path, pattern, os.path.join(work_dir, f'pl{r}', 'pseudo'),
        _BATCH.value, _THRESHOLD.value)
    pipe.append(ips)
  size = teacher.input_size or ['any', 'any']
  return {
      'pseudo_label_vs_raw_inference': max(pipe) / max(raw),
      'pseudo_label_images_per_second': max(pipe),
      'raw_inference_images_per_second': max(raw),
      'pseudo_label_runs': pipe, 'raw_inference_runs': raw,
      'pseudo_boxes_per_image': report['boxes_per_image_mean'],
      'images': report['images_labeled'], 'batch_size': _BATCH.value,
      'image_size': f'{size[0]}x{size[1]}', 'teacher': teacher_path,
  }


def _device() -> str:
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    return tf.config.experimental.get_device_details(gpus[0]).get(
        'device_name', 'GPU')
  return f'CPU ({os.cpu_count()} cores, {platform.processor() or "?"})'


def main(_):
  # As tools/pseudo_label.py runs (byte-identical reruns).
  tf.config.experimental.enable_op_determinism()
  work_dir = _WORK_DIR.value or tempfile.mkdtemp(prefix='benchmark-')
  results = {'device': _device(), 'quick': _QUICK.value}
  results.update(bench_pseudo_label(work_dir, _QUICK.value, _REPEATS.value))
  print(f"{'figure':40s} {'value':>10s}  target")
  print(f"{'pseudo_label_vs_raw_inference':40s} "
        f"{results['pseudo_label_vs_raw_inference']:10.3f}  >= 0.9")
  print(f"{'  pseudo_label images/s':40s} "
        f"{results['pseudo_label_images_per_second']:10.1f}")
  print(f"{'  raw SavedModel images/s':40s} "
        f"{results['raw_inference_images_per_second']:10.1f}")
  print(json.dumps(results))


def run():
  app.run(main)

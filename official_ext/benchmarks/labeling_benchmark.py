"""The pseudo-labeling figures: the labeling tool's images/s over the bare
SavedModel's (tools/benchmark.py prints it as pseudo_label_vs_raw_inference),
and the labeler's own ceiling with a teacher that costs nothing.
"""

import json
import os
import subprocess
import sys
import time
from typing import List, Optional, Set

from official_ext.labeling import input_pipeline
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline
from official_ext.labeling import shard_plan
from official_ext.labeling import teacher as teacher_lib
from official_ext.testing import fake_teacher


def raw_inference(teacher, files, batch_size):
  """images/s of the bare SavedModel on pre-decoded, pre-batched tensors."""
  batches = [b['image'] for b in input_pipeline.build_dataset(
      files, batch_size, teacher.input_size, pad_value=teacher.pad_value)]
  teacher(batches[0])  # Warm up.
  start = time.perf_counter()
  for images in batches:
    teacher(images)
  seconds = time.perf_counter() - start
  return sum(int(b.shape[0]) for b in batches) / seconds


def pseudo_label_pipeline(task, teacher_path, pattern, out_prefix, batch_size,
                          threshold):
  """images/s of pipeline.label's shard loop (the teacher already loaded)."""
  report = pipeline.label(labeling_options.LabelingOptions(
      teacher=teacher_path, task=task, input_pattern=pattern,
      output_prefix=out_prefix,
      score_threshold=threshold, batch_size=batch_size, show_progress=False,
      num_overlays=0))
  return report['images_per_second'], report


def bench_pseudo_label(task, teacher_path, pattern, work_dir, repeats,
                       batch_size, threshold):
  """pseudo_label_vs_raw_inference: both measured here, alternating."""
  teacher = teacher_lib.Teacher(teacher_path, task)
  files = shard_plan.input_files(pattern)
  raw, pipe, report = [], [], None
  for r in range(repeats):
    raw.append(raw_inference(teacher, files, batch_size))
    ips, report = pseudo_label_pipeline(
        task, teacher_path, pattern,
        os.path.join(work_dir, f'pl{r}', 'pseudo'), batch_size, threshold)
    pipe.append(ips)
  size = teacher.input_size or ['any', 'any']
  result = {
      'pseudo_label_vs_raw_inference': max(pipe) / max(raw),
      'pseudo_label_images_per_second': max(pipe),
      'raw_inference_images_per_second': max(raw),
      'pseudo_label_runs': pipe, 'raw_inference_runs': raw,
      'images': report['images_labeled'], 'batch_size': batch_size,
      'image_size': f'{size[0]}x{size[1]}', 'teacher': teacher_path,
      'teacher_input_size': teacher.input_size,
      'teacher_num_classes': teacher.num_classes,
  }
  if task == 'detection':
    result['pseudo_boxes_per_image'] = report['boxes_per_image_mean']
  else:
    result['pseudo_ignored_fraction'] = report['ignored_fraction']
  return result


def _tool_images_per_second(args: List[str], out_prefix: str,
                            cpus: Optional[Set[int]]) -> float:
  """The labeling loop's images/s (its report) of a whole pseudo_label run
  in a fresh process, pinned to `cpus` before TensorFlow starts (its thread
  pools are sized from the CPUs the process may use)."""
  proc = subprocess.Popen(
      [sys.executable, '-m', 'official_ext.tools.pseudo_label', *args,
       f'--output_prefix={out_prefix}'],
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  if cpus:
    os.sched_setaffinity(proc.pid, cpus)
  _, stderr = proc.communicate()
  if proc.returncode:
    raise RuntimeError(f'pseudo_label failed:\n{stderr[-4000:]}')
  with open(out_prefix + '_report.json') as f:
    return json.load(f)['images_per_second']


def bench_labeler_only(task, pattern, work_dir, repeats, batch_size,
                       threshold, raw_images_per_second: float,
                       size: int = 128, num_classes: int = 11):
  """The labeler's own ceiling: the labeling pipeline with a teacher that
  costs nothing (testing/fake_teacher: outputs of the right shapes from
  patch means), so what is left is reading, decoding, resizing, the
  labeler, example building and writing.

  labeler_only_img_per_s: best of `repeats` in this process, beside the
  real teacher's raw_inference_images_per_second
  (labeler_only_vs_raw_inference); labeler_only_core_scaling: whole tool
  runs pinned to 2 CPUs over 1 CPU (None with fewer than 2 CPUs).
  """
  teacher_dir = os.path.join(work_dir,
                             f'free_{task}_{size}_{num_classes}_teacher')
  if not os.path.exists(os.path.join(teacher_dir, 'saved_model.pb')):
    fake_teacher.export(teacher_dir, task, num_classes=num_classes,
                        size=size)
  runs = [pseudo_label_pipeline(
      task, teacher_dir, pattern,
      os.path.join(work_dir, f'free{r}', 'pseudo'), batch_size, threshold)[0]
          for r in range(repeats)]
  result = {'labeler_only_img_per_s': max(runs), 'labeler_only_runs': runs,
            'labeler_only_vs_raw_inference':
                max(runs) / raw_images_per_second}
  cpus = sorted(os.sched_getaffinity(0))
  scaling = None
  if len(cpus) >= 2:
    args = [f'--teacher={teacher_dir}', f'--task={task}',
            f'--input_pattern={pattern}', f'--score_threshold={threshold}',
            f'--batch_size={batch_size}', '--no_progress']
    one, two = [], []
    for r in range(repeats):
      one.append(_tool_images_per_second(
          args, os.path.join(work_dir, f'cpu1_{r}', 'pseudo'), {cpus[0]}))
      two.append(_tool_images_per_second(
          args, os.path.join(work_dir, f'cpu2_{r}', 'pseudo'),
          set(cpus[:2])))
    scaling = max(two) / max(one)
    result.update(labeler_only_1cpu_img_per_s=max(one),
                  labeler_only_2cpu_img_per_s=max(two),
                  # What one image costs the labeler on one host core, and
                  # so the cores that keep a teacher of 100 img/s fed.
                  labeler_cpu_seconds_per_image=1.0 / max(one),
                  host_cores_per_100_teacher_img_per_s=100.0 / max(one))
  result['labeler_only_core_scaling'] = scaling
  return result

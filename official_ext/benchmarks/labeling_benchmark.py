"""The pseudo-labeling figure: the labeling tool's images/s over the bare
SavedModel's (tools/benchmark.py prints it as pseudo_label_vs_raw_inference).
"""

import os
import time

from official_ext.labeling import input_pipeline
from official_ext.labeling import pipeline
from official_ext.labeling import shard_plan
from official_ext.labeling import teacher as teacher_lib


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
  report = pipeline.label(pipeline.LabelingConfig(
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
  }
  if task == 'detection':
    result['pseudo_boxes_per_image'] = report['boxes_per_image_mean']
  else:
    result['pseudo_ignored_fraction'] = report['ignored_fraction']
  return result

"""tools/benchmark.py runs and prints its figures as JSON (no timing
assertions: these machines are noisy). The segmentation teacher: the tool's
code is the same for both tasks, and the segmenter's train steps trace in
about a third of the detector's time."""

import json
import os

import pytest

from official_ext.configs import common

from conftest import run_tool


def test_benchmark_prints_json(digits_seg_teacher, digits_data, tmp_path):
  proc = run_tool(['tools/benchmark.py', '--task=segmentation',
                   f'--teacher={digits_seg_teacher}',
                   f"--input_pattern={digits_data['unlabeled']}",
                   f'--work_dir={tmp_path}', '--repeats=1', '--quick'])
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  assert result['task'] == 'segmentation'
  for key, rate in [('selftrain_vs_supervised_step', 'selftrain_step_seconds'),
                    ('input_pipeline_vs_step',
                     'input_pipeline_images_per_second'),
                    ('seeded_vs_unseeded_input',
                     'unseeded_input_images_per_second'),
                    ('teacher_vs_train_forward',
                     'train_forward_images_per_second')]:
    assert result[key] > 0 and result[rate] > 0, key
  assert result['train_batch'] == '8 human + 8 pseudo (supervised: 16)'
  assert result['model'] == 'SemanticSegmentation resnet 18'
  # The table names every figure with its target.
  for line in ('selftrain_vs_supervised_step', '<= 1.05',
               'input_pipeline_vs_step', '>= 2', 'teacher_vs_train_forward',
               '>= 0.5'):
    assert line in proc.stdout
  assert result['images'] == 16
  assert result['raw_inference_images_per_second'] > 0
  assert result['pseudo_label_images_per_second'] > 0
  # The labeler's own ceiling, with a teacher that costs nothing: every
  # image labeled in each run, and the 2-over-1-CPU scaling of whole runs.
  assert len(result['labeler_only_runs']) == 1
  assert result['labeler_only_img_per_s'] > 0
  assert result['labeler_only_vs_raw_inference'] == (
      result['labeler_only_img_per_s'] /
      result['raw_inference_images_per_second'])
  assert result['labeler_only_core_scaling'] == (
      result['labeler_only_2cpu_img_per_s'] /
      result['labeler_only_1cpu_img_per_s'])
  assert 'labeler_only_core_scaling (2 over 1 CPU)' in proc.stdout
  # One image's labeler cost on one core, and the host cores that keep a
  # teacher of 100 images/s fed; the free teacher was the real one's size.
  assert result['labeler_cpu_seconds_per_image'] == pytest.approx(
      1.0 / result['labeler_only_1cpu_img_per_s'])
  assert result['host_cores_per_100_teacher_img_per_s'] == pytest.approx(
      100.0 * result['labeler_cpu_seconds_per_image'])
  assert result['teacher_num_classes'] == 11
  assert os.path.isdir(tmp_path / 'free_segmentation_128_11_teacher')
  size = common.DIGITS_IMAGE_SIZE
  assert result['image_size'] == f'{size}x{size}'


def test_online_vs_offline_step_figure(digits_data):
  """--only=online's figure, in-process: both steps timed on their own
  fixed batch, the ratio of the best of each."""
  from official_ext.benchmarks import step_benchmark  # pylint: disable=g-import-not-at-top
  result = step_benchmark.bench_online('segmentation', digits_data['train'],
                                       quick=True, repeats=1, human_batch=4,
                                       pseudo_batch=4)
  assert len(result['online_step_runs']) == len(
      result['offline_step_runs']) == 1
  assert result['online_vs_offline_step'] == (
      result['online_step_seconds'] / result['offline_step_seconds'])
  assert result['online_step_seconds'] > 0
  assert result['train_batch'] == '4 human + 4 unlabeled or pseudo-labeled'

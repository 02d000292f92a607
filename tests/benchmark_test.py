"""tools/benchmark.py runs and prints its figures as JSON (no timing
assertions: these machines are noisy)."""

import json

from conftest import run_tool


def test_benchmark_prints_json(digits_teacher, digits_data, tmp_path):
  proc = run_tool(['tools/benchmark.py', f'--teacher={digits_teacher}',
                   f"--input_pattern={digits_data['unlabeled']}",
                   f'--work_dir={tmp_path}', '--repeats=1'])
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  assert result['images'] == 16
  assert result['raw_inference_images_per_second'] > 0
  assert result['pseudo_label_images_per_second'] > 0
  assert result['pseudo_label_vs_raw_inference'] == (
      result['pseudo_label_images_per_second'] /
      result['raw_inference_images_per_second'])
  assert result['image_size'] == '128x128'

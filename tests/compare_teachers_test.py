"""tools/compare_teachers.py: one-to-one matching, and a real export
compared with itself."""

import json
import os

import numpy as np
import pytest

from official_ext.tools import compare_teachers

from conftest import run_tool


def _set(boxes, classes, scores):
  return {'boxes': np.array(boxes, np.float32).reshape([-1, 4]),
          'classes': np.array(classes, np.int64),
          'scores': np.array(scores, np.float32)}


def test_match_is_one_to_one_same_class_and_above_iou():
  a = _set([[0, 0, 10, 10], [0, 0, 10, 10], [20, 20, 30, 30],
            [40, 40, 50, 50]], [1, 1, 2, 3], [0.9, 0.8, 0.7, 0.6])
  b = _set([[0, 0, 10, 10.1], [20, 20, 30, 30], [40, 40, 50, 60]],
           [1, 5, 3], [0.85, 0.7, 0.6])
  # Box 0 matches; box 1 has no partner left; box 2 differs in class;
  # box 3 overlaps with IoU 0.5 only.
  assert compare_teachers.match(a, b, 0.95) == [pytest.approx(0.05)]
  assert compare_teachers.match(a, b, 0.4) == [pytest.approx(0.05),
                                               pytest.approx(0.0)]
  assert compare_teachers.match(a, _set([], [], []), 0.5) == []


def test_an_export_agrees_with_itself(digits_teacher, digits_data):
  proc = run_tool(['tools/compare_teachers.py',
                   f'--teacher_a={digits_teacher}',
                   f'--teacher_b={digits_teacher}',
                   f"--input_pattern={digits_data['val']}",
                   '--num_images=12', '--batch_size=5',
                   '--score_threshold=0.05'])
  result = json.loads(proc.stdout.strip().splitlines()[-1])
  assert result['images'] == 12
  assert result['boxes_a'] == result['boxes_b'] == result['matched'] > 0
  assert result['max_score_difference'] == 0.0
  assert result['images_per_second_a'] > 0


def test_missing_flag_is_a_usage_error(tmp_path):
  with pytest.raises(AssertionError, match='--teacher_b is required'):
    run_tool(['tools/compare_teachers.py', f'--teacher_a={tmp_path}',
              f'--input_pattern={os.path.join(tmp_path, "x")}'])

"""rounds/online_health: a collapsed online teacher is named from the
student's own params.yaml and TensorBoard scalars (written here as Model
Garden's driver writes them)."""

import os

import pytest
import tensorflow as tf

from official.core import exp_factory
from official.modeling.hyperparams import params_dict
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.rounds import online_health
from official_ext.rounds import results


def _student(model_dir, experiment, tag, values, mode='online',
             burn_in=100, interval=50):
  """A model_dir with the experiment's params.yaml and `values` of `tag`
  logged every `interval` steps from step `interval` on."""
  params = exp_factory.get_exp_config(experiment)
  params.task.self_training.override({'mode': mode, 'burn_in_steps': burn_in,
                                     'score_threshold': 0.3})
  params.trainer.summary_interval = interval
  os.makedirs(model_dir)
  params_dict.save_params_dict_to_yaml(
      params, os.path.join(model_dir, 'params.yaml'))
  writer = tf.summary.create_file_writer(os.path.join(model_dir, 'train'))
  with writer.as_default():
    for i, value in enumerate(values):
      tf.summary.scalar(tag, value, step=(i + 1) * interval)
  writer.close()
  return str(model_dir)


def test_a_detector_whose_teacher_kept_no_box_is_named(tmp_path):
  # Windows end at 50 .. 300; burn-in 100: windows ending at 150..300
  # start after it. Boxes during the burn-in do not count.
  model_dir = _student(tmp_path / 'm', 'selftrain_digits',
                       'pseudo_boxes_per_image', [3.0, 2.5, 0, 0, 0, 0])
  warning = online_health.collapse_warning(model_dir)
  assert 'kept no box' in warning and '4 logged windows' in warning
  assert 'step 100' in warning and 'pseudo_boxes_per_image' in warning
  assert 'score_threshold=0.3' in warning


@pytest.mark.parametrize('values', [
    [0, 0, 0, 0, 0, 0.1],  # One window with a box: not a collapse.
    [0, 0],  # No window after the burn-in: nothing to say.
])
def test_a_teacher_that_kept_something_is_not_named(tmp_path, values):
  model_dir = _student(tmp_path / 'm', 'selftrain_digits',
                       'pseudo_boxes_per_image', values)
  assert online_health.collapse_warning(model_dir) is None


def test_a_window_across_the_burn_in_does_not_count(tmp_path):
  # Burn-in 120 with windows of 50: the window ending at 150 holds burn-in
  # steps (their boxes); only 200 and 250 are after it, both empty.
  model_dir = _student(tmp_path / 'm', 'selftrain_digits',
                       'pseudo_boxes_per_image', [2, 2, 1.0, 0, 0],
                       burn_in=120)
  assert '2 logged windows' in online_health.collapse_warning(model_dir)


def test_a_segmenter_that_ignored_every_pixel_is_named(tmp_path):
  model_dir = _student(tmp_path / 'm', 'selftrain_digits_seg',
                       'pseudo_ignored_fraction', [0.2, 0.5, 1.0, 1.0])
  assert 'kept no pixel' in online_health.collapse_warning(model_dir)
  model_dir = _student(tmp_path / 'n', 'selftrain_digits_seg',
                       'pseudo_ignored_fraction', [0.2, 0.5, 1.0, 0.99])
  assert online_health.collapse_warning(model_dir) is None


def test_an_offline_student_is_not_checked(tmp_path):
  model_dir = _student(tmp_path / 'm', 'selftrain_digits',
                       'pseudo_boxes_per_image', [0, 0, 0, 0], mode='offline')
  assert online_health.collapse_warning(model_dir) is None


def test_the_results_table_prints_the_warning():
  model = {'images_per_step': 16, 'labeled_images_per_step': 8,
           'train_steps': 20}
  rounds = [{'round': 1, 'teacher': {'AP': 0.5}, 'student': {'AP': 0.1},
             'teacher_model': model, 'student_model': model,
             'student_warnings': ['the moving-average teacher kept no box']}]
  assert results.table(rounds).splitlines()[-1] == (
      'round 1 student: the moving-average teacher kept no box')

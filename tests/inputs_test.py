"""official_ext/tasks/inputs.py: what our tasks add around Model Garden's
build_inputs reaches TFDS data too, or fails with one line."""

import pytest

from official.core import exp_factory
from official_ext import registry_imports  # pylint: disable=unused-import
from official_ext.tasks import inputs
from official_ext.tasks import retinanet
from official_ext.tools import train


class _ModelGarden:
  """Stands for Model Garden's task: returns the data config it was given."""

  def build_inputs(self, params, input_context=None):
    del input_context
    return params


class _Task(inputs.ExtendedInputs, _ModelGarden):
  task_config = exp_factory.get_exp_config('supervised_digits').task.replace(
      seed=None)

  def resolve_data_config(self, params):
    return retinanet.RetinaNetTask.resolve_data_config(self, params)


def _tfds_train_data():
  params = exp_factory.get_exp_config('supervised_digits').task.train_data
  params.tfds_name = 'coco/2017'
  params.tfds_split = 'train'
  params.input_path = ''
  return params


def test_tfds_data_gets_the_augmentation_preset():
  params = _tfds_train_data()
  params.augmentation_preset = 's1'
  built = _Task().build_inputs(params)
  assert built.tfds_name == 'coco/2017'
  assert (built.parser.aug_scale_min, built.parser.aug_scale_max) == (0.8,
                                                                       1.2)
  assert built.parser.aug_rand_hflip is True


def test_tfds_data_with_a_subset_is_an_error_not_the_full_set():
  params = _tfds_train_data()
  params.subset.num_examples = 10
  with pytest.raises(ValueError, match=r'subset .*num_examples=10.* cannot '
                     r"apply to tfds_name='coco/2017'"):
    _Task().build_inputs(params)
  experiment = exp_factory.get_exp_config('supervised_digits')
  experiment.task.train_data = params
  with pytest.raises(ValueError, match=r'^task.train_data: subset'):
    train.check_experiment(experiment, 'train')

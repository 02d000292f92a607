"""Deterministic subsets: exact count, same ids on every run, any file order."""

import pytest
import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
from official.core import input_reader as mg_input_reader
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.configs import common
from official_ext.dataloaders import subset


def _data(path, **subset_fields):
  data = exp_factory.get_exp_config('supervised_digits').task.train_data
  data.input_path = path
  data.subset = common.SubsetConfig(**subset_fields)
  return data


def test_exact_count_and_same_ids_on_two_runs(digits_data):
  first = subset.selected_source_ids(
      _data(digits_data['train'], num_examples=10))
  subset._CACHE.clear()  # pylint: disable=protected-access
  second = subset.selected_source_ids(
      _data(digits_data['train'], num_examples=10))
  assert len(first) == 10
  assert first == second


def test_independent_of_file_order(digits_data):
  files = mg_input_reader.match_files(digits_data['train'])
  forward = subset.selected_source_ids(_data(files, num_examples=10))
  backward = subset.selected_source_ids(_data(files[::-1], num_examples=10))
  assert sorted(forward) == sorted(backward)


def test_fraction_and_seed(digits_data):
  quarter = subset.selected_source_ids(_data(digits_data['train'],
                                             fraction=0.25))
  assert len(quarter) == 12  # 48 train examples.
  other = subset.selected_source_ids(_data(digits_data['train'],
                                           fraction=0.25, seed=1))
  assert len(other) == 12 and set(other) != set(quarter)
  bigger = subset.selected_source_ids(_data(digits_data['train'],
                                            fraction=0.5))
  assert set(quarter) < set(bigger)  # Nested: 20% is inside 50%.


def test_task_input_pipeline_sees_only_the_subset(digits_data):
  params = exp_factory.get_exp_config('supervised_digits')
  data = params.task.validation_data
  data.input_path = digits_data['train']
  data.subset.num_examples = 10
  data.global_batch_size = 4
  task = task_factory.get_task(params.task)
  ids = []
  for _, labels in task.build_inputs(data):
    ids.extend(labels['groundtruths']['source_id'].numpy().tolist())
  expected = subset.selected_source_ids(data)
  assert sorted(ids) == sorted(int(x) for x in expected)


@pytest.mark.parametrize('fields,match', [
    (dict(num_examples=0), 'num_examples=0'),
    (dict(fraction=1.5), r'fraction=1.5'),
    (dict(num_examples=5, fraction=0.5), 'not both'),
])
def test_bad_subset_config_names_the_field(fields, match, digits_data):
  with pytest.raises(ValueError, match=match):
    subset.wrap_dataset_fn(tf.data.TFRecordDataset,
                           _data(digits_data['train'], **fields))

"""official_ext/study/cells.py: the grid, the workers' slices and what each
cell's two models train with."""

import pytest

from official_ext.study import cells
from official_ext.study import study_config

from study_config_test import GOOD


def _study(**change):
  return study_config.from_dict(dict(GOOD, **change))


def test_every_combination_once_in_file_order():
  got = cells.all_cells(_study())
  assert len(got) == 1 * 2 * 2 * 2
  assert [c.name for c in got[:3]] == [
      'random-weak-f0.5-s0', 'random-weak-f0.5-s1', 'random-weak-f1-s0']
  assert len({c.name for c in got}) == len(got)


def test_quick_takes_the_first_cell_of_each_init():
  study = _study(init=[{'name': 'random'}, {'name': 'pre', 'checkpoint': 'c'}])
  assert len(cells.all_cells(study)) == 2 * 2 * 2 * 2
  assert [c.name for c in cells.quick_cells(study)] == [
      'random-weak-f0.5-s0', 'pre-weak-f0.5-s0']


@pytest.mark.parametrize('k', [1, 2, 3, 8, 9])
def test_workers_split_the_cells_without_overlap(k):
  every = cells.all_cells(_study())
  slices = [cells.for_worker(every, k, i) for i in range(k)]
  flat = [c for s in slices for c in s]
  assert sorted(flat, key=every.index) == every
  assert len(flat) == len(set(flat))
  with pytest.raises(ValueError, match='--worker_index=2 must be in'):
    cells.for_worker(every, 2, 2)


def test_model_config_and_overrides():
  study = _study(init=[{'name': 'random'}, {
      'name': 'pre', 'checkpoint': '', 'modules': ['backbone', 'decoder']}])
  study.init[1].checkpoint = '/ckpt/ckpt-5'  # As check() resolves it.
  pre_weak = cells.Cell('pre', 'weak', 0.5, 1)
  cfg = cells.model_config(study, pre_weak, cells.SUPERVISED)
  assert cfg == {'task': {
      'seed': 1,
      'train_data': {'subset': {'fraction': 0.5, 'seed': 1}, 'seed': 1},
      'init_checkpoint': '/ckpt/ckpt-5',
      'init_checkpoint_modules': ['backbone', 'decoder']}}
  # The student: the same init, subset and seed; augmentation on both its
  # labeled and its pseudo-labeled data.
  random_s1 = cells.Cell('random', 's1', 1.0, 0)
  cfg = cells.model_config(study, random_s1, cells.SELFTRAIN)
  assert 'init_checkpoint' not in cfg['task']
  assert cfg['task']['train_data']['augmentation_preset'] == 's1'
  assert cfg['task']['pseudo_data'] == {'augmentation_preset': 's1'}
  # The study's own overrides come first, on every model.
  with_classes = _study(overrides=['task.model.num_classes=9'])
  assert cells.model_overrides(with_classes, pre_weak,
                                      cells.SUPERVISED) == [
                                          'task.model.num_classes=9',
                                          'task.train_data.parser.'
                                          'aug_scale_min=0.9']
  assert cells.model_overrides(study, pre_weak, cells.SELFTRAIN) == [
      'task.train_data.parser.aug_scale_min=0.9',
      'task.pseudo_data.parser.aug_scale_min=0.9']
  assert cells.model_overrides(study, pre_weak,
                                      cells.SUPERVISED) == [
                                          'task.train_data.parser.'
                                          'aug_scale_min=0.9']

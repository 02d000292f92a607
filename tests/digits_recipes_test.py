"""digits_recipes: each digits experiment resolves with its own CPU recipe."""

import os

import yaml

from official_ext.configs import digits_recipes


def test_every_experiment_has_its_recipe_applied():
  for task, names in digits_recipes.EXPERIMENTS.items():
    for name in names:
      path = digits_recipes.recipe(name)
      assert os.path.basename(path) == f'{name}_cpu.yaml'
      with open(path) as f:
        raw = yaml.safe_load(f)
      config = digits_recipes.config(name)
      assert config.trainer.train_steps == raw['trainer']['train_steps']
      assert (config.task.train_data.global_batch_size ==
              raw['task']['train_data']['global_batch_size']), (task, name)


def test_students_read_pseudo_labels():
  for teacher, student in digits_recipes.EXPERIMENTS.values():
    assert not hasattr(digits_recipes.config(teacher).task, 'pseudo_data')
    assert digits_recipes.config(student).task.pseudo_data.global_batch_size > 0

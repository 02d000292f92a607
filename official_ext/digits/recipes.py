"""The digits experiments as the demo runs them, resolved as train.py does.

`EXPERIMENTS` pairs each task's teacher and student experiment; each has a
recipe `configs/experiments/<experiment>_cpu.yaml`, installed with the package
as `official_ext.recipes` (found the same way from a wheel or the tree), and
the demo lays `DEMO_OVERLAYS` over it. `config(name)` is the registered
experiment with those files applied (`--experiment=NAME --config_file=RECIPE
[--config_file=OVERLAY]`), so the demo and the benchmarks read the same
values (model, steps, batch sizes, augmentation) a `train.py` run uses.
"""

from official.core import config_definitions as cfg

from official_ext import registry_imports  # pylint: disable=unused-import
from official_ext.configs import file_schema
from official_ext.configs import recipes

# task -> (teacher, student)
EXPERIMENTS = {
    'detection': ('supervised_digits', 'selftrain_digits'),
    'segmentation': ('supervised_digits_seg', 'selftrain_digits_seg'),
}
# The students' online recipes (task.self_training.mode: online; the same
# batches and schedule as <student>_cpu.yaml).
ONLINE_RECIPES = {
    'detection': 'selftrain_digits_online_cpu.yaml',
    'segmentation': 'selftrain_digits_seg_online_cpu.yaml',
}


# The demo's own model where it is not the experiment's default: the
# default segmenter is SpineNet-Mobile-49XS (chosen on the built-in sets'
# validation splits, docs/results/2026-12-06-default-segmenter.md); the demo
# trains ResNet-18 x0.25 (about half the time, and the better on the digits).
DEMO_OVERLAYS = {
    'detection': [],
    'segmentation': ['supervised_digits_seg_resnet_cpu.yaml'],
}


def recipe(name: str) -> str:
  """The recipe YAML of a digits experiment."""
  return recipes.recipe_path(f'{name}_cpu.yaml')


def overlay_files(name: str) -> list:
  """The paths of the YAML files the demo lays over the recipe of the
  digits experiment `name` (a teacher or student of EXPERIMENTS)."""
  task, = [t for t, names in EXPERIMENTS.items() if name in names]
  return [recipes.recipe_path(f) for f in DEMO_OVERLAYS[task]]


def recipe_files(name: str) -> list:
  """The YAML files of the digits experiment `name` as the demo trains it,
  in train.py's `--config_file` order: its recipe, then its overlays."""
  return [recipe(name)] + overlay_files(name)


def config(name: str) -> cfg.ExperimentConfig:
  """The digits experiment `name` as the demo trains it."""
  return recipes.config_from(name, *recipe_files(name))


def data_sizes(quick: bool) -> dict:
  """The demo's digits data sizes (make_digits_dataset's flags); --quick:
  toy sizes."""
  if quick:
    return dict(num_train=32, num_unlabeled=32, num_val=16,
                num_calibration=16, num_test=16)
  return dict(num_train=200, num_unlabeled=1000, num_val=200,
              num_calibration=100, num_test=200)


def teacher_overrides(task: str) -> list:
  """The digits teacher at equal compute: as many labeled images per step
  as its student's labeled + pseudo-labeled batch (the steps are the
  recipes' common `trainer.train_steps`), so student - teacher measures
  the pseudo labels, not a bigger batch."""
  _, total = recipes.student_batch(config(EXPERIMENTS[task][1]))
  return [f'task.train_data.global_batch_size={total}']


def baseline_candidates(task: str) -> dict:
  """The supervised models a user would try against the student, by name:
  `--params_override` items over the teacher recipe. The teacher itself
  (`teacher_overrides`: the student's images per step) is one; the recipe
  as shipped (8 labeled per step) the other. A report picks the best on
  val and compares the student with it on test."""
  _, total = recipes.student_batch(config(EXPERIMENTS[task][1]))
  own = config(EXPERIMENTS[task][0]).task.train_data.global_batch_size
  return {f'supervised_{total}': teacher_overrides(task),
          f'supervised_{own}': []}


def run_file(task: str, data: dict, **fields) -> dict:
  """The `self_train` run file (as a dict) of a digits task on `data`
  (make_digits_dataset's patterns: train, val, unlabeled, calibration and
  test, and for detection val_annotations and test_annotations), with
  top-level `fields` laid over it; configs/runs/digits_<task>.yaml is this
  on runs/digits_data."""
  teacher, student = EXPERIMENTS[task]
  run = {'task': task,
         'data': file_schema.dataset_splits(data, task == 'detection'),
         'teacher': {'experiment': teacher, 'recipe': f'{teacher}_cpu.yaml',
                     'overrides': teacher_overrides(task)},
         'student': {'experiment': student, 'recipe': f'{student}_cpu.yaml'}}
  if DEMO_OVERLAYS[task]:
    for model in ('teacher', 'student'):
      run[model]['config_files'] = list(DEMO_OVERLAYS[task])
  if data.get('calibration'):
    run['data']['calibration'] = data['calibration']
  run.update(fields)
  return run

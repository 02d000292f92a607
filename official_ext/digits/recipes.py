"""The digits experiments and their CPU recipes, resolved as train.py does.

`EXPERIMENTS` pairs each task's teacher and student experiment; each has a
recipe `configs/experiments/<experiment>_cpu.yaml`, installed with the package
as `official_ext.recipes` (found the same way from a wheel or the tree). `config(name)` is the
registered experiment with its recipe applied (`--experiment=NAME
--config_file=RECIPE`), so the demo and the benchmarks read the same values
(steps, batch sizes, augmentation) a `train.py` run of the recipe uses.
"""

import importlib.resources

from official.core import config_definitions as cfg
from official.core import exp_factory
from official.modeling import hyperparams

from official_ext import registry_imports  # pylint: disable=unused-import

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


def recipe_path(file_name: str) -> str:
  """The path of a recipe YAML installed with the package."""
  path = importlib.resources.files('official_ext.recipes') / file_name
  if not path.is_file():
    raise FileNotFoundError(f'no recipe {file_name!r} in official_ext.recipes '
                            '(configs/experiments/).')
  return str(path)


def recipe(name: str) -> str:
  """The recipe YAML of a digits experiment."""
  return recipe_path(f'{name}_cpu.yaml')


def schedule_overrides(steps: int, interval: int = 0,
                       warmup: int = -1) -> list:
  """`--params_override` items that run a digits recipe for `steps` steps:
  its cosine decay ends at the last step, one checkpoint and one evaluation
  at the end, logs every `interval` steps (default min(50, steps)), a linear
  warmup of `warmup` steps (default min(100, steps // 4))."""
  interval = interval or min(50, steps)
  warmup = min(100, steps // 4) if warmup < 0 else warmup
  return [f'trainer.train_steps={steps}',
          f'trainer.validation_interval={steps}',
          f'trainer.checkpoint_interval={steps}',
          f'trainer.optimizer_config.learning_rate.cosine.decay_steps={steps}',
          f'trainer.optimizer_config.warmup.linear.warmup_steps={warmup}',
          f'trainer.steps_per_loop={interval}',
          f'trainer.summary_interval={interval}']


def config(name: str) -> cfg.ExperimentConfig:
  """The digits experiment `name` with its recipe."""
  return config_from(name, recipe(name))


def config_from(experiment: str, recipe_file: str) -> cfg.ExperimentConfig:
  """A registered experiment with a recipe YAML laid over it."""
  return hyperparams.override_params_dict(
      exp_factory.get_exp_config(experiment), recipe_file, is_strict=True)


def data_sizes(quick: bool) -> dict:
  """The demo's digits data sizes (make_digits_dataset's flags); --quick:
  toy sizes."""
  if quick:
    return dict(num_train=32, num_unlabeled=32, num_val=16,
                num_calibration=16, num_test=16)
  return dict(num_train=200, num_unlabeled=1000, num_val=200,
              num_calibration=100, num_test=200)


def student_batch(student: cfg.ExperimentConfig) -> tuple:
  """(labeled, total) images per step of a self-training experiment: its
  labeled batch, and that plus its pseudo-labeled batch."""
  labeled = student.task.train_data.global_batch_size
  return labeled, labeled + student.task.pseudo_data.global_batch_size


def teacher_overrides(task: str) -> list:
  """The digits teacher at equal compute: as many labeled images per step
  as its student's labeled + pseudo-labeled batch (the steps are the
  recipes' common `trainer.train_steps`), so student - teacher measures
  the pseudo labels, not a bigger batch."""
  _, total = student_batch(config(EXPERIMENTS[task][1]))
  return [f'task.train_data.global_batch_size={total}']


def baseline_candidates(task: str) -> dict:
  """The supervised models a user would try against the student, by name:
  `--params_override` items over the teacher recipe. The teacher itself
  (`teacher_overrides`: the student's images per step) is one; the recipe
  as shipped (8 labeled per step) the other. A report picks the best on
  val and compares the student with it on test."""
  _, total = student_batch(config(EXPERIMENTS[task][1]))
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
         'data': {'labeled': data['train'], 'validation': data['val'],
                  'unlabeled': data['unlabeled']},
         'teacher': {'experiment': teacher, 'recipe': f'{teacher}_cpu.yaml',
                     'overrides': teacher_overrides(task)},
         'student': {'experiment': student, 'recipe': f'{student}_cpu.yaml'}}
  if data.get('calibration'):
    run['data']['calibration'] = data['calibration']
  if data.get('test'):
    run['data']['test'] = data['test']
  if task == 'detection':
    run['data']['annotation_file'] = data['val_annotations']
    if data.get('test'):
      run['data']['test_annotation_file'] = data['test_annotations']
  run.update(fields)
  return run

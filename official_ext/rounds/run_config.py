"""A run file: teacher -> pseudo labels -> student, for N rounds, as YAML.

    task: detection                      # or segmentation
    rounds: 2                            # round r > 1: round r-1's student teaches
    data:                                # TFRecord globs (Model Garden's TFExamples)
      labeled: DATA/train-*.tfrecord
      validation: DATA/val-*.tfrecord
      unlabeled: DATA/unlabeled-*.tfrecord
      calibration: DATA/calibration-*.tfrecord  # optional: thresholds, quality
      annotation_file: DATA/annotations_val.json # detection: COCO json of validation
      test: DATA/test-*.tfrecord         # optional: scored once per model, never chosen on
      test_annotation_file: DATA/annotations_test.json  # detection: COCO json of test
    teacher:                             # train one (round 1) ...
      experiment: supervised_digits
      recipe: supervised_digits_cpu.yaml
      config_files: []                   # more YAML laid over the recipe, in order
      overrides: []                      # --params_override items
      saved_model: ''                    # ... or use this export instead
    student:                             # its recipe's task.self_training.mode:
      experiment: selftrain_digits       # offline (labels by the teacher), or
      recipe: selftrain_digits_cpu.yaml  # online: no labeling stage, the
      overrides: []                      # teacher trained only to compare
    labeling:                            # pseudo_label's options
      score_threshold: -1                # < 0: the student recipe's
      class_thresholds: ''               # '', auto, or a JSON file
      target_precision: 0.8
      num_shards: 0
    runtime_overrides: []                # every train.py, e.g. runtime.distribution_strategy=mirrored

A recipe or config file is a path (relative: from the run file's folder)
or a packaged recipe's file name (configs/experiments/); data, saved_model and
class_thresholds paths are used as given (relative: from the current
directory, as every tool's flags).
`load` checks the whole file before anything runs and raises `RunError`
with one line naming the field.
"""

import dataclasses
import os
from typing import List

from official.core import exp_factory
from official.modeling import hyperparams

from official_ext import registry_imports  # pylint: disable=unused-import
from official_ext.configs import file_schema
from official_ext.configs import self_training as st_config
from official_ext.data import paths
from official_ext.data import record_files
from official_ext.labeling import options as labeling_options
from official_ext.rounds import run_data
from official_ext.configs import recipes

TASKS = ('detection', 'segmentation')


class RunError(ValueError):
  """A run file that cannot run; the message names the field."""


# The model reference both file kinds share (configs/file_schema.py).
ModelConfig = file_schema.ModelConfig


@dataclasses.dataclass
class TeacherConfig(ModelConfig):
  """The round-1 teacher: trained from `experiment`, or `saved_model`."""
  saved_model: str = ''


@dataclasses.dataclass
class DataConfig(file_schema.SplitsConfig):
  """The splits (the study file's too) and the labeler's held-out
  calibration split."""
  calibration: str = ''


# The labeling options a run file's `labeling:` section sets. Each is the
# LabelingOptions field of that name (labeling/options.py declares them
# once): its type and default, but score_threshold's default here is -1,
# "the student recipe's task.self_training.score_threshold".
LABELING_FIELDS = ('score_threshold', 'class_thresholds', 'target_precision',
                   'num_shards')
_RUN_FILE_DEFAULTS = {'score_threshold': -1.0}


def _labeling_config() -> type:
  """The `labeling:` section's Config class, made from LabelingOptions."""
  options = {f.name: f for f in dataclasses.fields(
      labeling_options.LabelingOptions)}
  return dataclasses.make_dataclass(
      'LabelingConfig',
      [(name, options[name].type, dataclasses.field(
          default=_RUN_FILE_DEFAULTS.get(name, options[name].default)))
       for name in LABELING_FIELDS],
      bases=(hyperparams.Config,),
      namespace={'__module__': __name__, '__doc__': (
          'A run file\'s labeling options (LABELING_FIELDS of '
          'LabelingOptions).')})


LabelingConfig = _labeling_config()


@dataclasses.dataclass
class RunConfig(hyperparams.Config):
  task: str = 'detection'
  rounds: int = 1
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  teacher: TeacherConfig = dataclasses.field(default_factory=TeacherConfig)
  student: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  labeling: LabelingConfig = dataclasses.field(default_factory=LabelingConfig)
  runtime_overrides: List[str] = dataclasses.field(default_factory=list)


def load(path: str) -> RunConfig:
  """A run file (docs/self_train.md).

  Args:
    path: the YAML run file.

  Returns:
    The run, its relative paths resolved against the file's folder.

  Raises:
    RunError: one line naming the field (or the file) that is wrong.
  """
  try:
    raw = hyperparams.read_yaml_to_params_dict(path).as_dict()
  except Exception as e:  # pylint: disable=broad-except
    raise RunError(f'{path}: not a readable YAML run file ({e})') from None
  return from_dict(raw, os.path.dirname(os.path.abspath(path)))


def from_dict(raw: dict, base_dir: str = '.') -> RunConfig:
  """`load`'s run from a dict.

  Args:
    raw: the run file's content.
    base_dir: the folder relative recipe paths are resolved against (the
      run file's).

  Returns:
    The checked RunConfig.

  Raises:
    RunError: a wrong field, named.
  """
  file_schema.check_fields(raw, RunConfig, RunError)
  run = RunConfig()
  run.override(raw, is_strict=True)
  _resolve(run, base_dir)
  check(run)
  return run


def _resolve(run: RunConfig, base_dir: str):
  """Recipes and config_files as paths: a file relative to the run file's
  folder, else a packaged recipe of that name; a name that is neither stays
  as given (`check` names it)."""
  for model in (run.teacher, run.student):
    if model.recipe:
      model.recipe = _path(model.recipe, base_dir)
    model.config_files = [_path(name, base_dir) for name in model.config_files]


def _path(name: str, base_dir: str) -> str:
  if os.path.isabs(name) or '://' in name:
    return name
  try:
    return recipes.resolve(name, base_dir)
  except FileNotFoundError:
    return name


def recipe_file(model: ModelConfig) -> str:
  """The model's recipe path.

  Args:
    model: a run file's model.

  Returns:
    `model.recipe` when it is a file, else the packaged recipe of that name.
  """
  return recipes.resolve(model.recipe)


def config_files(model: ModelConfig) -> List[str]:
  """The model's YAML files in the order train.py lays them.

  Args:
    model: a run file's model.

  Returns:
    Its recipe's path (when it has one), then its config_files.
  """
  return ([recipe_file(model)] if model.recipe else []) + [
      _path(name, '.') for name in model.config_files]


def experiment_config(model: ModelConfig, extra: List[str] = ()):
  """A model's experiment config, as train.py would build it.

  Args:
    model: the run file's model.
    extra: more `--params_override` items, laid last.

  Returns:
    The registered experiment with the model's recipe, config files,
    overrides and `extra` laid over it.
  """
  config = exp_factory.get_exp_config(model.experiment)
  for path in config_files(model):
    config = hyperparams.override_params_dict(config, path, is_strict=True)
  items = list(model.overrides) + list(extra)
  if items:
    config = hyperparams.override_params_dict(config, ','.join(items),
                                              is_strict=True)
  return config


def _check_model(model: ModelConfig, where: str, extra: List[str]):
  try:
    exp_factory.get_exp_config(model.experiment)
  except (LookupError, KeyError):
    raise RunError(f'{where}.experiment: {model.experiment!r} is not a '
                   'registered experiment') from None
  if model.recipe:
    try:
      recipe_file(model)
    except FileNotFoundError:
      raise RunError(f'{where}.recipe: no file {model.recipe!r} nor a '
                     'packaged recipe of that name') from None
  for path in model.config_files:
    if not paths.exists(path, f'{where}.config_files'):
      raise RunError(f'{where}.config_files: no file {path!r}')
  try:
    return experiment_config(model, extra)
  except (KeyError, ValueError, TypeError, AttributeError) as e:
    message = str(e).strip('"').splitlines()[0]
    raise RunError(f'{where}.overrides or runtime_overrides: {message}'
                   ) from None


def check(run: RunConfig):
  """Everything that can be checked before anything runs.

  Args:
    run: a loaded run.

  Raises:
    RunError: naming the field (an unreachable path too) and the fix.
  """
  try:
    _check(run)
  except paths.UnreadablePath as e:
    raise RunError(str(e)) from None


def _check(run: RunConfig):
  if run.task not in TASKS:
    raise RunError(f'task: {run.task!r} is not one of {list(TASKS)}')
  if run.rounds < 1:
    raise RunError(f'rounds: {run.rounds}: at least 1')
  try:
    run_data.check(run.data, run.task)
  except (ValueError, FileNotFoundError) as e:
    raise RunError(str(e)) from None
  teacher = run.teacher
  if teacher.saved_model:
    if (teacher.experiment or teacher.recipe or teacher.config_files or
        teacher.overrides):
      raise RunError('teacher: a saved_model or an experiment to train, '
                     'not both')
    if not any(paths.exists(os.path.join(teacher.saved_model, *sub,
                                         'saved_model.pb'),
                            'teacher.saved_model')
               for sub in ((), ('saved_model',))):
      raise RunError(f'teacher.saved_model: no SavedModel at '
                     f'{teacher.saved_model}')
  else:
    teacher_config = _check_model(teacher, 'teacher', run.runtime_overrides)
  student_config = _check_model(run.student, 'student', run.runtime_overrides)
  if not hasattr(student_config.task, 'self_training'):
    raise RunError(f'student.experiment: {run.student.experiment!r} is not a '
                   'self-training experiment (no task.self_training)')
  if not teacher.saved_model and (teacher_config.task.model.num_classes !=
                                  student_config.task.model.num_classes):
    raise RunError(
        'teacher, student: task.model.num_classes differ '
        f'({teacher_config.task.model.num_classes} vs '
        f'{student_config.task.model.num_classes}); set both in overrides')
  labeling = run.labeling
  if student_config.task.self_training.mode == 'online':
    _check_online(run)
  if labeling.score_threshold > 1.0:
    raise RunError(f'labeling.score_threshold: {labeling.score_threshold} '
                   'is over 1 (< 0: the student recipe\'s)')
  if labeling.num_shards < 0:
    raise RunError(f'labeling.num_shards: {labeling.num_shards} < 0')
  files = len(record_files.match(run.data.unlabeled))
  if labeling.num_shards > files:
    raise RunError(
        f'labeling.num_shards: {labeling.num_shards} shards but data.unlabeled '
        f'has {files} file(s); each shard takes whole files (split them with '
        'official_ext.tools.reshard_tfrecords)')
  try:
    st_config.check_threshold_options(
        labeling.class_thresholds, run.data.calibration,
        labeling.target_precision,
        name=lambda f: ('data.calibration' if f == 'calibration_pattern'
                        else f'labeling.{f}'))
  except ValueError as e:
    raise RunError(str(e)) from None


def _check_online(run: RunConfig):
  """An online student (its recipe sets task.self_training.mode: online)
  labels inside its train step: no labeling stage, no later round."""
  where = ('(the student recipe sets task.self_training.mode: online, whose '
           'teacher is the moving average of the student)')
  if run.rounds != 1:
    raise RunError(f'rounds: {run.rounds} with an online student {where}; '
                   'one round')
  section, defaults = run.labeling.as_dict(), LabelingConfig().as_dict()
  changed = [f for f in LABELING_FIELDS if section[f] != defaults[f]]
  if changed:
    raise RunError(f'labeling.{changed[0]}: no labeling stage with an online '
                   f'student {where}; set task.self_training.* in '
                   'student.overrides')


def online(run: RunConfig) -> bool:
  """Whether the student learns from an online (moving-average) teacher.

  Args:
    run: the run file.

  Returns:
    True when the student recipe sets task.self_training.mode: online.
  """
  return experiment_config(run.student).task.self_training.mode == 'online'

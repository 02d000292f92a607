"""A study file: the paper's pre-training vs self-training grid as YAML.

    name: digits_detection
    task: detection                  # or segmentation
    supervised: {experiment: supervised_digits, recipe: supervised_digits_cpu.yaml}
    selftrain: {experiment: selftrain_digits, recipe: selftrain_digits_cpu.yaml,
                config_files: []}   # YAML laid over the recipe, in order
    method: [offline, online]        # the students of each cell (default:
                                     # [offline]); online needs:
    online: {experiment: selftrain_digits_seg, recipe: selftrain_digits_seg_online_cpu.yaml}
    train_steps: 1500                # both models of each cell (0: the student
                                     # recipe's); --quick: quick_steps
    overrides: [task.model.num_classes=9]  # every model of every cell (your
                                     # own data: its class count); not the
                                     # pretrain's
    init:                            # axis 1
      - {name: random}
      - {name: imagenet, checkpoint: runs/pretrain, modules: [backbone]}
      - name: classification         # trained by the tool, before the cells
        pretrain: {experiment: pretrain_digits, recipe: pretrain_digits_cpu.yaml,
                   config_files: []} # (its backbone must be the models':
                                     # pretrain_digits_seg for segmentation,
                                     # with the models' backbone overlays)
    augmentation:                    # axis 2: a preset s1..s4, or overrides
      - {name: weak, overrides: ['task.train_data.parser.aug_scale_min=0.9']}
      - {name: s1, preset: s1}
    labeled_fraction: [0.5, 1.0]     # axis 3 (deterministic subsets)
    seeds: [0, 1, 2]                 # axis 4: task.seed of both models
    candidates:                      # more supervised models per cell; the
      - {name: batch8, overrides: ['task.train_data.global_batch_size=8']}
      - {name: short, train_steps: 500}  # gains are against the one best on val

A recipe is a file name installed with the package (configs/experiments/) or
a path (relative paths: from the study file's folder). `check` validates the
whole file before anything trains and raises `StudyError` with one line
naming the field.
"""

import dataclasses
import os
import re
from typing import List

from official.modeling import hyperparams

from official_ext import registry_imports  # pylint: disable=unused-import
from official_ext.configs import file_schema
from official_ext.configs import recipes
from official_ext.study import model_checks

TASKS = ('detection', 'segmentation')
RANDOM = 'random'
_NAME = re.compile(r'^[A-Za-z0-9_.]+$')

# Raised with one line naming the field.
StudyError = model_checks.StudyError


# The model reference both file kinds share (configs/file_schema.py).
ModelConfig = file_schema.ModelConfig


@dataclasses.dataclass
class PretrainDataConfig(hyperparams.Config):
  """Classification TFRecord patterns of one pretrain; empty: the study's
  data.classification_train / data.classification_val."""
  train: str = ''
  val: str = ''


@dataclasses.dataclass
class InitConfig(hyperparams.Config):
  """A starting point: `random`, or a checkpoint (Model Garden's
  `task.init_checkpoint`) restoring `modules` (`init_checkpoint_modules`):
  a given `checkpoint`, or the one of a classification `pretrain` the tool
  trains first (on `pretrain_data`, else data.classification_train; the
  digits' own by default), so one study can set pre-training on other data
  beside pre-training on the target's own kind."""
  name: str = RANDOM
  checkpoint: str = ''
  pretrain: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  pretrain_data: PretrainDataConfig = dataclasses.field(
      default_factory=PretrainDataConfig)
  modules: List[str] = dataclasses.field(
      default_factory=lambda: ['backbone'])


@dataclasses.dataclass
class AugmentationConfig(hyperparams.Config):
  """An augmentation strength: a preset (s1..s4) and/or `--params_override`
  items on the train data (`task.train_data.parser.aug_scale_min=0.9`)."""
  name: str = ''
  preset: str = ''
  overrides: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class CandidateConfig(hyperparams.Config):
  """Another supervised model each cell trains beside `supervised` (same
  recipe, init, labeled subset, seed and augmentation) with these
  `--params_override` items (e.g. another batch) and, `train_steps` > 0,
  its own schedule (a shorter one for few labels); else the cell's steps.
  A point's gains are measured against whichever supervised model is best
  on validation (mean over its seeds)."""
  name: str = ''
  overrides: List[str] = dataclasses.field(default_factory=list)
  train_steps: int = 0


@dataclasses.dataclass
class DataConfig(file_schema.SplitsConfig):
  """The splits, named as in a run file (labeled, validation, unlabeled,
  test, annotation_file, test_annotation_file; the earlier train, val,
  val_annotations, test_annotations still load, with a warning); all empty:
  the tool makes the digits data."""
  # Classification TFExamples for an init's `pretrain`.
  classification_train: str = ''
  classification_val: str = ''


@dataclasses.dataclass
class StudyConfig(hyperparams.Config):
  name: str = ''
  task: str = 'detection'
  supervised: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  selftrain: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  # The students each cell trains beside its supervised model: `offline`
  # (the paper's: `selftrain`, taught by the cell's supervised model) and/or
  # `online` (`online`: an EMA teacher of itself, no teacher export).
  method: List[str] = dataclasses.field(default_factory=lambda: ['offline'])
  online: ModelConfig = dataclasses.field(default_factory=ModelConfig)
  data: DataConfig = dataclasses.field(default_factory=DataConfig)
  # Both models of a cell train this many steps (equal compute); 0: the
  # self-training recipe's trainer.train_steps.
  train_steps: int = 0
  quick_steps: int = 20
  # `--params_override` items for every model of every cell (supervised,
  # students), e.g. task.model.num_classes for data other than the digits.
  overrides: List[str] = dataclasses.field(default_factory=list)
  init: List[InitConfig] = dataclasses.field(default_factory=list)
  augmentation: List[AugmentationConfig] = dataclasses.field(
      default_factory=list)
  labeled_fraction: List[float] = dataclasses.field(
      default_factory=lambda: [1.0])
  seeds: List[int] = dataclasses.field(default_factory=lambda: [0])
  candidates: List[CandidateConfig] = dataclasses.field(default_factory=list)


# Names the cells' own models take (cells.py); no candidate may take one.
_MODEL_NAMES = ('supervised', 'selftrain', 'online')


def load(path: str) -> StudyConfig:
  """The study file at `path`, checked (`StudyError` naming the field)."""
  try:
    raw = hyperparams.read_yaml_to_params_dict(path).as_dict()
  except Exception as e:  # pylint: disable=broad-except
    raise StudyError(f'{path}: not a readable YAML study file ({e})') from None
  study = from_dict(raw)
  check(study, os.path.dirname(os.path.abspath(path)))
  return study


def from_dict(raw: dict) -> StudyConfig:
  """A StudyConfig; unknown keys (at any depth) raise StudyError."""
  if isinstance(raw.get('data'), dict):
    raw = dict(raw, data=file_schema.renamed_splits(raw['data'], StudyError))
  file_schema.check_fields(raw, StudyConfig, StudyError)
  study = StudyConfig()
  try:
    study.override(raw, is_strict=True)
  except (KeyError, ValueError, TypeError) as e:
    raise StudyError(f'study file: {e}') from None
  return study


METHODS = ('offline', 'online')


def _check_method(study: StudyConfig, base_dir: str):
  method = list(study.method)
  if not method or len(set(method)) != len(method) or not set(method) <= set(
      METHODS):
    raise StudyError(f'method: {method}: a list of distinct entries from '
                     f'{list(METHODS)}')
  if 'offline' not in method:
    raise StudyError(f'method: {method}: must include offline (its teacher '
                     "is the cell's supervised model; online runs beside it)")
  if 'online' in method:
    if not study.online.experiment:
      raise StudyError("online: method 'online' needs the online student's "
                       '{experiment, recipe}')
    model_checks.check_model(study.online, 'online', base_dir)
    config = recipes.config_from(study.online.experiment, recipes.resolve(
        study.online.recipe, base_dir))
    if config.task.self_training.mode != 'online':
      raise StudyError(f'online.recipe: {study.online.recipe!r} sets '
                       f'task.self_training.mode={config.task.self_training.mode!r}'
                       "; the online student's recipe sets mode: online")
  elif study.online.experiment:
    raise StudyError("online: given, but method has no 'online'")


def check(study: StudyConfig, base_dir: str = '.'):
  """Everything that can be checked before training; StudyError if not."""
  if study.task not in TASKS:
    raise StudyError(f'task: {study.task!r} is not one of {list(TASKS)}')
  if not study.name or not _NAME.match(study.name):
    raise StudyError(f'name: {study.name!r}: use letters, digits, _ and .')
  for role in ('supervised', 'selftrain'):
    model_checks.check_model(getattr(study, role), role, base_dir)
  _check_method(study, base_dir)
  if study.train_steps < 0 or study.quick_steps <= 0:
    raise StudyError('train_steps >= 0 (0: the recipes\') and quick_steps '
                     f'> 0; got {study.train_steps}, {study.quick_steps}')
  for axis in ('init', 'augmentation'):
    items = getattr(study, axis)
    if not items:
      raise StudyError(f'{axis}: at least one entry')
    names = [item.name for item in items]
    for i, name in enumerate(names):
      if not name or not _NAME.match(name):
        raise StudyError(f'{axis}[{i}].name: {name!r}: use letters, digits, '
                         '_ and .')
    if len(set(names)) != len(names):
      raise StudyError(f'{axis}: names repeat: {names}')
  names = [c.name for c in study.candidates]
  for i, candidate in enumerate(study.candidates):
    if not _NAME.match(candidate.name) or candidate.name in _MODEL_NAMES:
      raise StudyError(f'candidates[{i}].name: {candidate.name!r}: letters, '
                       f'digits, _ and ., none of {list(_MODEL_NAMES)}')
    if candidate.train_steps < 0:
      raise StudyError(f'candidates[{i}].train_steps: '
                       f'{candidate.train_steps} < 0 (0: the cell\'s)')
  if len(set(names)) != len(names):
    raise StudyError(f'candidates: names repeat: {names}')
  if RANDOM not in [i.name for i in study.init]:
    raise StudyError(f'init: needs an entry named {RANDOM!r} (the baseline '
                     'every delta is measured against)')
  for i, init in enumerate(study.init):
    _check_init(init, f'init[{i}]', base_dir)
    if init.pretrain.experiment:
      model_checks.check_same_backbone(init.pretrain, study.supervised,
                                       f'init[{i}].pretrain', base_dir)
  for i, aug in enumerate(study.augmentation):
    model_checks.check_augmentation(aug, f'augmentation[{i}]', study)
  model_checks.check_overrides(study)
  if not study.labeled_fraction:
    raise StudyError('labeled_fraction: at least one entry')
  for i, fraction in enumerate(study.labeled_fraction):
    if not 0.0 < fraction <= 1.0:
      raise StudyError(f'labeled_fraction[{i}]: {fraction} is not in (0, 1]')
  if not study.seeds or len(set(study.seeds)) != len(study.seeds):
    raise StudyError(f'seeds: at least one, none repeated: {study.seeds}')
  data = [study.data.labeled, study.data.unlabeled, study.data.validation]
  if any(data) and not all(data):
    raise StudyError('data: set labeled, unlabeled and validation, or none '
                     '(the digits data)')
  if (all(data) and study.task == 'detection' and
      not study.data.annotation_file):
    raise StudyError('data.annotation_file: detection needs the COCO json '
                     'of data.validation')
  if study.data.test and not all(data):
    raise StudyError('data.test: set with labeled, unlabeled and validation '
                     '(the digits data has its own test split)')
  if (study.data.test and study.task == 'detection' and
      not study.data.test_annotation_file):
    raise StudyError('data.test_annotation_file: detection needs the COCO '
                     'json of data.test')
  for i, init in enumerate(study.init):
    if (init.pretrain.experiment and not init.pretrain_data.train and
        any(data) and
        not (study.data.classification_train and
             study.data.classification_val)):
      raise StudyError('data.classification_train, data.classification_val: '
                       f'init[{i}] has a pretrain and no pretrain_data, so it '
                       'needs them (with data paths set; the digits data has '
                       'its own)')


def _check_init(init: InitConfig, where: str, base_dir: str):
  pretrain = bool(init.pretrain.experiment or init.pretrain.recipe)
  own = [init.pretrain_data.train, init.pretrain_data.val]
  if any(own) and not pretrain:
    raise StudyError(f'{where}.pretrain_data: only an init with a pretrain '
                     'reads it')
  if any(own) and not all(own):
    raise StudyError(f'{where}.pretrain_data: set train and val, or neither '
                     "(the study's data.classification_*)")
  if init.name == RANDOM:
    if init.checkpoint or pretrain:
      raise StudyError(f'{where}: the {RANDOM!r} init takes no checkpoint '
                       'nor pretrain')
    return
  if not init.modules:
    raise StudyError(f'{where}.modules: which modules to restore '
                     "(e.g. ['backbone'])")
  if pretrain:
    if init.checkpoint:
      raise StudyError(f'{where}: a checkpoint or a pretrain, not both')
    model_checks.check_model(init.pretrain, f'{where}.pretrain', base_dir)
    return
  if not init.checkpoint:
    raise StudyError(f'{where}.checkpoint: {init.name!r} needs a checkpoint '
                     'or a pretrain')
  path = os.path.join(base_dir, init.checkpoint)
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  found = (tf.train.latest_checkpoint(path) if os.path.isdir(path) else
           path if tf.io.gfile.exists(path + '.index') else None)
  if not found:
    raise StudyError(f'{where}.checkpoint: no checkpoint at {path}')
  init.checkpoint = found



"""The cells of a study and what each cell's two models train with.

A cell is one point of the grid (init x augmentation x labeled fraction x
seed). It trains its models through train.py: the supervised model, the
self-trained student labeled by that same supervised model (the paper's
protocol: the teacher of a cell is the supervised model of the same
setting), and with `method: [offline, online]` an online student (its own
EMA teacher, on the raw unlabeled images). All start from the cell's init,
see the same labeled subset and the same augmentation (a student on its
human and its unlabeled or pseudo-labeled images alike).
"""

import dataclasses
import itertools
from typing import Dict, List

from official_ext.study import study_config

# What the cells' models are called in the tables and folders.
SUPERVISED, SELFTRAIN, ONLINE = 'supervised', 'selftrain', 'online'
MODELS = (SUPERVISED, SELFTRAIN)
STUDENTS = (SELFTRAIN, ONLINE)


def models(study: study_config.StudyConfig) -> tuple:
  """The models every cell of `study` trains, in table order."""
  return MODELS + ((ONLINE,) if 'online' in study.method else ())


@dataclasses.dataclass(frozen=True)
class Cell:
  init: str
  augmentation: str
  labeled_fraction: float
  seed: int

  @property
  def name(self) -> str:
    """The cell's folder name, unique within a study."""
    return (f'{self.init}-{self.augmentation}-'
            f'f{self.labeled_fraction:g}-s{self.seed}')


def all_cells(study: study_config.StudyConfig) -> List[Cell]:
  """Every cell, in the study file's order (init, augmentation, fraction,
  seed; the last varies fastest)."""
  return [Cell(i.name, a.name, float(f), int(s)) for i, a, f, s in
          itertools.product(study.init, study.augmentation,
                            study.labeled_fraction, study.seeds)]


def quick_cells(study: study_config.StudyConfig) -> List[Cell]:
  """--quick: the first cell of each init (the first augmentation, labeled
  fraction and seed), a smoke test of the whole study in minutes."""
  return [Cell(i.name, study.augmentation[0].name,
               float(study.labeled_fraction[0]), int(study.seeds[0]))
          for i in study.init]


def for_worker(cells: List[Cell], num_workers: int,
               worker_index: int) -> List[Cell]:
  """Worker `worker_index` of `num_workers`: every num_workers-th cell."""
  if num_workers < 1 or not 0 <= worker_index < num_workers:
    raise ValueError(f'--worker_index={worker_index} must be in [0, '
                     f'--num_workers={num_workers})')
  return cells[worker_index::num_workers]


def model_config(study: study_config.StudyConfig, cell: Cell,
                 role: str) -> Dict:
  """The cell's settings for one of its models, as a config dict laid over
  the recipe (written next to the model, passed as a second --config_file):
  seed, init checkpoint, labeled subset, augmentation preset."""
  init = next(i for i in study.init if i.name == cell.init)
  aug = next(a for a in study.augmentation if a.name == cell.augmentation)
  # task.seed: the model's init, augmentation and data order (repeatable
  # on a CPU, so two cells that differ in one axis are a paired comparison).
  task = {'seed': cell.seed,
          'train_data': {'subset': {'fraction': cell.labeled_fraction,
                                    'seed': cell.seed},
                         'seed': cell.seed}}
  if init.name != study_config.RANDOM:
    task['init_checkpoint'] = init.checkpoint
    task['init_checkpoint_modules'] = list(init.modules)
  for data in _augmented(role):
    if aug.preset:
      task.setdefault(data, {})['augmentation_preset'] = aug.preset
  return {'task': task}


def model_overrides(study: study_config.StudyConfig, cell: Cell,
                           role: str) -> List[str]:
  """The study's overrides and the cell's augmentation overrides
  (`--params_override` items) for one of its models: on the student, the
  pseudo-labeled data gets the augmentation too."""
  aug = next(a for a in study.augmentation if a.name == cell.augmentation)
  out = list(study.overrides)
  for item in aug.overrides:
    field = item[len('task.train_data.'):]
    out += [f'task.{data}.{field}' for data in _augmented(role)]
  return out


def _augmented(role: str) -> List[str]:
  return ['train_data'] + (['pseudo_data'] if role in STUDENTS else [])

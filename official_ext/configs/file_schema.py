"""What the run file (`self_train`) and the study file (`study`) share: the
model reference, the data splits' names and the one strict loader of a YAML
mapping.

A model in either file is a `ModelConfig`: a registered experiment, its
recipe, more YAML laid over it and `--params_override` items, as train.py
takes them. The splits in either file's `data:` are a `SplitsConfig`
(labeled, validation, unlabeled, test and the detection COCO jsons);
`check_fields` refuses an unknown key or a wrongly typed value at any depth
with one line naming it, before anything runs.
"""

import dataclasses
import typing
from typing import Dict, List, Type

from absl import logging

from official.modeling import hyperparams


@dataclasses.dataclass
class ModelConfig(hyperparams.Config):
  """A registered experiment, its recipe YAML (a packaged recipe's name or a
  path), more YAML files laid over it in order (train.py's repeated
  --config_file) and `--params_override` items."""
  experiment: str = ''
  recipe: str = ''
  config_files: List[str] = dataclasses.field(default_factory=list)
  overrides: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class SplitsConfig(hyperparams.Config):
  """TFRecord globs of the splits, named the same in every file: the
  labeled images, the validation split choices are made on, the unlabeled
  images, and the optional test split (each final model scored on it once;
  nothing chooses on it). Detection: the COCO json of validation and test."""
  labeled: str = ''
  validation: str = ''
  unlabeled: str = ''
  test: str = ''
  annotation_file: str = ''
  test_annotation_file: str = ''


# The built-in data sets' split names (make_digits_dataset,
# make_shapes_dataset: train-*, val-*, ...; the study file's keys before it
# took the run file's) -> SplitsConfig's.
DATASET_SPLITS = {'train': 'labeled', 'val': 'validation',
                  'unlabeled': 'unlabeled', 'test': 'test',
                  'val_annotations': 'annotation_file',
                  'test_annotations': 'test_annotation_file'}


def dataset_splits(dataset: Dict[str, str], detection: bool) -> Dict[str, str]:
  """A built-in data set's patterns under SplitsConfig's names.

  Args:
    dataset: make_dataset's {split: pattern} (train, val, unlabeled, test,
      val_annotations, test_annotations, and any others).
    detection: whether the COCO jsons are wanted (a segmentation file
      refuses them).

  Returns:
    The splits the data set has, renamed (the others left out; the test
    split and its json only when the data set has one).
  """
  out = {ours: dataset[theirs] for theirs, ours in DATASET_SPLITS.items()
         if dataset.get(theirs)}
  if not detection:
    out.pop('annotation_file', None)
    out.pop('test_annotation_file', None)
  return out


def renamed_splits(data: dict, error: Type[Exception],
                   where: str = 'data') -> dict:
  """A file's `data:` mapping with the earlier split names (train, val,
  val_annotations, test_annotations) renamed to SplitsConfig's, each with
  a warning; both names of one split is an error.

  Args:
    data: the mapping as read.
    error: the exception to raise (the file's own).
    where: its path in the file, for messages.

  Returns:
    A new mapping with today's names.
  """
  out = dict(data)
  for old, new in DATASET_SPLITS.items():
    if old == new or old not in out:
      continue
    if new in out:
      raise error(f'{where}.{old} and {where}.{new} name the same split; '
                  f'keep {where}.{new}')
    logging.warning('%s.%s is now called %s.%s', where, old, where, new)
    out[new] = out.pop(old)
  return out


def _is_config(kind) -> bool:
  return isinstance(kind, type) and issubclass(kind, hyperparams.Config)


def _check_value(value, want, path: str, error: Type[Exception]):
  if _is_config(want):
    check_fields(value, want, error, path)
  elif typing.get_origin(want) in (list, List):
    item, = typing.get_args(want) or (str,)
    if _is_config(item):
      if not isinstance(value, list):
        raise error(f'{path}: expected a list, got {value!r}')
      for i, v in enumerate(value):
        check_fields(v, item, error, f'{path}[{i}]')
      return
    names = {str: 'strings', int: 'integers', float: 'numbers'}
    try:
      if not isinstance(value, list):
        raise TypeError
      for v in value:
        _check_value(v, item, path, TypeError)
    except TypeError:
      raise error(f'{path}: expected a list of {names.get(item, item)}, got '
                  f'{value!r}') from None
  elif want is float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise error(f'{path}: expected a number, got {value!r}')
  elif isinstance(want, type) and (
      not isinstance(value, want) or
      (want is int and isinstance(value, bool))):
    raise error(f'{path}: expected {want.__name__}, got {value!r}')


def check_fields(raw, cls: Type[hyperparams.Config],
                 error: Type[Exception] = ValueError, where: str = ''):
  """A YAML mapping against a config dataclass, at any depth.

  Args:
    raw: the file's content (or a part of it).
    cls: the dataclass it must fit.
    error: the exception to raise (the file's own, e.g. RunError).
    where: the dotted path of `raw` in the file ('' at its root).

  Raises:
    error: an unknown key, or a value of the wrong type (a list of strings,
      a number, a mapping of another config...), naming its path.
  """
  if not isinstance(raw, dict):
    raise error(f'{where or "the file"}: expected a mapping, got {raw!r}')
  hints = typing.get_type_hints(cls)
  for key, value in raw.items():
    path = f'{where}.{key}' if where else key
    if key not in hints:
      raise error(f'{path}: unknown field; the fields are {sorted(hints)}')
    _check_value(value, hints[key], path, error)

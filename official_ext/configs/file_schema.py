"""What the run file (`self_train`) and the study file (`study`) share: the
model reference and the one strict loader of a YAML mapping.

A model in either file is a `ModelConfig`: a registered experiment, its
recipe, more YAML laid over it and `--params_override` items, as train.py
takes them. `check_fields` refuses an unknown key or a wrongly typed value
at any depth with one line naming it, before anything runs.
"""

import dataclasses
import typing
from typing import List, Type

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

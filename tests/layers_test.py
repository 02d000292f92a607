"""The package's imports run one way, down the layers of docs/development.md:
tools -> the apps (digits, shapes, study, benchmarks, testing) -> the
library (the loop, serving -> tasks -> self_training -> quality -> labeling
-> data -> configs). The library never imports an app; labeling never
imports quality; configs import nothing of ours but configs."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'official_ext'

# Lowest first; a module may import its own layer and the layers below.
LAYERS = {
    'configs': 0, 'patches': 1,
    'data': 1, 'dataloaders': 1,
    'labeling': 2,
    'quality': 3,
    'self_training': 4,
    'tasks': 5,
    'registry_imports': 6,
    'rounds': 7, 'utils': 7, 'serving': 7,
    'digits': 8, 'shapes': 8, 'study': 8, 'benchmarks': 8, 'testing': 8,
    'tools': 9,
}
# What a Model Garden user builds on (the self-training library) and what
# is built on it here (the built-in data and demo, the study, benchmarks,
# test helpers; the command-line tools): no library module imports an app.
APPS = ('digits', 'shapes', 'study', 'benchmarks', 'testing', 'tools')
LIBRARY = tuple(sorted(set(LAYERS) - set(APPS)))


def _layer(module: str) -> str:
  """'official_ext.labeling.teacher' -> 'labeling'."""
  return module.split('.')[1]


def _imports(path: pathlib.Path):
  """The official_ext modules (or packages) a file imports, anywhere in it
  (function-level imports count too)."""
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and (
        node.module == 'official_ext' or
        node.module.startswith('official_ext.')):
      if node.module == 'official_ext':
        yield from (f'official_ext.{a.name}' for a in node.names)
      else:
        yield node.module
    elif isinstance(node, ast.Import):
      yield from (a.name for a in node.names
                  if a.name.startswith('official_ext.'))


def _edges():
  for path in sorted(PACKAGE.rglob('*.py')):
    rel = path.relative_to(PACKAGE.parent).with_suffix('')
    module = '.'.join(rel.parts)
    if module.endswith('.__init__') or module == 'official_ext.__init__':
      continue
    for imported in _imports(path):
      yield module, imported


def test_every_package_has_a_layer():
  packages = {p.name for p in PACKAGE.iterdir()
              if p.is_dir() and (p / '__init__.py').exists()}
  modules = {p.stem for p in PACKAGE.glob('*.py') if p.stem != '__init__'}
  assert packages | modules == set(LAYERS), (
      'a package without a layer (or a layer without a package): add it to '
      'LAYERS and docs/development.md')


def test_no_import_runs_up_a_layer():
  up = [f'{a} -> {b}' for a, b in _edges()
        if LAYERS[_layer(b)] > LAYERS[_layer(a)]]
  assert not up, 'imports up a layer:\n' + '\n'.join(up)


def test_the_library_imports_no_app():
  assert max(LAYERS[p] for p in LIBRARY) < min(LAYERS[p] for p in APPS)
  back = [f'{a} -> {b}' for a, b in _edges()
          if _layer(a) in LIBRARY and _layer(b) in APPS]
  assert not back, 'the library imports an app:\n' + '\n'.join(back)


@pytest.mark.parametrize('layer,forbidden', [
    ('labeling', 'quality'),
    ('configs', 'data'),
])
def test_named_rules(layer, forbidden):
  found = [f'{a} -> {b}' for a, b in _edges()
           if _layer(a) == layer and _layer(b) == forbidden]
  assert not found, found


def test_the_checker_sees_an_upward_import(tmp_path, monkeypatch):
  """The rule can fail: a configs module importing labeling is caught."""
  fake = tmp_path / 'official_ext'
  (fake / 'configs').mkdir(parents=True)
  (fake / 'labeling').mkdir()
  for d in (fake, fake / 'configs', fake / 'labeling'):
    (d / '__init__.py').write_text('')
  (fake / 'configs' / 'bad.py').write_text(
      'def f():\n  from official_ext.labeling import teacher\n')
  monkeypatch.setattr(__import__(__name__), 'PACKAGE', fake)
  edges = list(_edges())
  assert ('official_ext.configs.bad', 'official_ext.labeling') in edges
  with pytest.raises(AssertionError, match='configs.bad -> official_ext'):
    test_no_import_runs_up_a_layer()

"""The package's imports run one way, down the layers of docs/development.md:
tools -> study, digits, the loop -> tasks -> self_training -> quality ->
labeling -> data -> configs. Labeling never imports quality; configs import
nothing of ours but configs."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / 'official_ext'

# Lowest first; a module may import its own layer and the layers below.
LAYERS = {
    'configs': 0,
    'data': 1, 'dataloaders': 1,
    'labeling': 2,
    'quality': 3,
    'self_training': 4,
    'tasks': 5,
    'registry_imports': 6,
    'digits': 7, 'shapes': 7, 'rounds': 7, 'study': 7, 'utils': 7, 'benchmarks': 7, 'testing': 7,
    'serving': 7,
    'tools': 8,
}


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

"""Launcher of `python -m official_ext.tools.make_shapes_dataset` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import make_shapes_dataset

if __name__ == '__main__':
  make_shapes_dataset.run()

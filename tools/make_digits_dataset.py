"""Launcher of `python -m official_ext.tools.make_digits_dataset` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import make_digits_dataset

if __name__ == '__main__':
  make_digits_dataset.run()

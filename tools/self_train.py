"""Launcher of `python -m official_ext.tools.self_train` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import self_train

if __name__ == '__main__':
  self_train.run()

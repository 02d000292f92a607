"""Launcher of `python -m official_ext.tools.create_pascal_tfrecord` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import create_pascal_tfrecord

if __name__ == '__main__':
  create_pascal_tfrecord.run()

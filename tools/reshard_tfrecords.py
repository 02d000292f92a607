"""Launcher of `python -m official_ext.tools.reshard_tfrecords` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import reshard_tfrecords

if __name__ == '__main__':
  reshard_tfrecords.run()

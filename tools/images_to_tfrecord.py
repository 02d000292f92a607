"""Launcher of `python -m official_ext.tools.images_to_tfrecord` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import images_to_tfrecord

if __name__ == '__main__':
  images_to_tfrecord.run()

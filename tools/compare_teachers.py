"""Launcher of `python -m official_ext.tools.compare_teachers` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import compare_teachers

if __name__ == '__main__':
  compare_teachers.run()

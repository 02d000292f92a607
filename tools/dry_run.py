"""Launcher of `python -m official_ext.tools.dry_run` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import dry_run

if __name__ == '__main__':
  dry_run.run()

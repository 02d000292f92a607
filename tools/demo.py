"""Launcher of `python -m official_ext.tools.demo` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import demo

if __name__ == '__main__':
  demo.run()

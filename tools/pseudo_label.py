"""Launcher of `python -m official_ext.tools.pseudo_label` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import pseudo_label

if __name__ == '__main__':
  pseudo_label.run()

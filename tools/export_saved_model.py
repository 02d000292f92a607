"""Launcher of `python -m official_ext.tools.export_saved_model` (flags and docs there).

Needs official_ext installed (`make install` does it: pip install -e .).
"""

from official_ext.tools import export_saved_model

if __name__ == '__main__':
  export_saved_model.run()

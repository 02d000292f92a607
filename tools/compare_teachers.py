"""Compare two detection teacher exports; see official_ext/tools/compare_teachers.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from official_ext.tools import compare_teachers  # pylint: disable=g-import-not-at-top

if __name__ == '__main__':
  compare_teachers.run()

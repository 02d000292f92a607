"""Pseudo-labels unlabeled TFRecords with a teacher SavedModel.

See official_ext/tools/pseudo_label.py (also used by the task's labeling on
first use) for the flags.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from official_ext.tools import pseudo_label  # pylint: disable=g-import-not-at-top

if __name__ == '__main__':
  pseudo_label.run()

"""Benchmarks as ratios; see official_ext/tools/benchmark.py for the flags."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from official_ext.tools import benchmark  # pylint: disable=g-import-not-at-top

if __name__ == '__main__':
  benchmark.run()

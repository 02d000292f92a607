"""official_ext/__init__.py: a tool process imports tf_keras, not Keras 3."""

import os
import subprocess
import sys

from conftest import child_failure
from conftest import REPO

_PROBE = ('import sys, official_ext.tools.train, tensorflow as tf, tf_keras\n'
          'print("keras.src" in sys.modules, tf.keras.Model is tf_keras.Model)')


def _probe(**env):
  clean = {k: v for k, v in os.environ.items() if k != 'TF_USE_LEGACY_KERAS'}
  proc = subprocess.run([sys.executable, '-c', _PROBE], cwd=REPO,
                        env=dict(clean, PYTHONPATH=REPO, **env),
                        capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, child_failure(proc, 3000)
  return proc.stdout.split()


def test_a_tool_process_loads_no_keras_3():
  # Keras 3 not imported; tf.keras is Model Garden's tf_keras.
  assert _probe() == ['False', 'True']


def test_a_users_setting_wins():
  assert _probe(TF_USE_LEGACY_KERAS='0') == ['True', 'False']

"""tool_process.run behaves as `python ARGS` for what the tests read: exit
status, output, environment, working directory, argv and fresh absl flags."""

import os
import subprocess
import sys

import pytest

import tool_process

from conftest import child_failure
from conftest import REPO
from conftest import python

_ENV = dict(os.environ, PYTHONPATH=REPO)

# A tool defining an absl flag that another tool defines too (--output_dir):
# each child gets its own flags, as in a new interpreter.
_TOOL = '''
import os, sys
from absl import app, flags
flags.DEFINE_string('output_dir', None, 'where')
def main(argv):
  print(flags.FLAGS.output_dir, os.getcwd(), os.environ.get('PROBE'), argv[1:])
  sys.exit(int(os.environ.get('EXIT', '0')))
app.run(main)
'''


@pytest.mark.parametrize('how, code, stderr', [
    ('sys.exit(3)', 3, ''),
    ('sys.exit("tool: error: bad flag")', 1, 'tool: error: bad flag'),
    ('raise ValueError("boom")', 1, 'ValueError: boom'),
    ('print("done")', 0, ''),
])
def test_exit_status_and_output_match_a_new_interpreter(how, code, stderr):
  args = ['-c', f'import sys\nprint("out")\n{how}']
  forked = tool_process.run(args, REPO, _ENV)
  fresh = subprocess.run([sys.executable] + args, cwd=REPO, env=_ENV,
                         capture_output=True, text=True)
  assert forked.returncode == fresh.returncode == code
  assert forked.stdout.splitlines()[0] == fresh.stdout.splitlines()[0] == (
      'out')
  assert stderr in forked.stderr and stderr in fresh.stderr


def test_each_child_has_its_flags_env_and_cwd(tmp_path):
  script = tmp_path / 'tool.py'
  script.write_text(_TOOL)
  for i in range(2):
    env = dict(_ENV, PROBE=f'p{i}', EXIT=str(i))
    proc = tool_process.run([str(script), f'--output_dir=o{i}', 'rest'],
                            str(tmp_path), env)
    assert proc.returncode == i, proc.stderr
    assert proc.stdout.split() == [f'o{i}', str(tmp_path), f'p{i}',
                                   "['rest']"]
  # The server's own environment and flags are untouched by a child's.
  assert 'PROBE' not in os.environ


def test_module_form_runs_the_tool_as_main():
  proc = tool_process.run(
      ['-m', 'official_ext.tools.pseudo_label', '--teacher=/no/such/teacher',
       '--input_pattern=/no/such/*.tfrecord', '--output_prefix=/tmp/x/p'],
      REPO, _ENV)
  assert proc.returncode != 0
  assert proc.stderr.strip().splitlines()[-1].startswith(
      'pseudo_label.py: error: teacher')


def test_another_pythonpath_gets_a_new_interpreter(tmp_path):
  (tmp_path / 'probe_module.py').write_text('X = 1\n')
  code = 'import sys, probe_module; print("tensorflow" in sys.modules)'
  proc = python(['-c', code], env=dict(os.environ, PYTHONPATH=str(tmp_path)))
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout.strip() == 'False'  # Nothing preloaded there.
  forked = python(['-c', 'import sys; print("tensorflow" in sys.modules)'])
  assert forked.stdout.strip() == 'True'


def test_a_failed_child_is_reported_at_the_line_that_raised():
  """child_failure puts the child's last frame in our code and its
  exception first, before the stderr tail."""
  proc = python(['-c', 'from official_ext.configs import file_schema\n'
                 "file_schema.check_fields({'x': 1}, file_schema.ModelConfig)"],
                timeout=300)
  assert proc.returncode == 1
  head, exception = child_failure(proc).splitlines()[:2]
  assert head.startswith('exited 1 at ') and 'file_schema.py:' in head
  assert head.endswith(' in check_fields'), head
  assert exception.startswith('ValueError: x: unknown field'), exception

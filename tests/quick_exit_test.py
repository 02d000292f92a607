"""quick_exit.main_without_teardown: a successful main ends the process after
the threads, thread pools and atexit handlers have finished, without the
interpreter's teardown; a failing one exits the usual way."""

import os
import subprocess
import sys
import textwrap

import pytest

from official_ext.utils import quick_exit

from conftest import REPO

_TOOL = textwrap.dedent('''
    import atexit, concurrent.futures, os, sys, threading, time
    from absl import app
    from official_ext.utils import quick_exit

    OUT = sys.argv[1]

    def touch(name):
      with open(os.path.join(OUT, name), 'w') as f:
        f.write(name)

    class Finalized:
      """Its __del__ runs only in the interpreter's teardown."""
      def __del__(self, open=open, path=os.path.join(OUT, 'teardown')):
        with open(path, 'w') as f:  # Builtins may be gone by then.
          f.write('teardown')

    KEEP = Finalized()

    def slow_write(name):
      time.sleep(0.5)
      touch(name)

    def main(argv):
      atexit.register(touch, 'atexit')
      threading.Thread(target=slow_write, args=('thread',)).start()
      pool = concurrent.futures.ThreadPoolExecutor(1)  # Never shut down.
      pool.submit(slow_write, 'pool')
      print('printed, not flushed', end='')
      if argv[2] == 'fail':
        sys.exit('tool: error: bad flag')
      return int(argv[2])

    app.run(quick_exit.main_without_teardown(main))
''')


def _run(tmp_path, how, asked=True):
  script = tmp_path / 'tool.py'
  script.write_text(_TOOL)
  out = tmp_path / 'out'
  out.mkdir()
  env = {k: v for k, v in os.environ.items() if k != quick_exit.ENV}
  if asked:
    env[quick_exit.ENV] = '1'
  proc = subprocess.run([sys.executable, str(script), str(out), how],
                        cwd=REPO, env=env, capture_output=True, text=True,
                        timeout=120)
  return proc, sorted(p.name for p in out.iterdir())


def test_success_waits_for_threads_and_atexit_then_skips_the_teardown(
    tmp_path):
  proc, files = _run(tmp_path, '0')
  assert proc.returncode == 0, proc.stderr
  assert proc.stdout == 'printed, not flushed'
  assert files == ['atexit', 'pool', 'thread']  # No 'teardown'.


@pytest.mark.parametrize('how, code, stderr', [
    ('fail', 1, 'tool: error: bad flag'), ('3', 3, '')])
def test_a_failure_exits_the_usual_way(tmp_path, how, code, stderr):
  proc, files = _run(tmp_path, how)
  assert proc.returncode == code
  assert proc.stderr.strip() == stderr
  assert files == ['atexit', 'pool', 'teardown', 'thread']


def test_without_an_orchestrator_a_tool_ends_the_usual_way(tmp_path):
  proc, files = _run(tmp_path, '0', asked=False)
  assert proc.returncode == 0, proc.stderr
  assert files == ['atexit', 'pool', 'teardown', 'thread']

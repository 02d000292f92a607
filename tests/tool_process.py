"""Runs a tool's command line in a process forked from a warm one.

Every tool process a test starts pays its imports first: TensorFlow and
Model Garden take ~3.4 s of CPU on an idle 2-core machine (~8 s on a slow
one), which is most of what a tool that fails fast, or labels a few images,
costs. `run` starts the command in a child forked (multiprocessing's
forkserver) from a server process that has imported them once per pytest
worker; the tool's own module, its absl flags, its `main` and everything
TensorFlow does at run time (devices, threads, graphs) are new in each
child, as in `python ARGS`. The server runs no TensorFlow op before forking.

What stays a real `python` process (the caller's choice): a command run
with another PYTHONPATH (e.g. an installed wheel), a test of what a process
does at start-up or import, a kill of a process group, processes started
side by side.
"""

import atexit
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import traceback

# Imported once by the server; no absl flags are defined at their import
# (the tools' modules define theirs, and are imported in each child).
PRELOAD = ('official_ext', 'tensorflow', 'official_ext.registry_imports')

# The server starts at the first `run` of a worker, not at this import.
_FORKSERVER = multiprocessing.get_context('forkserver')
_FORKSERVER.set_forkserver_preload(list(PRELOAD))


def _child(args, cwd, env, out_path, err_path):
  """The forked child: `python ARGS` in `cwd` with `env`, its output in
  the two files. Exit status as the interpreter's (SystemExit's code, 1
  and a traceback for an exception)."""
  os.chdir(cwd)
  os.environ.clear()
  os.environ.update(env)
  for fd, path in ((1, out_path), (2, err_path)):
    file = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    os.dup2(file, fd)
    os.close(file)
  code = 0
  try:
    if args[0] == '-m':
      sys.argv = list(args[1:])
      runpy.run_module(args[1], run_name='__main__', alter_sys=True)
    elif args[0] == '-c':
      sys.argv = ['-c'] + list(args[2:])
      exec(compile(args[1], '<string>', 'exec'), {'__name__': '__main__'})  # pylint: disable=exec-used
    else:
      sys.argv = list(args)
      sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
      runpy.run_path(args[0], run_name='__main__')
  except SystemExit as e:
    if e.code is None or isinstance(e.code, int):
      code = e.code or 0
    else:
      print(e.code, file=sys.stderr)
      code = 1
  except BaseException:  # pylint: disable=broad-except
    traceback.print_exc()
    code = 1
  atexit._run_exitfuncs()  # pylint: disable=protected-access
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # pylint: disable=protected-access


def run(args, cwd, env, timeout=900) -> subprocess.CompletedProcess:
  """`subprocess.run([sys.executable] + args, cwd=cwd, env=env,
  capture_output=True, text=True, timeout=timeout)`, in a forked child."""
  with tempfile.TemporaryDirectory() as tmp:
    out, err = os.path.join(tmp, 'out'), os.path.join(tmp, 'err')
    child = _FORKSERVER.Process(
        target=_child, args=(list(args), cwd, dict(env), out, err))
    child.start()
    child.join(timeout)
    if child.exitcode is None:
      child.kill()
      child.join()
      raise subprocess.TimeoutExpired([sys.executable] + list(args), timeout)
    with open(out, errors='replace') as f_out, open(
        err, errors='replace') as f_err:
      return subprocess.CompletedProcess(
          [sys.executable] + list(args), child.exitcode, f_out.read(),
          f_err.read())

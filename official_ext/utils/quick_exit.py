"""Ends a finished TensorFlow tool without Python's interpreter teardown.

After a tool's `main` returns, Python tears down every module and object
left: for a process that traced a model that means deleting each traced
function from TensorFlow's eager context, one at a time: seconds per
process, and the demo, the study and `self_train` run a dozen such stage
processes, the test suite about a hundred (docs/results/2026-11-29-test-time.md).

Only when an orchestrator asks for it: a process started with
OFFICIAL_EXT_QUICK_EXIT=1 in its environment (`ENV`: the stage runner of
the demo, the study and `self_train`, and the test suite set it; the
pseudo_label tool sets it itself when a training process started it with
--die_with_parent). A user's own run of a tool ends the usual way.

`main_without_teardown(main)` is the `main` to give `absl.app.run`: when
`main` succeeds in such a process, it does what the interpreter does first at exit (stop the
thread pools and join the non-daemon threads, run the atexit handlers, flush
the logs and streams), then ends the process with exit status 0 and skips
only the teardown. A failure (an exception, `sys.exit(message)`, a non-zero
return) exits the usual way.
"""

import atexit
import functools
import os
import sys
import threading
from typing import Callable

from absl import logging

# Set to '1' by an orchestrator in the environment of the tools it starts.
ENV = 'OFFICIAL_EXT_QUICK_EXIT'


def asked() -> bool:
  """Whether this process's orchestrator asked for the quick exit."""
  return os.environ.get(ENV) == '1'


def main_without_teardown(main: Callable) -> Callable:
  """`main` for `app.run`, ending the process without the teardown once it
  has returned successfully, when the orchestrator asked for it (`ENV`).

  Args:
    main: the tool's main(argv).

  Returns:
    A main(argv) that runs `main` and then, on success and when `asked()`,
    ends the process (exit status 0) without the interpreter's teardown.
  """

  @functools.wraps(main)
  def run_then_exit(argv):
    result = main(argv)
    # threading._shutdown is what Py_FinalizeEx runs first: it tells the
    # concurrent.futures pools to stop and joins the non-daemon threads.
    # Without it (another Python), the usual exit: nothing is lost.
    shutdown = getattr(threading, '_shutdown', None)
    if result not in (None, 0) or shutdown is None or not asked():
      return result
    shutdown()
    atexit._run_exitfuncs()  # pylint: disable=protected-access
    logging.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # pylint: disable=protected-access

  return run_then_exit

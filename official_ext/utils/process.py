"""Child-process helpers for labeling on first use."""

import os
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int):
  """Called in a child: SIGKILL it when its parent dies (Linux prctl
  PR_SET_PDEATHSIG), so a killed training job leaves no labeler running on,
  racing the restarted job's. Set here, in the child itself, not through
  `preexec_fn` in a multithreaded parent. If the parent is already gone,
  exit now. Elsewhere than Linux only that check is made."""
  try:
    import ctypes  # pylint: disable=g-import-not-at-top
    libc = ctypes.CDLL('libc.so.6', use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
  except (OSError, AttributeError):
    pass
  if os.getppid() != parent_pid:
    os._exit(1)  # pylint: disable=protected-access

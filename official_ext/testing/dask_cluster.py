"""A Dask cluster on this machine, as a user starts one on several.

`dask scheduler` on 127.0.0.1 and `dask worker` processes (one thread
each, no nanny: a worker killed stays dead, so its work must move to the
others), for the Dask runner's tests and benchmark. Torn down whatever
happens.
"""

import contextlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Dict, Iterator, List, Optional, Tuple


@contextlib.contextmanager
def local_cluster(work_dir: str, workers: int = 2,
                  env: Optional[Dict[str, str]] = None,
                  timeout: float = 120) -> Iterator[Tuple[str, List]]:
  """Starts the cluster; yields (scheduler address, worker Popens).

  Args:
    work_dir: where the scheduler writes its connection file.
    workers: how many single-threaded worker processes.
    env: the processes' environment (default: this one's).
    timeout: seconds to wait for the scheduler and every worker.

  Yields:
    The scheduler's address (tcp://127.0.0.1:PORT) and the workers' Popens,
    once every worker has registered.
  """
  dask = os.path.join(os.path.dirname(sys.executable), 'dask')
  os.makedirs(work_dir, exist_ok=True)
  info = pathlib.Path(work_dir) / 'scheduler.json'
  procs = []
  quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
               start_new_session=True, env=env)
  try:
    procs.append(subprocess.Popen(
        [dask, 'scheduler', '--host', '127.0.0.1', '--port', '0',
         '--no-dashboard', f'--scheduler-file={info}'], **quiet))
    deadline = time.time() + timeout
    address = None
    while (address is None and time.time() < deadline and
           procs[0].poll() is None):
      try:
        address = json.loads(info.read_text())['address']
      except (OSError, ValueError, KeyError):  # Not there or half written.
        time.sleep(0.2)
    if address is None:
      raise RuntimeError('the Dask scheduler did not start (exit code '
                         f'{procs[0].poll()}, {timeout} s allowed)')
    for _ in range(workers):
      procs.append(subprocess.Popen(
          [dask, 'worker', address, '--nthreads', '1', '--no-nanny',
           '--no-dashboard', '--host', '127.0.0.1'], **quiet))
    from distributed import Client  # pylint: disable=g-import-not-at-top
    with Client(address, timeout=timeout) as client:
      client.wait_for_workers(workers, timeout=timeout)
    yield address, procs[1:]
  finally:
    for proc in procs:
      if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
      proc.wait()

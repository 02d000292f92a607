"""Runs a pipeline's stages as child processes, one lane or several side by side.

A stage is one command (`python -m official_ext.tools.X ...`): its whole
output goes to a log file, its progress lines are echoed with the stage's name.
`run_lanes` runs independent chains of stages (e.g. the demo's detection and
segmentation loops) in threads; the first stage that fails stops every other
running stage and the error names the failed stage and its log.

On a small CPU two TensorFlow processes side by side do more work together
than one alone, provided each uses fewer intra-op threads (each process
otherwise spins its own pool of one thread per core): `lane_threads` is the
environment for each of N lanes.
"""

import concurrent.futures
import os
import re
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Sequence

from official_ext.utils import quick_exit

# absl's log prefix ("I1122 23:58:59.371453 1403 controller.py:278] ").
_ABSL_PREFIX = re.compile(r'^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\] ')


class StageFailed(Exception):
  """A stage's command exited non-zero (or was stopped by another's failure)."""


class Runner:
  """Starts stages; `stop()` terminates the ones still running."""

  def __init__(self, progress: Sequence[str], env: Dict[str, str] = None):
    self._progress = tuple(progress)
    self.env = dict(env or {})
    self._live = set()
    self._lock = threading.Lock()
    self._stopped = False
    self.commands = []  # {'stage', 'argv'} of every stage started.

  def run(self, stage: str, argv: List[str], log_path: str,
          env: Dict[str, str] = None) -> float:
    """Runs `python ARGV`, logging everything to `log_path` and echoing the
    lines that contain a progress marker; returns the stage's seconds."""
    print(f'[{stage}] python {" ".join(argv)}', flush=True)
    child_env = dict(os.environ, **{quick_exit.ENV: '1'}, **self.env,
                     **(env or {}))
    start = time.time()
    with open(log_path, 'w') as log:
      with self._lock:
        if self._stopped:
          raise StageFailed(f'[{stage}] not started: another stage failed')
        proc = subprocess.Popen([sys.executable] + argv, env=child_env,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        self._live.add(proc)
        self.commands.append({'stage': stage, 'argv': list(argv)})
      try:
        last = None
        for line in proc.stdout:
          log.write(line)
          message = _ABSL_PREFIX.sub('', line.strip())
          if message != last and any(p in message for p in self._progress):
            print(f'  [{stage}] {message[:140]}', flush=True)
            last = message
        proc.wait()
      finally:
        with self._lock:
          self._live.discard(proc)
    seconds = time.time() - start
    if proc.returncode:
      why = ('stopped: another stage failed' if self._stopped
             else f'failed (exit {proc.returncode})')
      raise StageFailed(f'[{stage}] {why}; see {log_path}')
    print(f'[{stage}] done in {seconds:.0f} s', flush=True)
    return seconds

  def stop(self):
    """Terminates every running stage; stages not yet started will not
    start."""
    with self._lock:
      self._stopped = True
      live = list(self._live)
    for proc in live:
      proc.terminate()
    for proc in live:
      try:
        proc.wait(timeout=30)
      except subprocess.TimeoutExpired:
        proc.kill()


def lane_threads(num_lanes: int, cpus: int = 0) -> Dict[str, str]:
  """TensorFlow thread counts for each of `num_lanes` processes side by side
  on `cpus` CPUs (default: this machine's); {} for one lane (TF's own
  defaults). On 2 cores: intra-op 1 and inter-op 2 per process
  (docs/results/2026-11-25-demo.md)."""
  if num_lanes <= 1:
    return {}
  cpus = cpus or os.cpu_count() or 1
  share = max(1, cpus // num_lanes)
  return {'TF_NUM_INTRAOP_THREADS': str(share),
          'TF_NUM_INTEROP_THREADS': str(max(2, share))}


def run_lanes(runner: Runner, lanes: Dict[str, Callable[[], object]]
              ) -> Dict[str, object]:
  """Runs each lane (a function that runs its stages in order through
  `runner`) in a thread of its own; returns {name: its result}. When a lane
  raises, the other lanes' running stages are stopped and the first error is
  raised."""
  if len(lanes) == 1:
    (name, fn), = lanes.items()
    return {name: fn()}
  with concurrent.futures.ThreadPoolExecutor(len(lanes)) as pool:
    futures = {pool.submit(fn): name for name, fn in lanes.items()}
    done, _ = concurrent.futures.wait(
        futures, return_when=concurrent.futures.FIRST_EXCEPTION)
    failed = [f for f in done if f.exception() is not None]
    if failed:
      runner.stop()
      concurrent.futures.wait(futures)
      raise failed[0].exception()
  return {futures[f]: f.result() for f in futures}

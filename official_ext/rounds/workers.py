"""K workers sharing one run folder: what a worker waits for.

Worker 0 trains and exports; the others wait for its records (a stage
done) and for every worker's pseudo-label shards. Nothing here locks:
each wait polls what the writers leave whole (a stage record, the
labeling report, both written atomically).
"""

import time
from typing import Callable

import tensorflow as tf

from official_ext.labeling import labeling_report
from official_ext.rounds import stage_records


def wait(what: str, ready: Callable[[], bool], worker_index: int,
         poll_seconds: float):
  """Polls `ready()` until true, saying what it waits for once a minute.

  Args:
    what: the thing waited for, for the log line.
    ready: returns True when the wait is over.
    worker_index: this worker's index (the log line's prefix).
    poll_seconds: the pause between two calls of `ready`.
  """
  start = last = time.time()
  while not ready():
    if time.time() - last >= 60:
      print(f'[worker {worker_index}] waiting for {what} '
            f'({time.time() - start:.0f} s)', flush=True)
      last = time.time()
    time.sleep(poll_seconds)


def stage_done(records: stage_records.StageRecords, stage: str) -> bool:
  """Whether a stage is done.

  Args:
    records: the run's stage records.
    stage: the stage's name (`round_1/student_export`).

  Returns:
    True when its record says done.
  """
  return (records.read(stage) or {}).get('state') == stage_records.DONE


def labels_complete(prefix: str) -> bool:
  """Whether every worker's pseudo-label shards are written.

  Args:
    prefix: the shards' output prefix.

  Returns:
    True when PREFIX_report.json exists and lists no missing shard (the
    last worker to finish writes the report that covers every shard).
  """
  try:
    report = labeling_report.read_report(prefix)
  except (tf.errors.NotFoundError, ValueError):
    return False
  return not report.get('shards_missing')

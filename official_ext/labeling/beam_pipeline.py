"""Pseudo-labeling on Apache Beam: one output shard per element.

`python -m official_ext.tools.pseudo_label ... --runner=DataflowRunner`
(or DirectRunner, DaskRunner, FlinkRunner, SparkRunner, PortableRunner,
with Beam's own options passed through) runs the pipeline

  unfinished shard indices -> Reshuffle -> LabelShard -> report

It uses only Create, ParDo, GroupByKey and Flatten underneath (Reshuffle
and ToList expand to them), the transforms Beam's DaskRunner translates;
on Dask, Reshuffle moves nothing, so each shard index is its own partition
(`--dask_partition_size=1` unless given, beam_runners.py) and the scheduler
spreads them.

`LabelShard` gets the teacher once per worker process (`process_teacher`:
a process-level cache by the teacher's path and fingerprint, since
DaskRunner calls DoFn.setup for every partition; threads of one process
share it, and where the pipeline runs in the launcher's process, as the
DirectRunner's in-memory and multi-threading modes do, it is the teacher
the launcher loaded) and labels a
shard with the single-machine tool's own pieces (`pipeline.label_shards`:
the same tf.data input, labeler and `PseudoShardWriter`), so the shard's
bytes are the ones `pipeline.label` writes with the same --num_shards. Each
attempt writes under a temporary name of its own and renames when complete:
a bundle the runner retries or runs twice writes the same bytes and never
leaves a partial file under a final name; a shard already complete is
skipped. The last step sums the shards' stats into `{prefix}_report.json`
and writes the overlays, as `pipeline.label` does.

Progress shows in the runner's UI and logs as Beam counters in the
`pseudo_label` namespace: shards, images, boxes or pixels, skipped_<reason>
(DaskRunner collects no counters: the report, which counts the shards'
own stats, is the record there). The report's `workers` says which worker
process labeled how many shards and how often it loaded the teacher.
"""

import dataclasses
import os
import socket
import threading
import uuid
from typing import Dict, List, Optional, Sequence

from absl import logging
import apache_beam as beam
import tensorflow as tf

from official_ext.data import sharded_writer
from official_ext.labeling import beam_runners
from official_ext.labeling import labelers
from official_ext.labeling import labeling_report
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline
from official_ext.labeling import provenance
from official_ext.labeling import pseudo_shards

NAMESPACE = 'pseudo_label'
# Labeler stats summed into a counter of the same name.
COUNTED_STATS = ('num_images', 'num_boxes', 'num_pixels', 'ignored_pixels')


def _counter(name: str):
  return beam.metrics.Metrics.counter(NAMESPACE, name)


# This process's teacher: (key, teacher) for the last one asked for, and how
# many times this process loaded one. A worker process loads its teacher
# once, however often the runner sets up the DoFn; a long-lived worker (a
# Dask cluster's) keeps only the latest, and a teacher retrained at the same
# path has another fingerprint, so it is loaded again.
_TEACHER = {'key': None, 'teacher': None, 'loads': 0}
_TEACHER_LOCK = threading.Lock()


def process_teacher(config: labeling_options.LabelingOptions, key: tuple):
  """The teacher for this process, loaded once (a process-level cache: the
  runner sets a DoFn up per bundle or partition).

  Args:
    config: the labeling options (the teacher's path, task, classes).
    key: (path, fingerprint) of the teacher.

  Returns:
    The loaded Teacher.
  """
  with _TEACHER_LOCK:
    if _TEACHER['key'] != key:
      _TEACHER.update(key=key, teacher=pipeline.load_teacher(config)[0])
      _TEACHER['loads'] += 1
    return _TEACHER['teacher']


def _share_teacher(teacher, key: tuple):
  """Hands the launcher's loaded teacher to DoFns in its own process."""
  with _TEACHER_LOCK:
    _TEACHER.update(key=key, teacher=teacher)


def _worker() -> dict:
  """Who this worker process is, and its teacher loads so far."""
  return {'host': socket.gethostname(), 'pid': os.getpid(),
          'teacher_loads': _TEACHER['loads']}


# Our DoFn, not Beam's RunInference: a shard is the unit of work (one
# element), so its bytes match the single-machine run's; RunInference batches
# elements across shards as the runner pleases.
class LabelShard(beam.DoFn):
  """Output shard index -> that shard, labeled and renamed when complete.

  Yields (index, overlays, teacher warm-up seconds, worker) for each shard
  it labeled, and (index, [], 0, worker marked found_complete) for a shard
  another attempt already finished (e.g. a worker that died after writing
  it, whose result the engine computes again). Only
  `overlay_shard` draws overlays (the report shows one shard's, as the
  single-machine run does), so no shard decodes images for nothing and no
  images travel through the pipeline but those.
  """

  def __init__(self, config: labeling_options.LabelingOptions,
               plan: List[List[str]], overlay_shard: Optional[int] = None,
               class_thresholds: Optional[Dict[int, float]] = None,
               teacher_key: Optional[tuple] = None,
               made_from: Optional[Dict[int, dict]] = None):
    super().__init__()
    self._config = config
    self._made_from = made_from
    self._teacher_key = teacher_key or (config.teacher, None)
    self._class_thresholds = class_thresholds
    self._plan = plan
    self._overlay_shard = overlay_shard
    self._teacher = self._labeler = None
    self._warm_up_seconds = 0.0

  def setup(self):
    # As the single-machine tool: same input, byte-identical shards.
    tf.config.experimental.enable_op_determinism()
    # `config` already has the teacher's batch size (see `label`).
    self._teacher = process_teacher(self._config, self._teacher_key)
    self._labeler = labelers.for_teacher(self._teacher,
                                         self._config.score_threshold,
                                         self._class_thresholds)
    self._warm_up_seconds = pipeline.warm_up(
        self._teacher, self._labeler, self._config.batch_size)

  def shard_writer(self, index: int, overlays: list):
    """The single-machine writer for this one shard; the temporary name is
    this attempt's own (process id and a random part), so attempts running
    at once do not collide.

    Args:
      index: the shard.
      overlays: the list its overlays are appended to.

    Returns:
      A PseudoShardWriter over it.
    """
    config = self._config
    if index != self._overlay_shard:
      config = dataclasses.replace(config, num_overlays=0)
    return pseudo_shards.PseudoShardWriter(
        config, self._labeler, [index], self._plan, overlays,
        tmp_suffix=f'.tmp-beam-{os.getpid()}-{uuid.uuid4().hex}',
        made_from=self._made_from)

  def process(self, index: int):
    """Labels one shard (unless complete).

    Args:
      index: the shard.

    Yields:
      (index, overlays, warm-up seconds, this worker's record).
    """
    path = sharded_writer.shard_path(self._config.output_prefix, index,
                                     len(self._plan))
    if sharded_writer.is_complete(path):
      _counter('shards_already_complete').inc()
      yield index, [], 0.0, dict(_worker(), found_complete=True)
      return
    overlays = []
    pipeline.label_shards(self._teacher, self.shard_writer(index, overlays),
                          self._config)
    stats = sharded_writer.read_stats(path)
    _counter('shards').inc()
    for key in COUNTED_STATS:
      if key in stats:
        _counter(key[4:] if key.startswith('num_') else key).inc(stats[key])
    for reason, n in stats['skipped'].items():
      _counter(f'skipped_{reason}').inc(n)
    yield index, overlays, self._warm_up_seconds, _worker()


def _workers(results: Sequence[tuple]) -> Dict[str, dict]:
  """Per worker process (host:pid): the shards it labeled, those it found
  already complete, and its teacher loads."""
  workers = {}
  for index, _, _, worker in results:
    name = f"{worker['host']}:{worker['pid']}"
    entry = workers.setdefault(name, {'shards': [], 'found_complete': [],
                                      'teacher_loads': 0})
    entry['found_complete' if worker.get('found_complete') else
          'shards'].append(index)
    entry['teacher_loads'] = max(entry['teacher_loads'],
                                 worker['teacher_loads'])
  return {n: {k: sorted(v) if isinstance(v, list) else v
              for k, v in w.items()} for n, w in sorted(workers.items())}


def write_outputs(results: Sequence[tuple],
                  config: labeling_options.LabelingOptions,
                  num_shards: int, teacher_export_warning: Optional[str]):
  """Writes the report over every complete shard and the overlays (of the
  first shard labeled); removes temporary files of attempts that lost a
  race or died.

  Args:
    results: every shard's `LabelShard.process` output.
    config: the labeling options.
    num_shards: the run's shards.
    teacher_export_warning: the teacher's slow-export reason, or None.
  """
  for j in range(num_shards):
    path = sharded_writer.shard_path(config.output_prefix, j, num_shards)
    if sharded_writer.is_complete(path):
      for stale in (tf.io.gfile.glob(path + '.tmp-beam-*') +
                    tf.io.gfile.glob(
                        sharded_writer.stats_path(path) + '.tmp-beam-*')):
        tf.io.gfile.remove(stale)
  overlays = [image for _, images, _, _ in sorted(results,
                                                   key=lambda r: r[0])
              for image in images][:config.num_overlays]
  labeling_report.write_overlays(config.output_prefix, overlays)
  report = labeling_report.aggregate_report(config, num_shards)
  report['warm_up_seconds'] = max([r[2] for r in results],
                                  default=0.0)
  report['workers'] = _workers(results)
  report['teacher_export_warning'] = teacher_export_warning
  labeling_report.write_report(config.output_prefix, report)


def build(p: beam.Pipeline, config: labeling_options.LabelingOptions,
          plan: List[List[str]], todo: List[int],
          teacher_export_warning: Optional[str] = None,
          label_fn_class=LabelShard,
          class_thresholds: Optional[Dict[int, float]] = None,
          teacher_key: Optional[tuple] = None,
          made_from: Optional[Dict[int, dict]] = None):
  """Adds the labeling steps to a Beam pipeline.

  Args:
    p: the pipeline.
    config: the labeling options.
    plan: output shard j -> its input files.
    todo: the shards to label.
    teacher_export_warning: the teacher's slow-export reason, or None.
    label_fn_class: the DoFn (LabelShard; tests swap it).
    class_thresholds: {class id: threshold}, or None.
    teacher_key: (path, fingerprint) of the teacher.
    made_from: shard -> the record of what makes it.
  """
  labeled = (p
             | 'Shards' >> beam.Create(todo)
             | 'Spread' >> beam.Reshuffle()
             | 'Label' >> beam.ParDo(label_fn_class(
                 config, plan, overlay_shard=min(todo, default=None),
                 class_thresholds=class_thresholds,
                 teacher_key=teacher_key, made_from=made_from)))
  _ = (labeled
       | 'Gather' >> beam.combiners.ToList()
       | 'Report' >> beam.Map(write_outputs, config, len(plan),
                              teacher_export_warning))


def check(config: labeling_options.LabelingOptions):
  """Checks the options for a Beam run.

  Args:
    config: the labeling options.

  Raises:
    ValueError: bad options, or options a Beam run does not take.
  """
  config.check()
  if config.num_workers != 1:
    raise ValueError('--num_workers/--worker_index split the work between '
                     'processes started by hand; with --runner the runner '
                     'spreads the shards: leave them out.')


def label(config: labeling_options.LabelingOptions, beam_args: Sequence[str],
          runner: str, label_fn_class=LabelShard, teacher=None,
          class_thresholds: Optional[Dict[int, float]] = None) -> dict:
  """Labels every unfinished shard on `runner`; writes and returns the
  report.

  The teacher is loaded here first (unless given, as `pipeline.label`
  takes it), so a bad teacher fails before a job is submitted;
  `config.num_workers`/`worker_index` do not apply (the runner spreads the
  shards).

  Args:
    config: the labeling options.
    beam_args: Beam's pipeline options.
    runner: the runner's name.
    label_fn_class: the DoFn (LabelShard; tests swap it).
    teacher: one `pipeline.load_teacher(config)` returned, or None.
    class_thresholds: {class id: threshold}, or None.

  Returns:
    The report, also written beside the shards.
  """
  check(config)
  config = dataclasses.replace(config, show_progress=False)
  plan = pipeline.plan(config)
  if teacher is None:
    teacher, config = pipeline.load_teacher(config)
  class_thresholds = class_thresholds or {}
  # Workers in this process (the DirectRunner's in-memory and threaded
  # modes) take this teacher instead of loading their own.
  teacher_key = (config.teacher, provenance.teacher_fingerprint(teacher.path))
  _share_teacher(teacher, teacher_key)
  expected = pipeline.made_from(config, teacher, plan, class_thresholds)
  _, todo = pipeline.prepare_output(config, plan, expected)
  options = beam_runners.pipeline_options(runner, beam_args)
  logging.info('%s: %d of %d shards to label, teacher %s.', runner,
               len(todo), len(plan), teacher.path)
  beam_run = beam.Pipeline(options=options)
  build(beam_run, config, plan, todo, teacher.slow_export_reason,
        label_fn_class, class_thresholds, teacher_key, expected)
  result = beam_run.run()
  result.wait_until_finish()
  report = labeling_report.read_report(config.output_prefix)
  report['class_thresholds'] = labelers.thresholds_record(
      config.score_threshold, class_thresholds)['class_thresholds']
  report['runner'] = runner
  report['runner_counters'] = beam_runners.counters(result, NAMESPACE)
  labeling_report.write_report(config.output_prefix, report)
  return report

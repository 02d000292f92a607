"""Pseudo-labeling: a teacher SavedModel labels unlabeled TFRecords.

One code path serves `python -m official_ext.tools.pseudo_label` and the
task's labeling on first use (`first_use.py`). Input: TFRecords of
TFExamples with `image/encoded` (any labels are dropped). Output:
`{prefix}-{j:05d}-of-{N:05d}.tfrecord` in Model Garden's TFExample format,
a `.stats.json` per shard and `{prefix}_report.json`.

The pieces, one module each: `shard_plan` (which files make which shard,
which worker labels it), `input_pipeline` (the tf.data pipeline),
`labelers` (teacher outputs -> labels), `pseudo_shards` (labels -> records
in resumable shards), `labeling_report` (the report and overlays). This
module runs them: four stages overlap. tf.data decodes and batches ahead
(prefetch, its own threads), the main thread runs the teacher, a pool of
label threads (one per CPU, `labeling_threads`) turns batches of teacher
outputs into labels (the segmentation masks are TensorFlow ops, which
release the GIL), and one writer thread turns labeled batches into records
in input order. Python touches a batch in every stage but the last.
"""

import collections
from concurrent import futures
import dataclasses
import os
import threading
import time
from typing import Dict, List, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from official_ext.data import sharded_writer
from official_ext.labeling import input_pipeline
from official_ext.labeling import labelers
from official_ext.labeling import labeling_report
from official_ext.labeling import options as labeling_options
from official_ext.labeling import provenance
from official_ext.labeling import pseudo_shards
from official_ext.labeling import shard_plan
from official_ext.labeling import teacher as teacher_lib

PROGRESS_LOG_SECONDS = 60
MAX_LABELING_THREADS = 8


def _run_teacher(teacher, batch):
  """(meta, outputs, teacher seconds) of one input batch."""
  t0 = time.time()
  outputs = teacher(input_pipeline.pad_batch(batch['image'],
                                             teacher.batch_size))
  seconds = time.time() - t0
  return ({k: batch[k].numpy() for k in input_pipeline.META_KEYS}, outputs,
          seconds)


def warm_up(teacher, labeler, batch_size: int) -> float:
  """Runs one zero batch through the teacher and the labeler: their first
  calls optimize and trace graphs, a cost of the process, not of the images.

  Args:
    teacher: a loaded Teacher.
    labeler: its task's labeler (labelers.for_teacher).
    batch_size: the batch the run uses.

  Returns:
    The seconds it took.
  """
  start = time.perf_counter()
  height, width = teacher.input_size or (64, 64)
  outputs = teacher(np.zeros([batch_size, height, width, 3], np.uint8))
  labeler.batch_labels(outputs, np.ones([batch_size], np.float32),
                       np.full([batch_size], height),
                       np.full([batch_size], width))
  return time.perf_counter() - start


def labeling_threads() -> int:
  """Batches labeled at once (the label stage's threads): one per CPU the
  process may use, at most MAX_LABELING_THREADS."""
  return max(1, min(MAX_LABELING_THREADS, input_pipeline.usable_cpus()))


def label_shards(teacher, writer: pseudo_shards.PseudoShardWriter, config):
  """Streams the writer's shards through the teacher (see the module doc).

  Also the unit of work of a Beam run (`beam_pipeline`: one shard each).

  Args:
    teacher: a loaded Teacher.
    writer: the shard writer, over the shards to label.
    config: the labeling options (batch size, progress).
  """
  def relabel(shard, file_index, records):
    # Good records after a damaged one, read back by bad_inputs: the same
    # decoding and teacher, from the writer's thread.
    for batch in input_pipeline.records_dataset(
        records, shard, file_index, config.batch_size, teacher.input_size,
        teacher.pad_value):
      yield _run_teacher(teacher, batch)

  writer.relabel = relabel
  progress = None
  if config.show_progress:
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    progress = tqdm(unit='img', desc=os.path.basename(config.output_prefix))
  pending = collections.deque()
  done = 0

  def finish_oldest():
    nonlocal done
    n = pending.popleft()[0].result()  # Re-raises a stage's error here.
    done += n
    if progress is not None:
      progress.update(n)
    logging.log_every_n_seconds(logging.INFO, 'Labeled %d images.',
                                PROGRESS_LOG_SECONDS, done)

  writer.advance_to(writer.todo[0])  # Shard times tile the run.
  dataset = input_pipeline.build_dataset(
      writer.files, config.batch_size, teacher.input_size,
      writer.file_shards, teacher.pad_value)
  threads = labeling_threads()
  failed = threading.Event()  # Once a batch fails, no later one is written.

  def write(meta, labels, seconds):
    if failed.is_set():
      return 0
    try:
      return writer.write_batch(meta, labels.result(), seconds)
    except BaseException:
      failed.set()
      raise

  try:
    with futures.ThreadPoolExecutor(threads) as label_pool, \
        futures.ThreadPoolExecutor(1) as write_pool:
      try:
        for batch in dataset:
          meta, outputs, seconds = _run_teacher(teacher, batch)
          if len(pending) > threads:
            finish_oldest()
          labels = label_pool.submit(writer.labels, meta, outputs)
          pending.append((write_pool.submit(write, meta, labels, seconds),
                          labels))
        while pending:
          finish_oldest()
        writer.finish()
      finally:
        for futures_of_batch in pending:
          for f in futures_of_batch:
            f.cancel()
  finally:
    writer.close()
    if progress is not None:
      progress.close()


def plan(config: labeling_options.LabelingOptions) -> List[List[str]]:
  """Which input files each output shard holds.

  Args:
    config: the labeling options (input_pattern, num_shards).

  Returns:
    Output shard j -> its input files.
  """
  return shard_plan.plan_shards(shard_plan.input_files(config.input_pattern),
                                config.num_shards)


def load_teacher(config: labeling_options.LabelingOptions):
  """Loads the teacher SavedModel.

  Args:
    config: the labeling options.

  Returns:
    (the Teacher, the options with the teacher's batch size when its
    export fixes one).
  """
  teacher = teacher_lib.Teacher(config.teacher, config.task,
                                num_classes=config.num_classes)
  if teacher.batch_size and teacher.batch_size != config.batch_size:
    logging.warning('Teacher %s was exported with batch size %d; using it '
                    'instead of --batch_size=%d.', teacher.path,
                    teacher.batch_size, config.batch_size)
    config = dataclasses.replace(config, batch_size=teacher.batch_size)
  return teacher, config


def made_from(config: labeling_options.LabelingOptions, teacher, shards: List[List[str]],
              class_thresholds: Optional[Dict[int, float]]) -> Dict[int, dict]:
  """What makes each of this worker's shards (provenance.py).

  Args:
    config: the labeling options.
    teacher: the loaded Teacher.
    shards: output shard j -> its input files (`plan`).
    class_thresholds: {class id: threshold}, or None.

  Returns:
    Shard j -> its record, for this worker's shards.
  """
  fingerprint = provenance.teacher_fingerprint(teacher.path)
  thresholds = labelers.thresholds_record(config.score_threshold,
                                          class_thresholds)
  mine = shard_plan.worker_shards(len(shards), config.num_workers,
                                  config.worker_index)
  return {j: provenance.made_from(config.task, fingerprint, shards[j],
                                  len(shards), thresholds) for j in mine}


def prepare_output(config: labeling_options.LabelingOptions, shards: List[List[str]],
                   expected: Dict[int, dict]):
  """Creates the output folder and checks what is already there.

  Args:
    config: the labeling options (output_prefix, overwrite, worker).
    shards: output shard j -> its input files.
    expected: this worker's shards -> their records (`made_from`).

  Returns:
    (this worker's shards, those of them not yet complete).

  Raises:
    StaleOutputError: a finished shard made from other inputs, or shards
      of another shard count under the prefix, unless `config.overwrite`
      (which removes them first).
  """
  out_dir = os.path.dirname(config.output_prefix)
  if out_dir:
    tf.io.gfile.makedirs(out_dir)
  mine = sorted(expected)  # This worker's shards (`made_from`).
  prefix = config.output_prefix
  if config.overwrite:
    provenance.remove_outputs(prefix, mine, len(shards),
                              everything=config.worker_index == 0)
  sharded_writer.check_shard_count(prefix, len(shards))
  sharded_writer.check_finished(prefix, mine, len(shards), expected)
  return mine, shard_plan.unfinished(prefix, mine, len(shards))


def label(config: labeling_options.LabelingOptions, teacher=None,
          class_thresholds: Optional[Dict[int, float]] = None) -> dict:
  """Labels this worker's shards (docs/pseudo_labeling.md).

  Args:
    config: the labeling options.
    teacher: one `load_teacher(config)` returned (with that config), or
      None to load it here.
    class_thresholds: {class id: threshold} over `config.score_threshold`
      (the quality package picks them from a calibration set; the
      pseudo_label tool composes the two).

  Returns:
    The report over the finished shards, also written beside them.

  Raises:
    ValueError: bad options, or finished shards made from other inputs
      (provenance.py) without `config.overwrite`.
  """
  config.check()
  shards = plan(config)
  if teacher is None:
    teacher, config = load_teacher(config)
  class_thresholds = class_thresholds or {}
  expected = made_from(config, teacher, shards, class_thresholds)
  mine, todo = prepare_output(config, shards, expected)
  logging.info('Worker %d/%d: %d of %d shards (%d already complete) from %d '
               'files; teacher %s.', config.worker_index, config.num_workers,
               len(mine), len(shards), len(mine) - len(todo),
               sum(len(p) for p in shards), teacher.path)
  overlays = []
  warm_up_seconds = 0.0
  if todo:
    labeler = labelers.for_teacher(teacher, config.score_threshold,
                                   class_thresholds)
    warm_up_seconds = warm_up(teacher, labeler, config.batch_size)
    label_shards(teacher, pseudo_shards.PseudoShardWriter(
        config, labeler, todo, shards, overlays, made_from=expected), config)
  labeling_report.write_overlays(config.output_prefix, overlays)
  report = labeling_report.aggregate_report(config, len(shards))
  report['class_thresholds'] = labelers.thresholds_record(
      config.score_threshold, class_thresholds)['class_thresholds']
  report['warm_up_seconds'] = warm_up_seconds
  report['teacher_export_warning'] = teacher.slow_export_reason
  if report.get('teacher_images_per_second'):
    logging.info('Teacher served %.1f img/s (batch %d).',
                 report['teacher_images_per_second'], config.batch_size)
  labeling_report.write_report(config.output_prefix, report)
  return report

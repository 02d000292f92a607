"""Labeled batches -> pseudo-label records in consecutive output shards.

`PseudoShardWriter` takes labeled batches (`labels`: the teacher's outputs
through the labeler) in input order, turns each image's labels into a Model
Garden TFExample, keeps the shard's statistics, and finishes each shard
(`sharded_writer.Shard`: stats, then rename) once the stream has moved past
it. Records the pipeline
dropped are found by `bad_inputs.RecordTracker`, counted by reason, or, with
`strict`, raised; good records the stream lost after a damaged one are
labeled on their own (`relabel`) and written in their place.

Traceability: `image/source_id` must be an integer for Model Garden's
parsers; an input id that is not one is replaced by a stable number, and
every record keeps the input's id in `image/original_source_id` (empty when
the input had none) and its `image/filename` when the input has one.
"""

import os
import time
from typing import Callable, Dict, Iterable, List, Optional

from absl import logging
import numpy as np
import tensorflow as tf

from official_ext.data import sharded_writer
from official_ext.data import tfexample
from official_ext.labeling import bad_inputs
from official_ext.labeling import labelers

MAX_SKIPPED_LISTED = 100  # Per shard, in its stats and the report.


def numeric_source_id(raw: bytes, encoded: bytes) -> str:
  """A pseudo-labeled image's source id (Model Garden's parsers need
  integers).

  Args:
    raw: the input's image/source_id.
    encoded: its encoded image.

  Returns:
    `raw` when numeric, else a stable numeric id from it (or from the image
    bytes when it is empty).
  """
  if raw.isdigit():
    return raw.decode()
  return tfexample.numeric_id(raw or encoded)


class PseudoShardWriter:
  """Writes the records of output shards `todo`, in order."""

  def __init__(self, config, labeler, todo: List[int],
               plan: List[List[str]], overlays: List[np.ndarray],
               tmp_suffix: Optional[str] = None,
               made_from: Optional[Dict[int, dict]] = None):
    """`tmp_suffix`: of the shards' temporary names (default: one per
    worker, `.tmp-I`; attempts that may run at once need their own).
    `made_from`: shard j -> what makes it, kept in its stats."""
    self.config, self.labeler, self.plan = config, labeler, plan
    self.made_from = made_from or {}
    self.tmp_suffix = tmp_suffix or f'.tmp-{config.worker_index}'
    self.todo = list(todo)
    self.num_shards = len(plan)
    self.overlays = overlays
    self.current: Optional[int] = None
    self.shard: Optional[sharded_writer.Shard] = None
    self.stats = None
    self.start = 0.0
    # The stream's files, in order, and the output shard of each.
    self.files = [f for j in todo for f in plan[j]]
    self.file_shards = [j for j in todo for _ in plan[j]]
    self.tracker = bad_inputs.RecordTracker(self.files, self.skip,
                                            self._recover)
    # (shard, file index, [(record index, bytes)]) -> (meta, outputs,
    # teacher seconds) batches: the teacher on records read outside the
    # stream. Set by whoever runs the teacher (pipeline.label_shards).
    self.relabel: Optional[Callable[..., Iterable[tuple]]] = None
    self.recovered = 0  # Records written through `relabel`.

  def skip(self, file_index: int, record_index: int, reason: str,
           detail: str):
    """Counts (or, strict, raises on) an input record that was not labeled.

    Args:
      file_index: its file's index.
      record_index: its index in the file.
      reason: why (bad_inputs' reasons).
      detail: the error's first line.

    Raises:
      BadInputError: with `strict`.
    """
    where = f'{self.files[file_index]} record {record_index}'
    if self.config.strict:
      raise bad_inputs.BadInputError(
          f'bad input {where}: {reason} ({detail}). Fix or remove it, or run '
          'without --strict to skip bad inputs and count them in the report.')
    logging.warning('Skipping %s: %s (%s).', where, reason, detail)
    self.advance_to(self.file_shards[file_index])
    skipped = self.stats['skipped']
    skipped[reason] = skipped.get(reason, 0) + 1
    listed = self.stats['skipped_inputs']
    if len(listed) < MAX_SKIPPED_LISTED:
      listed[where] = reason

  def _open(self, j: int):
    self.current = j
    final = sharded_writer.shard_path(self.config.output_prefix, j,
                                      self.num_shards)
    self.shard = sharded_writer.Shard(final, tmp_suffix=self.tmp_suffix)
    self.stats = dict(num_images=0, skipped={}, skipped_inputs={},
                      teacher_seconds=0.0, **self.labeler.new_stats(),
                      thresholds=labelers.thresholds_record(
                          self.labeler.score_threshold,
                          self.labeler.class_thresholds))
    self.start = time.time()

  def _finish(self):
    stats = self.stats
    stats['seconds'] = time.time() - self.start
    stats['input_files'] = [os.path.basename(f)
                            for f in self.plan[self.current]]
    if self.current in self.made_from:
      stats['made_from'] = self.made_from[self.current]
    self.shard.finish(stats)
    logging.info('Shard %s: %d images, %.1f img/s.', self.shard.final,
                 stats['num_images'],
                 stats['num_images'] / max(stats['seconds'], 1e-9))
    self.current = self.shard = None

  def advance_to(self, j: Optional[int]):
    """Finishes shards until one is open; shards with no record at all are
    finished empty.

    Args:
      j: the shard to open (None: finish all).

    Raises:
      RuntimeError: a record of a shard already finished.
    """
    while self.current != j:
      if self.current is not None:
        self._finish()
      if not self.todo:
        if j is not None:
          raise RuntimeError(f'record of shard {j} after its shard finished')
        return
      self._open(self.todo.pop(0))

  def finish(self):
    """After the last batch: the dropped records at the end, all shards."""
    self.tracker.finish()
    self.advance_to(None)

  def close(self):
    """Without finishing: the open shard stays a temporary file."""
    if self.shard is not None:
      self.shard.abandon()

  def _recover(self, file_index: int, records) -> List[int]:
    """Labels and writes good records the stream dropped; their indices."""
    if self.relabel is None:
      return []
    labeled = []
    for meta, outputs, seconds in self.relabel(
        self.file_shards[file_index], file_index, records):
      self._write(meta, self.labels(meta, outputs), seconds, track=False)
      labeled.extend(int(k) for k in meta['record'])
    self.recovered += len(labeled)
    return labeled

  def labels(self, meta, outputs) -> List[dict]:
    """Each image's labels from the teacher outputs of one batch. Needs
    nothing of the writer's state, so batches may be labeled in parallel
    (pipeline.label_shards) and written in order after.

    Args:
      meta: the batch's META_KEYS (input_pipeline).
      outputs: the teacher's outputs on it.

    Returns:
      The labeler's labels, per image.
    """
    return self.labeler.batch_labels(outputs, meta['scale'], meta['height'],
                                     meta['width'])

  def write_batch(self, meta, labels: List[dict],
                  teacher_seconds: float) -> int:
    """Writes one batch's records, in order.

    Args:
      meta: the batch's META_KEYS.
      labels: its labels (`labels`).
      teacher_seconds: the teacher's time on it (for the report).

    Returns:
      The images written (with any good records written in place of
      dropped ones).
    """
    before = self.recovered
    n = self._write(meta, labels, teacher_seconds, track=True)
    return n + self.recovered - before

  def _write(self, meta, batch: List[dict], teacher_seconds: float,
             track: bool) -> int:
    n = len(meta['height'])
    for i, labels in enumerate(batch):
      if track:
        self.tracker.seen(int(meta['file'][i]), int(meta['record'][i]))
      self.advance_to(int(meta['shard'][i]))
      encoded = meta['encoded'][i]
      example = tfexample.make_example(
          None, numeric_source_id(meta['source_id'][i], encoded),
          encoded_image=encoded,
          image_format=meta['format'][i].decode() or 'jpeg',
          height=int(meta['height'][i]), width=int(meta['width'][i]),
          original_source_id=meta['source_id'][i].decode(errors='replace'),
          filename=meta['filename'][i].decode(errors='replace') or None,
          **self.labeler.example_fields(labels))
      self.shard.write(example.SerializeToString(deterministic=True))
      self.labeler.update_stats(self.stats, labels)
      self.stats['num_images'] += 1
      self.stats['teacher_seconds'] += teacher_seconds / n
      if len(self.overlays) < self.config.num_overlays:
        image = tf.io.decode_image(encoded, channels=3,
                                   expand_animations=False).numpy()
        self.overlays.append(self.labeler.draw(image, labels))
    return n

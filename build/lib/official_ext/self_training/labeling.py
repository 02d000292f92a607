"""Sharded, resumable pseudo-labeling: teacher SavedModel -> TFRecords.

One code path serves `tools/pseudo_label.py` and the task's labeling on
first use. Input: TFRecords of TFExamples with `image/encoded` (any labels
are dropped). Output: `{prefix}-{j:05d}-of-{N:05d}.tfrecord` in Model Garden's
TFExample format, plus a `.stats.json` per shard and `{prefix}_report.json`.

Sharding: output shard j holds input files j, j+N, j+2N, ... (sorted), so
each input file is read once overall; worker I of K labels the shards with
j % K == I. A shard is written to a temporary name and renamed when
complete: rerunning skips finished shards, and a partial shard is never
visible under its final name.
"""

import collections
from concurrent import futures
import dataclasses
import json
import os
import time
from typing import Dict, List, Optional, Sequence

from absl import logging
import numpy as np
import tensorflow as tf

from official_ext.data import record_files
from official_ext.data import tfexample
from official_ext.self_training import bad_inputs
from official_ext.self_training import labelers
from official_ext.self_training import teacher as teacher_lib

@dataclasses.dataclass
class LabelingConfig:
  teacher: str
  task: str = 'detection'
  input_pattern: str = ''
  output_prefix: str = ''
  score_threshold: float = 0.5
  num_shards: int = 0          # 0: one output shard per input file.
  num_workers: int = 1
  worker_index: int = 0
  batch_size: int = 8
  num_classes: Optional[int] = None  # The student's, checked if given.
  num_overlays: int = 4
  show_progress: bool = True
  strict: bool = False  # The first bad input is an error, not a skip.

  def check(self):
    if not self.input_pattern:
      raise ValueError('--input_pattern is empty: give the unlabeled '
                       'TFRecords, e.g. "unlabeled-*.tfrecord".')
    if not self.output_prefix:
      raise ValueError('--output_prefix is empty, e.g. OUT/pseudo.')
    if not 0.0 <= self.score_threshold <= 1.0:
      raise ValueError(f'--score_threshold={self.score_threshold}: must be '
                       'in [0, 1].')
    if self.num_workers < 1 or not 0 <= self.worker_index < self.num_workers:
      raise ValueError(f'--worker_index={self.worker_index} must be in '
                       f'[0, --num_workers={self.num_workers}).')
    if self.batch_size < 1:
      raise ValueError(f'--batch_size={self.batch_size}: must be >= 1.')


def shard_path(prefix: str, index: int, num_shards: int) -> str:
  return f'{prefix}-{index:05d}-of-{num_shards:05d}.tfrecord'


def output_pattern(prefix: str) -> str:
  return f'{prefix}-*-of-*.tfrecord'


def input_files(pattern: str) -> List[str]:
  return record_files.match(pattern, '--input_pattern')


def plan_shards(files: List[str], num_shards: int) -> List[List[str]]:
  num_shards = num_shards or len(files)
  if num_shards > len(files):
    raise ValueError(
        f'--num_shards={num_shards} but only {len(files)} input files: each '
        'shard needs at least one file (shard the input further with '
        'tools/images_to_tfrecord.py --num_shards).')
  return [files[j::num_shards] for j in range(num_shards)]


def _atomic_write_text(path: str, text: str):
  tmp = path + '.tmp'
  with tf.io.gfile.GFile(tmp, 'w') as f:
    f.write(text)
  tf.io.gfile.rename(tmp, path, overwrite=True)


# ---- input pipeline ------------------------------------------------------------

def _fit_size(height, width, target):
  """Model Garden's resize-to-fit: scale and scaled size (no upscale limit)."""
  scale = tf.minimum(tf.cast(target[0], tf.float32) / tf.cast(height, tf.float32),
                     tf.cast(target[1], tf.float32) / tf.cast(width, tf.float32))
  scaled = tf.cast(tf.round(tf.cast(tf.stack([height, width]), tf.float32) *
                            scale), tf.int32)
  return scale, scaled


def build_dataset(files: List[str], batch_size: int,
                  target_size: Optional[List[int]],
                  shards: Optional[List[int]] = None,
                  pad_value: Sequence[int] = (0, 0, 0)) -> tf.data.Dataset:
  """Decoded images resized to fit `target_size` (as the exported model
  would) and padded, so any image sizes batch together; records in order.

  The padding is `pad_value` (RGB): the exported model normalizes, then
  pads with 0, i.e. with its normalization mean in pixel values; padding
  with black instead would change what it sees near (and, through global
  pooling, far from) the image's edge.

  Each element's 'shard' is the output shard of its file (`shards[i]` for
  `files[i]`, default 0): one pipeline streams over all of a worker's
  shards, so decoding never stalls at a shard boundary. 'file' and
  'record' are its position (index into `files`, record in that file);
  records that fail to read or decode are left out.
  """
  shards = [0] * len(files) if shards is None else shards

  def decode(serialized, shard, file_index, record_index):
    feats = tf.io.parse_single_example(serialized, {
        'image/encoded': tf.io.FixedLenFeature([], tf.string),
        'image/source_id': tf.io.FixedLenFeature([], tf.string,
                                                 default_value=''),
        'image/format': tf.io.FixedLenFeature([], tf.string,
                                              default_value=''),
    })
    image = tf.io.decode_image(feats['image/encoded'], channels=3,
                               expand_animations=False)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    if target_size is None:
      scale = tf.constant(1.0)
      fitted = image
    else:
      scale, scaled = _fit_size(height, width, target_size)
      same = tf.reduce_all(tf.equal(scaled, tf.stack([height, width])))
      fitted = tf.cond(
          same, lambda: image,
          lambda: tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
              image, scaled, method='bilinear')), 0, 255), tf.uint8))
      pad = tf.constant(pad_value, tf.int32)
      fitted = tf.cast(tf.image.pad_to_bounding_box(
          tf.cast(fitted, tf.int32) - pad, 0, 0, target_size[0],
          target_size[1]) + pad, tf.uint8)
    return {'image': fitted, 'scale': scale, 'height': height,
            'width': width, 'encoded': feats['image/encoded'],
            'format': feats['image/format'],
            'source_id': feats['image/source_id'], 'shard': shard,
            'file': file_index, 'record': record_index}

  ds = tf.data.Dataset.from_tensor_slices(
      (tf.constant(files, tf.string), tf.constant(shards, tf.int32),
       tf.range(len(files), dtype=tf.int64)))
  ds = ds.flat_map(lambda f, j, i: tf.data.TFRecordDataset(f).enumerate().map(
      lambda k, r: (r, j, i, k)))
  ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  # A record that cannot be read or decoded is dropped here, not fatal;
  # bad_inputs.RecordTracker finds it from the (file, record) positions.
  ds = ds.ignore_errors()
  ds = ds.batch(batch_size if target_size else 1)
  return ds.prefetch(tf.data.AUTOTUNE)


def _source_id(raw: bytes, encoded: bytes) -> str:
  """The input's id when numeric (Model Garden's parsers need integers),
  else a stable numeric id from it (or from the image bytes)."""
  if raw.isdigit():
    return raw.decode()
  return tfexample.numeric_id(raw or encoded)


# ---- the run ---------------------------------------------------------------------

_META_KEYS = ('scale', 'height', 'width', 'encoded', 'format', 'source_id',
              'shard', 'file', 'record')
MAX_SKIPPED_LISTED = 100  # Per shard, in its stats and the report.


def pad_batch(images, fixed_batch_size: Optional[int]):
  """A last, short batch padded for a SavedModel exported with a fixed
  batch size (its extra outputs are never read)."""
  missing = (fixed_batch_size or 0) - int(images.shape[0])
  if missing <= 0:
    return images
  return tf.pad(images, [[0, missing], [0, 0], [0, 0], [0, 0]])


class _ShardWriter:
  """Writes records of consecutive output shards; finishes each shard
  (its .stats.json, then the rename to its final name) once the stream has
  moved past it. Shards with no record at all are finished empty."""

  def __init__(self, config, labeler, todo: List[int], num_shards: int,
               plan: List[List[str]], overlays: List[np.ndarray]):
    self.config, self.labeler, self.plan = config, labeler, plan
    self.todo = list(todo)
    self.num_shards = num_shards
    self.overlays = overlays
    self.current = None
    self.writer = self.stats = None
    self.start = 0.0
    # The stream's files, in order, and the output shard of each.
    self.files = [f for j in todo for f in plan[j]]
    self.file_shards = [j for j in todo for _ in plan[j]]
    self.tracker = bad_inputs.RecordTracker(self.files, self.skip)

  def skip(self, file_index: int, record_index: int, reason: str,
           detail: str):
    """Counts (or, strict, raises on) an input record that was not labeled."""
    path = self.files[file_index]
    where = f'{path} record {record_index}'
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

  def _open(self, j):
    self.current = j
    final = shard_path(self.config.output_prefix, j, self.num_shards)
    self.tmp = f'{final}.tmp-{self.config.worker_index}'
    self.writer = tf.io.TFRecordWriter(self.tmp)
    self.stats = dict(num_images=0, skipped={}, skipped_inputs={},
                      teacher_seconds=0.0,
                      **self.labeler.new_stats())
    self.start = time.time()

  def _finish(self):
    j, stats = self.current, self.stats
    self.writer.close()
    stats['seconds'] = time.time() - self.start
    stats['input_files'] = [os.path.basename(f) for f in self.plan[j]]
    final = shard_path(self.config.output_prefix, j, self.num_shards)
    _atomic_write_text(final + '.stats.json', json.dumps(stats))
    tf.io.gfile.rename(self.tmp, final, overwrite=True)
    logging.info('Shard %s: %d images, %.1f img/s.', final,
                 stats['num_images'],
                 stats['num_images'] / max(stats['seconds'], 1e-9))
    self.current = self.writer = None

  def advance_to(self, j: Optional[int]):
    """Finishes shards until `j` is open (None: finish all)."""
    while self.current != j:
      if self.current is not None:
        self._finish()
      if not self.todo:
        if j is not None:
          raise RuntimeError(f'record of shard {j} after its shard finished')
        return
      self._open(self.todo.pop(0))

  def close(self):
    """Without finishing: the open shard stays a temporary file."""
    if self.writer is not None:
      self.writer.close()

  def write_batch(self, meta, outputs, teacher_seconds) -> int:
    """Teacher outputs of one batch -> examples (runs on the writer thread)."""
    n = len(meta['height'])
    batch = self.labeler.batch_labels(outputs, meta['scale'], meta['height'],
                                      meta['width'])
    for i, labels in enumerate(batch):
      self.tracker.seen(int(meta['file'][i]), int(meta['record'][i]))
      self.advance_to(int(meta['shard'][i]))
      height, width = int(meta['height'][i]), int(meta['width'][i])
      encoded = meta['encoded'][i]
      example = tfexample.make_example(
          None, _source_id(meta['source_id'][i], encoded),
          encoded_image=encoded,
          image_format=meta['format'][i].decode() or 'jpeg', height=height,
          width=width, **self.labeler.example_fields(labels))
      self.writer.write(example.SerializeToString(deterministic=True))
      self.labeler.update_stats(self.stats, labels)
      self.stats['num_images'] += 1
      self.stats['teacher_seconds'] += teacher_seconds / n
      if len(self.overlays) < self.config.num_overlays:
        image = tf.io.decode_image(encoded, channels=3,
                                   expand_animations=False).numpy()
        self.overlays.append(self.labeler.draw(image, labels))
    return n


def _label_shards(teacher, labeler, todo, plan, config, overlays):
  """Labels output shards `todo` (of `plan`) in one stream.

  Three stages overlap: tf.data decodes and batches ahead (prefetch), the
  main thread runs the teacher, and one writer thread turns the previous
  batch's outputs into examples (one thread, so records keep input order).
  TensorFlow releases the GIL while the teacher runs.
  """
  files = [f for j in todo for f in plan[j]]
  shards = [j for j in todo for _ in plan[j]]
  sink = _ShardWriter(config, labeler, todo, len(plan), plan, overlays)
  progress = None
  if config.show_progress:
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    progress = tqdm(unit='img', desc=os.path.basename(config.output_prefix))
  pending = collections.deque()

  def finish_oldest():
    done = pending.popleft().result()  # Re-raises a writer error here.
    if progress is not None:
      progress.update(done)

  sink.advance_to(todo[0])  # Shard times tile the run, startup included.
  try:
    with futures.ThreadPoolExecutor(max_workers=1) as pool:
      try:
        for batch in build_dataset(files, config.batch_size,
                                   teacher.input_size, shards,
                                   teacher.pad_value):
          t0 = time.time()
          outputs = teacher(pad_batch(batch['image'], teacher.batch_size))
          seconds = time.time() - t0
          meta = {k: batch[k].numpy() for k in _META_KEYS}
          if len(pending) >= 2:
            finish_oldest()
          pending.append(pool.submit(sink.write_batch, meta, outputs,
                                     seconds))
        while pending:
          finish_oldest()
        sink.tracker.finish()
        sink.advance_to(None)
      finally:
        for f in pending:
          f.cancel()
  finally:
    sink.close()
    if progress is not None:
      progress.close()


def aggregate_report(config: LabelingConfig, num_shards: int) -> dict:
  """Sums the per-shard stats that exist into one report."""
  total, done = None, 0
  for j in range(num_shards):
    path = shard_path(config.output_prefix, j, num_shards)
    if not (tf.io.gfile.exists(path) and
            tf.io.gfile.exists(path + '.stats.json')):
      continue
    done += 1
    with tf.io.gfile.GFile(path + '.stats.json') as f:
      s = json.load(f)
    if total is None:
      total = s
      continue
    for k, v in s.items():
      if isinstance(v, (int, float)):
        total[k] += v
      elif isinstance(v, list):
        total[k] = [a + b for a, b in zip(total[k], v)]
      elif isinstance(v, dict):
        for kk, vv in v.items():
          total[k][kk] = (vv if isinstance(vv, str) else
                          total[k].get(kk, 0) + vv)
  total = total or {}
  n = total.get('num_images', 0)
  report = {
      'task': config.task, 'teacher': config.teacher,
      'score_threshold': config.score_threshold,
      'shards_complete': done, 'num_shards': num_shards,
      'images_labeled': n,
      'images_skipped': sum(total.get('skipped', {}).values()),
      'skipped_reasons': total.get('skipped', {}),
      'skipped_inputs': total.get('skipped_inputs', {}),
  }
  report.update(labelers.LABELERS[config.task](
      config.score_threshold).report(total, n))
  if total.get('teacher_seconds'):
    report['teacher_images_per_second'] = n / total['teacher_seconds']
  if total.get('seconds'):
    report['images_per_second'] = n / total['seconds']
  return report


def label(config: LabelingConfig) -> dict:
  """Labels this worker's shards; returns the report over finished shards."""
  config.check()
  files = input_files(config.input_pattern)
  plan = plan_shards(files, config.num_shards)
  num_shards = len(plan)
  teacher = teacher_lib.Teacher(config.teacher, config.task,
                                num_classes=config.num_classes)
  if teacher.batch_size and teacher.batch_size != config.batch_size:
    logging.warning('Teacher %s was exported with batch size %d; using it '
                    'instead of --batch_size=%d.', teacher.path,
                    teacher.batch_size, config.batch_size)
    config = dataclasses.replace(config, batch_size=teacher.batch_size)
  labeler = labelers.for_teacher(teacher, config.score_threshold)
  out_dir = os.path.dirname(config.output_prefix)
  if out_dir:
    tf.io.gfile.makedirs(out_dir)
  mine = [j for j in range(num_shards)
          if j % config.num_workers == config.worker_index]
  logging.info('Worker %d/%d: %d of %d shards from %d files; teacher %s.',
               config.worker_index, config.num_workers, len(mine), num_shards,
               len(files), teacher.path)
  todo = []
  for j in mine:
    final = shard_path(config.output_prefix, j, num_shards)
    if tf.io.gfile.exists(final) and tf.io.gfile.exists(final + '.stats.json'):
      logging.info('Shard %s is complete; skipping.', final)
    else:
      todo.append(j)
  overlays = []
  warm_up_seconds = 0.0
  if todo:
    warm_up_seconds = teacher.warm_up(config.batch_size)
    _label_shards(teacher, labeler, todo, plan, config, overlays)
  _write_overlays(config.output_prefix, overlays)
  report = aggregate_report(config, num_shards)
  report['teacher_warm_up_seconds'] = warm_up_seconds
  report['teacher_export_warning'] = teacher.slow_export_reason
  if report.get('teacher_images_per_second'):
    logging.info('Teacher served %.1f img/s (batch %d).',
                 report['teacher_images_per_second'], config.batch_size)
  _atomic_write_text(config.output_prefix + '_report.json',
                     json.dumps(report, indent=2))
  return report


def _write_overlays(prefix: str, overlays: List[np.ndarray]):
  if not overlays:
    return
  out_dir = prefix + '_overlays'
  tf.io.gfile.makedirs(out_dir)
  for k, image in enumerate(overlays):
    with tf.io.gfile.GFile(os.path.join(out_dir, f'{k:02d}.png'), 'wb') as f:
      f.write(tfexample.encode_png(image))


# ---- labeling on first use (inside the training task) ---------------------------

def worker_slice_from_tf_config() -> tuple:
  """(num_workers, worker_index) of this process in a TF_CONFIG cluster."""
  tf_config = json.loads(os.environ.get('TF_CONFIG') or '{}')
  cluster = tf_config.get('cluster', {})
  members = [(t, i) for t in ('chief', 'worker')
             for i in range(len(cluster.get(t, [])))]
  me = (tf_config.get('task', {}).get('type'),
        tf_config.get('task', {}).get('index', 0))
  if not members or me not in members:
    return 1, 0
  return len(members), members.index(me)


def _die_with_parent():
  """In the labeler child: SIGKILL it when the training process dies (Linux
  prctl PR_SET_PDEATHSIG), so a killed job leaves no labeler running on,
  racing the restarted job's labeler. Elsewhere a no-op."""
  try:
    import ctypes  # pylint: disable=g-import-not-at-top
    import signal  # pylint: disable=g-import-not-at-top
    libc = ctypes.CDLL('libc.so.6', use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG.
  except (OSError, AttributeError):
    pass


def label_on_first_use(task: str, teacher: str, input_pattern: str,
                       output_dir: str, score_threshold: float,
                       num_classes: Optional[int] = None,
                       batch_size: int = 8,
                       poll_seconds: float = 10.0) -> str:
  """Labels raw images into `output_dir` once; returns the output pattern.

  Runs tools/pseudo_label.py's code in a subprocess (the same code path as
  the tool; no SavedModel state in the training process). Finished shards
  are reused, so a restarted job resumes. In a multi-worker job each worker
  labels its slice, then waits until every shard is there.
  """
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  prefix = os.path.join(output_dir, 'pseudo')
  num_shards = len(plan_shards(input_files(input_pattern), 0))
  finals = [shard_path(prefix, j, num_shards) for j in range(num_shards)]

  def missing():
    return [p for p in finals if not (tf.io.gfile.exists(p) and
                                      tf.io.gfile.exists(p + '.stats.json'))]

  if missing():
    num_workers, worker_index = worker_slice_from_tf_config()
    logging.info('Labeling %s with teacher %s into %s (worker %d of %d).',
                 input_pattern, teacher, output_dir, worker_index, num_workers)
    cmd = [sys.executable, '-m', 'official_ext.tools.pseudo_label',
           f'--teacher={teacher}', f'--task={task}',
           f'--input_pattern={input_pattern}', f'--output_prefix={prefix}',
           f'--score_threshold={score_threshold}',
           f'--num_workers={num_workers}', f'--worker_index={worker_index}',
           f'--batch_size={batch_size}', '--no_progress']
    if num_classes is not None:
      cmd.append(f'--num_classes={num_classes}')
    env = dict(os.environ)
    env.pop('TF_CONFIG', None)  # The labeler is a plain single process.
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          preexec_fn=_die_with_parent)
    if proc.returncode:
      raise RuntimeError(f'Pseudo-labeling failed (exit {proc.returncode}):\n'
                         f'{proc.stderr[-4000:]}')
    while missing():
      logging.info('Waiting for %d pseudo-label shards from other workers.',
                   len(missing()))
      time.sleep(poll_seconds)
  else:
    logging.info('Reusing the pseudo labels in %s.', output_dir)
  return output_pattern(prefix)

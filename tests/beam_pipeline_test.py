"""Pseudo-labeling on Apache Beam (DirectRunner) writes the single-machine
tool's bytes, survives a failed attempt, and reports the same counts.

Every run is `python -m official_ext.tools.pseudo_label` in its own process,
as a user runs it (the labeler turns on TensorFlow's op determinism, which a
test process could not turn off again).
"""

import os
import textwrap

import pytest
import tensorflow as tf

from official_ext.data import sharded_writer
from official_ext.labeling import labeling_report

from conftest import child_failure
from conftest import python
from conftest import shard_bytes

NUM_SHARDS = 2
# Several batches per shard (a failure can land inside one), the last one
# short: 8 images per shard.
BATCH = 3


def _tool(teacher, task, pattern, prefix, *extra, check=True,
          threshold=0.3):
  proc = python(
      ['-m', 'official_ext.tools.pseudo_label',
       f'--teacher={teacher}', f'--task={task}', f'--input_pattern={pattern}',
       f'--output_prefix={prefix}', f'--score_threshold={threshold}',
       f'--num_shards={NUM_SHARDS}', f'--batch_size={BATCH}', '--no_progress',
       *extra], timeout=600)
  if check:
    assert proc.returncode == 0, child_failure(proc, 4000)
  return proc


def _shards(prefix):
  return shard_bytes(prefix, NUM_SHARDS)


_report = labeling_report.read_report


@pytest.fixture(scope='module')
def references(digits_data, fake_teacher, fake_seg_teacher,
               fake_threshold, tmp_path_factory):
  """task -> the single-machine tool's output (made once), the bytes every
  Beam run must equal."""
  made = {}

  def get(task):
    if task not in made:
      teacher = {'detection': fake_teacher,
                 'segmentation': fake_seg_teacher}[task]
      # Detection: a threshold that keeps some of this teacher's boxes.
      threshold = fake_threshold if task == 'detection' else 0.3
      prefix = str(tmp_path_factory.mktemp(f'single_{task}') / 'pseudo')
      _tool(teacher, task, digits_data['unlabeled'], prefix,
            threshold=threshold)
      made[task] = dict(task=task, teacher=teacher, threshold=threshold,
                        pattern=digits_data['unlabeled'], prefix=prefix)
    return made[task]
  return get


# In-process, two threads, the launcher's teacher shared.
THREADS = ('--direct_num_workers=2', '--direct_running_mode=multi_threading')
# Two worker processes: the DoFn pickled, each worker loads its own teacher
# (as on Dataflow). The DoFn is the same for both tasks, and each worker
# process costs a TensorFlow start, so it runs for detection only.
PROCESSES = ('--direct_num_workers=2',
             '--direct_running_mode=multi_processing')


@pytest.mark.parametrize('task, mode', [
    ('detection', THREADS), ('detection', PROCESSES),
    ('segmentation', THREADS)], ids=['detection-threads',
                                     'detection-processes',
                                     'segmentation-threads'])
def test_direct_runner_is_byte_identical(references, task, mode, tmp_path):
  single_machine = references(task)
  prefix = str(tmp_path / 'pseudo')
  _tool(single_machine['teacher'], single_machine['task'],
        single_machine['pattern'], prefix, '--runner=DirectRunner', *mode,
        threshold=single_machine['threshold'])
  expected = _shards(single_machine['prefix'])
  assert sum(len(s) for s in expected) > 0
  assert _shards(prefix) == expected
  # The same report keys and counts (timings and the runner's own aside).
  single, beam = _report(single_machine['prefix']), _report(prefix)
  assert set(beam) - set(single) == {'runner', 'runner_counters', 'workers'}
  # In-process threads share the launcher's teacher; each worker process
  # loads its own, once.
  loads = [w['teacher_loads'] for w in beam['workers'].values()]
  assert loads == ([0] if mode == THREADS else [1] * len(loads)), beam[
      'workers']
  assert sorted(j for w in beam['workers'].values()
                for j in w['shards']) == list(range(NUM_SHARDS))
  assert not any(w['found_complete'] for w in beam['workers'].values())
  for key in ('images_labeled', 'images_skipped', 'shards_complete',
              'num_shards', 'skipped_reasons', 'class_counts',
              'boxes_per_image_mean', 'boxes_per_image_histogram',
              'score_histogram', 'class_pixel_counts', 'ignored_fraction',
              'confidence_histogram'):
    assert beam.get(key) == single.get(key), key
  counters = beam['runner_counters']
  assert counters['images'] == single['images_labeled'] == 16
  assert counters['shards'] == NUM_SHARDS
  if single_machine['task'] == 'detection':
    assert counters['boxes'] == round(single['boxes_per_image_mean'] * 16)
    assert counters['boxes'] > 0
  else:
    assert counters['pixels'] == 16 * 128 * 128
  assert len(os.listdir(prefix + '_overlays')) == 4
  # Nothing temporary left beside the shards.
  assert not tf.io.gfile.glob(prefix + '-*.tmp*')


_DIES_MID_SHARD = textwrap.dedent('''
    """A LabelShard whose attempt at shard 1 dies after writing 2 images."""
    import sys
    from official_ext.labeling import beam_pipeline
    from official_ext.labeling import options as labeling_options

    class DiesMidShard(beam_pipeline.LabelShard):

      def shard_writer(self, index, overlays):
        writer = super().shard_writer(index, overlays)
        if index == 1:
          write_batch = writer.write_batch
          def dying(*args):
            n = write_batch(*args)
            if writer.stats['num_images'] >= 2:
              writer.close()  # As a dying worker leaves it: a temp file.
              raise RuntimeError('worker died mid-shard')
            return n
          writer.write_batch = dying
        return writer

    teacher, task, pattern, prefix, threshold, batch_size = sys.argv[1:]
    beam_pipeline.label(labeling_options.LabelingOptions(
        teacher=teacher, task=task, input_pattern=pattern,
        output_prefix=prefix, score_threshold=float(threshold), num_shards=2,
        batch_size=int(batch_size)), [], 'DirectRunner',
        label_fn_class=DiesMidShard)
''')


def test_failed_attempt_then_rerun_is_byte_identical(references, tmp_path):
  single_machine = references('detection')
  prefix = str(tmp_path / 'pseudo')
  script = tmp_path / 'dies.py'
  script.write_text(_DIES_MID_SHARD)
  proc = python(
      [str(script), single_machine['teacher'], 'detection',
       single_machine['pattern'], prefix, str(single_machine['threshold']),
       str(BATCH)], cwd=str(tmp_path), timeout=600)
  assert proc.returncode != 0 and 'worker died mid-shard' in proc.stderr
  broken = sharded_writer.shard_path(prefix, 1, NUM_SHARDS)
  assert not os.path.exists(broken)  # No partial file under a final name,
  partial = tf.io.gfile.glob(broken + '.tmp-beam-*')
  assert partial and os.path.getsize(partial[0]) > 0  # but a partial one.
  _tool(single_machine['teacher'], 'detection', single_machine['pattern'],
        prefix, '--runner=DirectRunner', threshold=single_machine['threshold'])
  assert _shards(prefix) == _shards(single_machine['prefix'])
  assert not tf.io.gfile.glob(prefix + '-*.tmp*')
  # A rerun with every shard complete labels nothing (no shard reaches a
  # worker), keeps the bytes and reports every shard again.
  _tool(single_machine['teacher'], 'detection', single_machine['pattern'],
        prefix, '--runner=DirectRunner', threshold=single_machine['threshold'])
  report = _report(prefix)
  assert report['runner_counters'] == {}
  assert report['shards_complete'] == NUM_SHARDS
  assert report['images_labeled'] == 16
  assert _shards(prefix) == _shards(single_machine['prefix'])


def test_beam_options_without_runner_are_refused(fake_teacher, digits_data,
                                                 tmp_path):
  proc = _tool(fake_teacher, 'detection', digits_data['unlabeled'],
               str(tmp_path / 'p'), '--direct_num_workers=2', check=False)
  assert proc.returncode != 0
  last = proc.stderr.strip().splitlines()[-1]
  assert '--direct_num_workers=2' in last and '--runner' in last


def test_workers_by_hand_and_runner_are_exclusive(fake_teacher, digits_data,
                                                  tmp_path):
  proc = _tool(fake_teacher, 'detection', digits_data['unlabeled'],
               str(tmp_path / 'p'), '--runner=DirectRunner',
               '--num_workers=2', check=False)
  assert proc.returncode != 0
  assert '--num_workers' in proc.stderr.strip().splitlines()[-1]

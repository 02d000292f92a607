"""The self_train tool end to end (--quick, the digits segmenter): two rounds
from the session's exported test teacher where round 2's teacher is round
1's student export, a rerun that skips every finished stage, a run killed
with -9 inside labeling and inside export that ends as the uninterrupted
one did (bit for bit), a changed input that redoes the stages after it, two
workers, one killed with -9 inside a stage, that the rerun finishes, and an
online round, which trains its teacher (the labeled-only model) first."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
import yaml

from official.modeling.hyperparams import params_dict
from official_ext.data import sharded_writer
from official_ext.digits import canvases
from official_ext.rounds import stage_records

from conftest import child_failure
from conftest import REPO
from conftest import assert_drawn_plot
from conftest import digits_seg_run
from conftest import python
from conftest import read_scalars


def _tool(run_file, out, *extra, timeout=900):
  return python(
      ['-m', 'official_ext.tools.self_train',
       f'--config={run_file}', f'--output_dir={out}', '--quick', *extra],
      env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL='2'),
      timeout=timeout)


def _run_file(path, data, teacher, **student):
  """Two rounds; round 1 taught by the exported `teacher` (a teacher the
  tool trains is tested by the online round), `student` fields laid over
  the student's."""
  raw = digits_seg_run(data, rounds=2, teacher={'saved_model': teacher})
  raw['student'].update(student)
  path.write_text(yaml.safe_dump(raw))
  return str(path)


@pytest.fixture(scope='module')
def two_rounds(tmp_path_factory, digits_seg_teacher):
  root = tmp_path_factory.mktemp('self_train')
  data = canvases.make_dataset(str(root / 'data'), seed=0, num_train=16,
                               num_unlabeled=16, num_val=8, num_shards=2,
                               num_calibration=8, num_test=8)
  run_file = _run_file(root / 'run.yaml', data, digits_seg_teacher)
  out = str(root / 'out')
  proc = _tool(run_file, out)
  assert proc.returncode == 0, child_failure(proc, 3000, with_stdout=True)
  return dict(root=root, data=data, run_file=run_file, out=out, proc=proc,
              teacher=digits_seg_teacher)


def _made_from_teacher(prefix_dir):
  stats = sharded_writer.read_stats(sorted(
      p for p in (os.path.join(prefix_dir, f) for f in os.listdir(prefix_dir))
      if p.endswith('.tfrecord'))[0])
  return stats['made_from']['teacher']


def test_round_two_is_taught_by_round_one_s_student(two_rounds):
  out = two_rounds['out']
  with open(os.path.join(out, 'results.json')) as f:
    results = json.load(f)
  first, second = results['rounds']
  assert [first['round'], second['round']] == [1, 2]
  assert first['teacher_export'] == two_rounds['teacher']
  assert 'teacher' not in first and 'teacher_model' not in first
  assert second['teacher_export'] == first['student_export']
  assert second['teacher'] == first['student']
  # By its outputs: round 2's pseudo labels were made by that export.
  made_by = _made_from_teacher(os.path.join(out, 'round_2', 'pseudo'))
  assert made_by == stage_records.export_record(first['student_export'])
  assert made_by != _made_from_teacher(os.path.join(out, 'round_1', 'pseudo'))
  for r in (first, second):
    assert 0.0 <= r['student']['mean_iou'] <= 1.0
    # Scored on the test split once, after training, beside validation.
    assert 0.0 <= r['student_test']['mean_iou'] <= 1.0
    test = read_scalars(os.path.join(out, f"round_{r['round']}", 'student',
                                     'test'))['mean_iou']
    assert [v for _, v in test] == [r['student_test']['mean_iou']]
    assert r['student_model'] == {'images_per_step': 16,
                                  'labeled_images_per_step': 8,
                                  'train_steps': 20}
    assert r['pseudo_labels']['images_labeled'] == 16
  # Label, train, score on test and export the student, in each round.
  commands = open(os.path.join(out, 'commands.txt')).read()
  assert commands.count('python -m official_ext.tools.') == 8
  assert commands.count('--mode=eval') == 2
  assert_drawn_plot(os.path.join(out, 'metric_by_round.png'))


def test_a_rerun_skips_every_finished_stage(two_rounds):
  start = time.time()
  proc = _tool(two_rounds['run_file'], two_rounds['out'])
  assert proc.returncode == 0, child_failure(proc, 3000)
  assert proc.stdout.count('done earlier from the same inputs: skipped') == 8
  assert 'official_ext.tools.train' not in proc.stdout
  assert time.time() - start < 120  # No training, only the records.


def _checkpoint_tensors(model_dir):
  reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(model_dir))
  return {name: reader.get_tensor(name)
          for name in reader.get_variable_to_shape_map()
          if name != '_CHECKPOINTABLE_OBJECT_GRAPH'}


def _records(pattern):
  return [r.numpy() for r in tf.data.TFRecordDataset(sorted(glob.glob(pattern)))]


def test_a_run_killed_in_labeling_and_export_ends_as_an_uninterrupted_one(
    two_rounds, tmp_path):
  """The fault matrix: one run (taught by the fixture's teacher) killed
  with -9 inside labeling and inside export, rerun after each kill: its
  pseudo labels and its student's weights equal the uninterrupted round
  1's, bit for bit (nothing read twice, nothing stale), and each rerun
  resumed the stage it was killed in. (A kill inside training, which
  restarts the --quick student: the two-workers test below.) Runs before
  the test below, which retrains the fixture's round 1."""
  reference = os.path.join(two_rounds['out'], 'round_1')
  raw = yaml.safe_load(open(two_rounds['run_file']))
  raw['data'].pop('test')  # Scored in the fixture's run; not again here.
  raw.update(rounds=1)
  run_file = tmp_path / 'run.yaml'
  run_file.write_text(yaml.safe_dump(raw))
  out = tmp_path / 'out'
  args = [sys.executable, '-m', 'official_ext.tools.self_train',
          f'--config={run_file}', f'--output_dir={out}', '--quick']
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  stages_dir = out / 'stages'
  for stage, started in [
      # Labeling: once its output folder exists (shards being written).
      ('pseudo_label', lambda: (out / 'round_1' / 'pseudo').is_dir()),
      # Export: a few seconds in (the export folder appears only at its
      # end); an export takes over 10 s.
      ('student_export', lambda: time.sleep(4) or True)]:
    proc = subprocess.Popen(args, cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    record = stages_dir / f'round_1.{stage}.json'
    _kill_inside_stage(proc, lambda: record.exists() and started())
    assert json.load(open(record))['state'] == stage_records.STARTED, stage
  proc = _tool(run_file, out)
  assert proc.returncode == 0, child_failure(proc, 3000)
  for stage in ('pseudo_label', 'student'):
    assert f'[round_1/{stage}] done earlier' in proc.stdout, stage
  assert ('[round_1/student_export] an earlier run stopped in this stage: '
          'resuming' in proc.stdout)
  assert _records(str(out / 'round_1' / 'pseudo' / 'pseudo-*.tfrecord')) == (
      _records(os.path.join(reference, 'pseudo', 'pseudo-*.tfrecord')))
  mine, theirs = (_checkpoint_tensors(os.path.join(d, 'student'))
                  for d in (str(out / 'round_1'), reference))
  assert sorted(mine) == sorted(theirs)
  assert [n for n in mine if not np.array_equal(mine[n], theirs[n])] == []
  with open(out / 'results.json') as f:
    student = json.load(f)['rounds'][0]['student']
  with open(os.path.join(two_rounds['out'], 'results.json')) as f:
    assert student == json.load(f)['rounds'][0]['student']


def test_a_changed_input_redoes_the_stages_after_it(two_rounds, tmp_path):
  """The student's recipe changed: its labels are kept, the student and its
  export are redone."""
  changed = _run_file(tmp_path / 'run.yaml', two_rounds['data'],
                      two_rounds['teacher'],
                      overrides=['task.losses.l2_weight_decay=0.00007'])
  pseudo = os.path.join(two_rounds['out'], 'round_1', 'pseudo')
  before = _records(os.path.join(pseudo, 'pseudo-*.tfrecord'))
  proc = _tool(changed, two_rounds['out'], '--rounds=1')
  assert proc.returncode == 0, child_failure(proc, 3000)
  lines = proc.stdout.splitlines()
  assert any(l.startswith('[round_1/pseudo_label] done earlier')
             for l in lines), proc.stdout[-3000:]
  assert any(l.startswith('[round_1/student] its inputs changed (command)')
             for l in lines), proc.stdout[-3000:]
  assert any(l.startswith('[round_1/student_export] its inputs changed')
             for l in lines), proc.stdout[-3000:]
  assert _records(os.path.join(pseudo, 'pseudo-*.tfrecord')) == before
  params = params_dict.read_yaml_to_params_dict(os.path.join(
      two_rounds['out'], 'round_1', 'student', 'params.yaml'))
  assert params.task.losses.l2_weight_decay == 0.00007


def _kill_inside_stage(proc, ready, timeout=600):
  """SIGKILL `proc`'s process group once `ready()` (a stage has started its
  command), as a preempted machine loses the tool and its stage."""
  deadline = time.time() + timeout
  while time.time() < deadline and proc.poll() is None:
    if ready():
      break
    time.sleep(0.2)
  assert proc.poll() is None, 'finished before the kill'
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait()


def test_two_workers_label_their_slices_and_a_killed_worker_0_resumes(
    two_rounds, tmp_path):
  """Two workers share the labeling; worker 0, killed with -9 inside its
  student stage, is rerun: its labels are kept, the student resumes, and
  worker 1, waiting all along, finishes with it. (One run for both checks:
  each stage of a round costs a TensorFlow process.)"""
  export = two_rounds['teacher']
  raw = yaml.safe_load(open(two_rounds['run_file']))
  raw['data'].pop('test')  # Scored in the fixture's run; not again here.
  raw.update(rounds=1, labeling={'num_shards': 2})
  run_file = tmp_path / 'workers.yaml'
  run_file.write_text(yaml.safe_dump(raw))
  out = str(tmp_path / 'out')
  args = [sys.executable, '-m', 'official_ext.tools.self_train',
          f'--config={run_file}', f'--output_dir={out}', '--quick',
          '--num_workers=2']
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
  # Worker 1 first: it labels shard 1 and waits for worker 0's student.
  one = subprocess.Popen(args + ['--worker_index=1'], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
  zero = subprocess.Popen(args + ['--worker_index=0'], cwd=REPO, env=env,
                          stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
  stages_dir = os.path.join(out, 'stages')
  record = os.path.join(stages_dir, 'round_1.student.json')
  _kill_inside_stage(zero, lambda: os.path.exists(record) and os.path.isdir(
      os.path.join(out, 'round_1', 'student')))
  assert json.load(open(record))['state'] == stage_records.STARTED
  assert one.poll() is None, 'worker 1 stopped waiting'
  rerun = subprocess.run(args + ['--worker_index=0'], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=900)
  assert rerun.returncode == 0, child_failure(rerun, 3000)
  assert '[round_1/pseudo_label.worker_0] done earlier' in rerun.stdout
  assert ('[round_1/student] an earlier run stopped in this stage: resuming'
          in rerun.stdout)
  stdout, stderr = one.communicate(timeout=300)
  assert one.returncode == 0, stderr[-3000:]
  assert 'worker 1: labeled its slice' in stdout
  assert sorted(os.listdir(stages_dir)) == [
      'round_1.pseudo_label.worker_0.json', 'round_1.pseudo_label.worker_1.json',
      'round_1.student.json', 'round_1.student_export.json']
  # Each worker labeled its own shard; the student read both.
  for worker in (0, 1):
    record = json.load(open(os.path.join(
        stages_dir, f'round_1.pseudo_label.worker_{worker}.json')))
    assert f'--worker_index={worker}' in record['inputs']['command']
  shards = json.load(open(os.path.join(stages_dir, 'round_1.student.json')))[
      'inputs']['pseudo']
  assert [os.path.basename(p) for p, _ in shards] == [
      'pseudo-00000-of-00002.tfrecord', 'pseudo-00001-of-00002.tfrecord']
  with open(os.path.join(out, 'results.json')) as f:
    result = json.load(f)['rounds'][0]
  assert result['teacher_export'] == export and 'teacher' not in result
  assert result['pseudo_labels']['images_labeled'] == 16
  assert 0.0 <= result['student']['mean_iou'] <= 1.0


def test_an_online_student_round(two_rounds, tmp_path):
  """A run file whose student recipe is online: the teacher trains (the
  labeled-only model it is compared with, at the student's 16 images per
  step: equal compute) and is not exported, nothing is
  pseudo-labeled, the student reads the raw unlabeled images with its
  burn-in at the recipe's share of --quick's 20 steps, and the exported
  student is the student's own weights."""
  raw = yaml.safe_load(open(two_rounds['run_file']))
  raw['data'].pop('test')  # Scored in the fixture's run; not again here.
  raw.update(rounds=1, teacher=digits_seg_run(two_rounds['data'])['teacher'],
             student=dict(raw['student'],
                          recipe='selftrain_digits_seg_online_cpu.yaml'))
  run_file = tmp_path / 'online.yaml'
  run_file.write_text(yaml.safe_dump(raw))
  out = tmp_path / 'out'
  proc = _tool(str(run_file), str(out))
  assert proc.returncode == 0, child_failure(proc, 3000, with_stdout=True)
  assert sorted(os.listdir(out / 'stages')) == [
      'round_1.student.json', 'round_1.student_export.json',
      'round_1.teacher.json']
  with open(out / 'results.json') as f:
    result, = json.load(f)['rounds']
  assert result['mode'] == 'online' and 'pseudo_labels' not in result
  assert result['teacher_model'] == {'images_per_step': 16,
                                     'labeled_images_per_step': 16,
                                     'train_steps': 20}
  assert 'not a self-training gain' not in proc.stdout
  assert 0.0 <= result['student']['mean_iou'] <= 1.0
  assert result['student_model'] == {'images_per_step': 16,
                                     'labeled_images_per_step': 8,
                                     'train_steps': 20}
  student = result['commands']['student']
  assert (f"task.pseudo_data.input_path={two_rounds['data']['unlabeled']}"
          in student)
  assert 'task.self_training.burn_in_steps=4' in student  # 500/2500 of 20.
  assert result['commands']['student_export'].endswith(
      '--export_model=student')
  assert os.path.isfile(out / 'round_1' / 'student_export' / 'saved_model' /
                        'saved_model.pb')
  assert '| 16 (8) | 20 | online' in proc.stdout  # The table's row.

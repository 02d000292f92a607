"""The demo --quick, run from a wheel install in another directory: every
stage of the loop leaves its outputs, and results.json holds finite teacher
and student metrics. (Whether the student wins needs the full run: see
docs/results/.)"""

import glob
import json
import math
import os
import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import tensorflow as tf

from official.modeling.hyperparams import params_dict

from official_ext.data import sharded_writer
from official_ext.digits import recipes
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline
from official_ext.utils import stages
from official_ext.utils import summaries

from conftest import child_failure
from conftest import FAST_DETECTOR
from conftest import REPO
from conftest import assert_drawn_plot
from conftest import python

# Each trained model is scored on the test split (<model>_test) once; the
# recipe's own 8-per-step supervised model trains beside the 16-per-step
# teacher, the other baseline candidate.
STAGES = ('teacher', 'teacher_export', 'teacher_test', 'pseudo_label',
          'student', 'student_export', 'student_test', 'supervised_8',
          'supervised_8_test')
METRICS = {'detection': ('AP', 'AP50'), 'segmentation': ('mean_iou',)}


def _python(args, cwd, env, timeout=900):
  proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=timeout)
  assert proc.returncode == 0, child_failure(proc, 6000)
  return proc


@pytest.fixture(scope='module')
def wheel_install(tmp_path_factory):
  """`pip wheel` of the repository installed (--no-deps, reusing this venv's
  dependencies) into a folder of its own; a run with it on PYTHONPATH, from
  another directory, imports official_ext from there, not from the tree."""
  root = tmp_path_factory.mktemp('wheel')
  _python(['-m', 'pip', 'wheel', '--no-deps', '-q', '-w', str(root / 'dist'),
           REPO], cwd=str(root), env=dict(os.environ))
  wheel = glob.glob(str(root / 'dist' / 'official_ext-*.whl'))
  assert len(wheel) == 1, wheel
  target = str(root / 'site')
  _python(['-m', 'pip', 'install', '--no-deps', '-q', '--target', target,
           wheel[0]], cwd=str(root), env=dict(os.environ))
  env = dict(os.environ, PYTHONPATH=target)
  env.pop('PYTHONSAFEPATH', None)
  return dict(cwd=str(root), env=env, target=target)


def test_wheel_install_finds_package_and_recipes(wheel_install):
  proc = _python(['-c', (
      'import official_ext.tools.train, official_ext.serving.export_saved_model\n'
      'from official_ext.digits import recipes as r\n'
      'print(official_ext.__file__)\n'
      'print(r.recipe("selftrain_digits_seg"))\n'
      'print(r.config("selftrain_digits_seg").trainer.train_steps)')],
                 cwd=wheel_install['cwd'], env=wheel_install['env'])
  package, recipe, steps = proc.stdout.split()
  assert package.startswith(wheel_install['target'] + os.sep), package
  assert recipe == os.path.join(wheel_install['target'], 'official_ext',
                                'recipes', 'selftrain_digits_seg_cpu.yaml')
  assert int(steps) == recipes.config(
      'selftrain_digits_seg').trainer.train_steps


@pytest.fixture(scope='module')
def demo(wheel_install):
  """The quick demo, its detection lane with conftest.FAST_DETECTOR laid
  over the recipes (--detection_params_override): every stage is our code
  whatever the backbone, and the shipped SpineNet lane costs about 50 s more
  CPU. (mixed_batch_test runs the registered SpineNet detector through our
  loss on real batches.)"""
  out = os.path.join(wheel_install['cwd'], 'demo')
  proc = _python(['-m', 'official_ext.tools.demo', '--quick',
                  '--detection_params_override=' + ','.join(FAST_DETECTOR),
                  f'--output_dir={out}'], cwd=wheel_install['cwd'],
                 env=wheel_install['env'])
  with open(os.path.join(out, 'results.json')) as f:
    return dict(out=out, results=json.load(f), stdout=proc.stdout)


def test_full_demo_trains_teacher_and_student_equally_long():
  """The full demo trains the recipes' steps; equal steps keep it fair."""
  for task, (teacher, student) in recipes.EXPERIMENTS.items():
    steps = [recipes.config(name).trainer.train_steps
             for name in (teacher, student)]
    assert steps[0] == steps[1] >= 1000, (task, steps)


def test_results_hold_finite_metrics_and_stage_times(demo):
  results = demo['results']
  assert results['quick'] and results['seed'] == 0
  assert list(results['tasks']) == ['detection', 'segmentation']
  for task, r in results['tasks'].items():
    for model in ('teacher', 'student'):
      assert set(r[model]) == set(METRICS[task])
      # What the table reports is the model's last evaluation, as logged.
      event_dir = os.path.join(demo['out'], task, 'round_1', model,
                               'validation')
      for metric, value in r[model].items():
        assert math.isfinite(value), (task, model, metric)
        assert value == summaries.last_value(event_dir, metric)
      assert r['student_minus_teacher'] == pytest.approx(
          {m: r['student'][m] - r['teacher'][m] for m in METRICS[task]})
    assert r['steps'] == {'teacher': 20, 'student': 20}
    # Equal compute: the teacher trained on 16 labeled images per step, the
    # student on 8 labeled + 8 pseudo-labeled (their params.yaml).
    assert r['images_per_step'] == {'teacher': 16, 'student': 16}
    assert r['labeled_images_per_step'] == {'teacher': 16, 'student': 8}
    # Both models trained with the run's seed; the detectors with the
    # override laid over their recipe, the segmenters with theirs as shipped.
    for model in ('teacher', 'student'):
      params = params_dict.read_yaml_to_params_dict(os.path.join(
          demo['out'], task, 'round_1', model, 'params.yaml')).as_dict()
      assert params['task']['seed'] == 0
      backbone = params['task']['model']['backbone']
      assert (backbone['type'], backbone['resnet']['model_id']) == (
          ('resnet', 10) if task == 'detection' else ('resnet', 18))
      assert params['task']['train_data']['global_batch_size'] == (
          16 if model == 'teacher' else 8)
    assert list(r['wall_time_s']) == list(STAGES)
    assert all(t > 0 for t in r['wall_time_s'].values())
    # On test, as logged under <model>/test at the final step; the baseline
    # is the candidate best on validation.
    test_dir = os.path.join(demo['out'], task, 'round_1', '{}', 'test')
    for metric, value in r['student_test'].items():
      assert value == summaries.last_value(test_dir.format('student'), metric)
    assert set(r['baselines']) == {'supervised_16', 'supervised_8'}
    assert r['baselines']['supervised_16'] == {
        'validation': r['teacher'], 'test': r['baselines']['supervised_16'][
            'test'], 'model': {'images_per_step': 16,
                               'labeled_images_per_step': 16,
                               'train_steps': 20}}
    eight = r['baselines']['supervised_8']
    assert eight['model'] == {'images_per_step': 8,
                              'labeled_images_per_step': 8, 'train_steps': 20}
    for metric, value in eight['test'].items():
      assert value == summaries.last_value(test_dir.format('supervised_8'),
                                           metric)
    first = METRICS[task][0]
    assert r['baseline'] == max(
        r['baselines'], key=lambda n: r['baselines'][n]['validation'][first])
    assert r['compute'] == {
        'pipeline_train_images': 640, 'pipeline_labeled_by_teacher': 32,
        'baseline_train_images': {'supervised_16': 320, 'supervised_8': 160}}
    assert r['pseudo_labels']['images_labeled'] == results['sizes'][
        'num_unlabeled']
    student = recipes.config(recipes.EXPERIMENTS[task][1])
    assert r['pseudo_labels']['score_threshold'] == pytest.approx(
        student.task.self_training.score_threshold)
  # The two tasks' loops ran side by side: the whole run is at least the
  # data stage plus the longer loop, and shorter than all stages in a row.
  lanes = [sum(r['wall_time_s'].values()) for r in results['tasks'].values()]
  total = results['wall_time_s']['total']
  assert results['wall_time_s']['data'] + max(lanes) <= total < (
      results['wall_time_s']['data'] + sum(lanes))
  # Both tasks' tables say the comparison is at equal compute.
  assert demo['stdout'].count(
      'images per step: teacher 16 (labeled), student 16 (8 labeled + 8 '
      'pseudo-labeled): equal compute\n') == 2
  assert 'NOT an equal-compute' not in demo['stdout']
  assert results['params_override'] == {'detection': list(FAST_DETECTOR)}
  assert demo['stdout'].count('params_override (not the shipped recipe): '
                              + ','.join(FAST_DETECTOR)) == 1
  assert results['parallel_tasks'] == {
      'lanes': ['detection', 'segmentation'],
      'threads': stages.lane_threads(2)}


def test_teacher_is_calibrated_on_a_split_nobody_trains_on(demo):
  """The pseudo-label stage measured each teacher on the calibration split
  (not train, not val): figures in results.json equal the labeling report's
  table; per-class thresholds reported but, by default, not applied."""
  results = demo['results']
  assert results['class_thresholds'] == 'one threshold'
  for task, r in results['tasks'].items():
    cal = r['calibration']
    with open(os.path.join(demo['out'], task, 'round_1', 'pseudo',
                           'pseudo_report.json')) as f:
      report = json.load(f)
    table = report['quality']['calibration']
    assert table['images'] == cal['images'] == results['sizes'][
        'num_calibration']
    at = table['thresholds'].index(cal['threshold'])
    assert cal['threshold'] == pytest.approx(
        r['pseudo_labels']['score_threshold'])
    assert cal['precision'] == table['overall']['precision'][at]
    assert cal['recall'] == table['overall']['recall'][at]
    assert set(cal['class_thresholds']) == set(table['per_class'])
    assert cal['class_thresholds_applied'] is False
    assert report['class_thresholds'] == {}
    assert report['quality']['labeled_set']['pattern'].endswith(
        'train-*.tfrecord')
    assert_drawn_plot(cal['plot'])
    if task == 'detection':
      assert 0 <= cal['teacher_coco']['AP'] <= 1
    else:
      assert 0 <= cal['mean_iou_at_threshold'] <= 1
  assert any(l.startswith('| segmentation | ') and ' at 0.5 | ' in l
             for l in demo['stdout'].splitlines())


def test_table_is_printed(demo):
  lines = demo['stdout'].splitlines()
  rows = [l for l in lines if l.startswith('| detection | AP ')]
  # The test table (student against the best on val), then validation's.
  assert len(rows) == 2
  r = demo['results']['tasks']['detection']
  base = r['baselines'][r['baseline']]['test']['AP']
  assert rows[0].startswith(f"| detection | AP | {base:.4f} ({r['baseline']})"
                            f" | {r['student_test']['AP']:.4f} |")
  assert f"{r['teacher']['AP']:.4f}" in rows[1]
  assert any(l.startswith('| segmentation/student |') for l in lines)
  assert any(l.startswith('[detection/round_1/student] done in')
             for l in lines)


def test_every_stage_left_its_outputs(demo):
  out = demo['out']
  for task in METRICS:
    root = os.path.join(out, task, 'round_1')
    for model in ('teacher', 'student'):
      model_dir = os.path.join(root, model)
      steps = demo['results']['tasks'][task]['steps'][model]
      assert tf.train.latest_checkpoint(model_dir).endswith(f'ckpt-{steps}')
      for sub in ('train', 'validation'):
        assert any('tfevents' in n for n in
                   os.listdir(os.path.join(model_dir, sub))), (model_dir, sub)
      assert os.path.exists(os.path.join(
          root, f'{model}_export', 'saved_model', 'saved_model.pb'))
    prefix = os.path.join(root, 'pseudo', 'pseudo')
    assert len(tf.io.gfile.glob(sharded_writer.output_pattern(prefix))) == 2
    overlays = os.listdir(prefix + '_overlays')
    assert len(overlays) == 4 and all(n.endswith('.png') for n in overlays)
  with Image.open(os.path.join(out, 'teacher_vs_student.png')) as plot:
    assert plot.size[0] > 300 and plot.size[1] > 200
    assert np.asarray(plot.convert('L')).std() > 0


def _student_init(run_dir, task):
  """The student's task.init_checkpoint (params.yaml) and the checkpoint its
  log says Model Garden loaded, or None."""
  root = os.path.join(run_dir, task, 'round_1')
  init = params_dict.read_yaml_to_params_dict(
      os.path.join(root, 'student', 'params.yaml')).task.init_checkpoint
  with open(os.path.join(root, 'student.log')) as f:
    loaded = [l.split('Finished loading pretrained checkpoint from ')[1].strip()
              for l in f if 'Finished loading pretrained checkpoint from' in l]
  return init, loaded


def test_student_starts_from_its_teachers_checkpoint_when_asked(demo,
                                                                 auto_demo):
  """By default every student starts from random weights; with
  --students_from_teacher=segmentation (the auto run) Model Garden's
  init_checkpoint loads the teacher's last checkpoint before the first step."""
  for task in METRICS:
    assert demo['results']['tasks'][task]['student_init'] == 'scratch'
    assert _student_init(demo['out'], task) == (None, [])
  assert auto_demo['results']['tasks']['segmentation']['student_init'] == (
      'teacher')
  teacher_dir = os.path.join(demo['out'], 'segmentation', 'round_1',
                             'teacher')
  assert _student_init(auto_demo['out'], 'segmentation') == (
      teacher_dir, [os.path.join(teacher_dir, 'ckpt-20')])


def test_exported_student_labels_round_two(demo, tmp_path):
  """The student becomes the next teacher (the paper's iterated loop)."""
  data = os.path.join(demo['out'], 'data', 'unlabeled-*.tfrecord')
  for task in METRICS:
    report = pipeline.label(labeling_options.LabelingOptions(
        teacher=os.path.join(demo['out'], task, 'round_1', 'student_export'),
        task=task,
        input_pattern=data, output_prefix=str(tmp_path / task / 'pseudo'),
        score_threshold=0.0, num_classes=11, show_progress=False))
    assert report['images_labeled'] == demo['results']['sizes'][
        'num_unlabeled']
    assert report['shards_complete'] == report['num_shards'] == 2


@pytest.fixture(scope='module')
def auto_demo(demo, wheel_install):
  """The segmentation loop again on the quick demo's teachers (its stages
  cost about half the detector's), with the per-class thresholds applied and
  the student from its teacher's checkpoint."""
  out = os.path.join(wheel_install['cwd'], 'auto')
  proc = _python(['-m', 'official_ext.tools.demo', '--quick',
                  '--tasks=segmentation', '--class_thresholds=auto',
                  '--students_from_teacher=segmentation',
                  f"--teachers_from={demo['out']}", f'--output_dir={out}'],
                 cwd=wheel_install['cwd'], env=wheel_install['env'])
  with open(os.path.join(out, 'results.json')) as f:
    return dict(out=out, results=json.load(f), stdout=proc.stdout)


def test_teachers_from_reuses_data_and_teachers(demo, auto_demo):
  """Only pseudo-labeling, the student and its export ran; the teacher is
  the earlier run's (same metrics, nothing trained or copied here), and the
  labels the student trained on are the new, per-class-thresholded ones."""
  results = auto_demo['results']
  assert results['teachers_from'] == demo['out']
  assert results['class_thresholds'] == 'auto'
  assert 'data' not in results['wall_time_s']
  assert not os.path.exists(os.path.join(auto_demo['out'], 'data'))
  r = results['tasks']['segmentation']
  assert list(r['wall_time_s']) == ['pseudo_label', 'student',
                                    'student_export', 'student_test']
  assert r['teacher'] == demo['results']['tasks']['segmentation']['teacher']
  # The reused teacher's batch and steps, read from its params.yaml.
  earlier = demo['results']['tasks']['segmentation']
  for key in ('images_per_step', 'labeled_images_per_step', 'steps'):
    assert r[key] == earlier[key], key
  task_dir = os.path.join(auto_demo['out'], 'segmentation')
  assert sorted(os.listdir(task_dir)) == ['commands.txt', 'round_1', 'stages']
  root = os.path.join(task_dir, 'round_1')
  assert sorted(os.listdir(root)) == sorted(
      ['pseudo', 'pseudo_label.log', 'student', 'student.log',
       'student_export', 'student_export.log', 'student_test.log'])
  # The commands it ran: labeling with the earlier run's exported teacher.
  commands = open(os.path.join(task_dir, 'commands.txt')).read()
  assert commands.count('python -m official_ext.tools.') == 4
  assert os.path.join(demo['out'], 'segmentation', 'round_1',
                      'teacher_export') in commands
  assert tf.train.latest_checkpoint(os.path.join(root, 'student')).endswith(
      'ckpt-20')
  student = params_dict.read_yaml_to_params_dict(
      os.path.join(root, 'student', 'params.yaml'))
  # This run's shards only: their count is in the pattern.
  assert student.task.pseudo_data.input_path == os.path.join(
      root, 'pseudo', 'pseudo-*-of-00002.tfrecord')
  with open(os.path.join(root, 'pseudo', 'pseudo_report.json')) as f:
    report = json.load(f)
  chosen = report['quality']['auto_thresholds']
  assert report['quality']['auto_thresholds_applied'] is True
  assert r['calibration']['class_thresholds_applied'] is True
  assert r['calibration']['class_thresholds'] == {
      c: v['threshold'] for c, v in chosen.items()}
  threshold = r['pseudo_labels']['score_threshold']
  assert {int(c): t for c, t in report['class_thresholds'].items()} == {
      int(c): v['threshold'] for c, v in chosen.items()
      if v['threshold'] != threshold}
  assert any(l.startswith('| data, teachers | from ')
             for l in auto_demo['stdout'].splitlines())


def test_teachers_from_another_seed_fails_before_training(demo,
                                                          wheel_install):
  out = os.path.join(wheel_install['cwd'], 'other_seed')
  proc = subprocess.run(
      [sys.executable, '-m', 'official_ext.tools.demo', '--quick', '--seed=1',
       f"--teachers_from={demo['out']}", f'--output_dir={out}'],
      cwd=wheel_install['cwd'], env=wheel_install['env'], capture_output=True,
      text=True, timeout=300)
  assert proc.returncode != 0
  assert "its seed is 0, this run's 1" in proc.stderr
  assert '[detection/' not in proc.stdout


@pytest.mark.parametrize('flags, message', [
    (['--seeds=0,x'], '--seeds=0,x: integers'),
    (['--seeds=1,1'], 'distinct seeds, without --teachers_from (got [1, 1])'),
    (['--seeds=0,1', '--mode=online', '--class_thresholds=auto'],
     '--class_thresholds: --mode=online has no labeling stage')])
def test_bad_flags_fail_before_anything_runs(tmp_path, flags, message):
  out = tmp_path / 'out'
  proc = python(['-m', 'official_ext.tools.demo', '--quick', *flags,
                 f'--output_dir={out}'], timeout=300)
  assert proc.returncode != 0 and message in proc.stderr
  assert not (out / 'seed_1').exists() and not (out / 'seed_0').exists()

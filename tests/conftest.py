"""Shared fixtures: a tiny digits data set and helpers to run our commands."""

import json
import os
import re
import subprocess
import sys

import pytest

import tool_process

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')
# Before TensorFlow: the package sets TF_USE_LEGACY_KERAS (tf.keras is
# tf_keras, Keras 3 is not imported), here and in every child a test starts.
import official_ext  # pylint: disable=unused-import,wrong-import-position

import tensorflow as tf  # pylint: disable=g-import-not-at-top,wrong-import-position

from official_ext.utils import quick_exit  # pylint: disable=g-import-not-at-top,wrong-import-position

# Two logical CPU devices, so MirroredStrategy tests get two replicas. Must
# happen before TensorFlow initializes its devices.
_CPUS = tf.config.list_physical_devices('CPU')
tf.config.set_logical_device_configuration(
    _CPUS[0], [tf.config.LogicalDeviceConfiguration()] * 2)


# The files' order for `make test`'s two workers (pytest-xdist keeps it
# with --no-loadscope-reorder; each worker takes the next file when one
# ends): the demo (the longest file) beside the file that trains the
# shared teachers; then the other long files, which need no trained
# teacher; the files that use the trained teachers once those are made (a
# worker that asks earlier waits on the fixture's lock, idle); the short
# files last, to even out the end.
FIRST = ('demo_test.py', 'train_eval_export_test.py')
LONG = ('dry_run_spinenet190_test.py', 'dry_run_spinenet143_test.py',
        'xla_steps_test.py', 'dry_run_test.py', 'self_train_test.py', 'study_test.py', 'online_teacher_test.py',
        'pseudo_label_test.py', 'seeding_test.py', 'beam_pipeline_test.py',
        'distribution_test.py', 'dask_runner_test.py')
TRAINED_TEACHERS = {'digits_teacher_run', 'digits_seg_teacher_run'}


def _file_rank(item) -> tuple:
  name = os.path.basename(str(item.fspath))
  if name in FIRST:
    return (0, FIRST.index(name))
  if name in LONG:
    return (1, LONG.index(name))
  if TRAINED_TEACHERS & set(getattr(item, 'fixturenames', ())):
    return (2, 0)
  return (3, 0)


# The end-to-end tier: files that start tool processes (the demo, self_train,
# study, pseudo_label as a user runs them), train the shared teachers, or
# build the paper's recipes. `make test-fast` (the inner loop) runs the rest,
# in-process; `make test` runs both.
_PROCESSES = ('import python', 'import run_tool', 'import subprocess',
              'assert_script_checks_pass', 'tool_process')


def _end_to_end(item, rank: tuple) -> bool:
  if rank[0] < 3:
    return True
  with open(str(item.fspath)) as f:
    source = f.read()
  return any(marker in source for marker in _PROCESSES)


def pytest_configure(config):
  config.addinivalue_line(
      'markers', 'e2e: the end-to-end tier (tool processes, trained teachers, '
      'paper-size recipes); make test-fast leaves it out')


def pytest_collection_modifyitems(items):
  ranks = {}
  for item in items:  # A file's rank: its test that needs the most.
    key = str(item.fspath)
    ranks[key] = min(ranks.get(key, (3, 0)), _file_rank(item))
  order = {key: i for i, key in enumerate(dict.fromkeys(
      str(item.fspath) for item in items))}
  items.sort(key=lambda item: (ranks[str(item.fspath)],
                               order[str(item.fspath)]))
  slow = {}
  for item in items:
    key = str(item.fspath)
    if key not in slow:
      slow[key] = _end_to_end(item, ranks[key])
    if slow[key]:
      item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope='session')
def two_replica_strategy():
  """One MirroredStrategy over the two logical CPUs, shared by every test.

  A second MirroredStrategy in the same process reuses the first one's
  collective instance keys, and TensorFlow then aborts an all-reduce with
  "Shape mismatch in the collective instance" (tensorflow#62790). A program
  makes one strategy; so does the test session.
  """
  devices = [d.name for d in tf.config.list_logical_devices('CPU')][:2]
  assert len(devices) == 2
  return tf.distribute.MirroredStrategy(devices)


@pytest.fixture(scope='session')
def digits_data(tmp_path_factory):
  """Real scikit-learn digits on 128x128 canvases, a few dozen images."""
  from official_ext.digits import canvases  # pylint: disable=g-import-not-at-top
  out = tmp_path_factory.mktemp('digits')
  return canvases.make_dataset(str(out), seed=0, num_train=48,
                             num_unlabeled=16, num_val=16, num_shards=2,
                             num_test=16)


TEACHER_STEPS = {'detection': 400, 'segmentation': 300}
SUMMARY_INTERVAL = 100

# A faster RetinaNet for the tests that train a detector through our code:
# ResNet-10 x0.25 + FPN in place of the recipes' SpineNet-Mobile-49XS, whose
# graph takes about twice as long to trace and whose steps are ~4x slower on
# 2 cores (a 20-step train_and_eval process: 66 s vs 34 s; 500 steps score AP
# ~0.47 instead of ~0.18, 400 steps 0.34). Our tasks, inputs, losses,
# labelers and export modules do not depend on the backbone; the quick demo's
# detection lane (demo_test) uses it too, and mixed_batch_test runs SpineNet
# through our loss on real batches. `make demo` trains the shipped SpineNet
# recipes.
FAST_DETECTOR = (
    'task.model.backbone.type=resnet',
    'task.model.backbone.resnet.model_id=10',
    'task.model.backbone.resnet.depth_multiplier=0.25',
    'task.model.decoder.type=fpn',
    'task.model.decoder.fpn.num_filters=32',
    'task.model.decoder.fpn.use_separable_conv=true',
)


# The segmenter the tests train through our code: the demo's ResNet-18 x0.25
# (digits/recipes.DEMO_OVERLAYS) in place of the default
# SpineNet-Mobile-49XS, about half the time per step; the tool tests get it
# from the demo's recipe files and run files.
FAST_SEGMENTER = 'supervised_digits_seg_resnet_cpu.yaml'


def fast_segmenter(params):
  """A segmentation ExperimentConfig (or its ParamsDict) with
  FAST_SEGMENTER laid over it."""
  from official.modeling import hyperparams  # pylint: disable=g-import-not-at-top
  from official_ext.configs import recipes as recipe_lib  # pylint: disable=g-import-not-at-top
  return hyperparams.override_params_dict(
      params, recipe_lib.recipe_path(FAST_SEGMENTER), is_strict=True)


def fast_detector(params):
  """A detection ExperimentConfig with FAST_DETECTOR laid over it."""
  from official.modeling.hyperparams import params_dict  # pylint: disable=g-import-not-at-top
  return params_dict.override_params_dict(params, ','.join(FAST_DETECTOR),
                                          is_strict=True)


def _train_eval_export(task, data, model_dir):
  """The tiny CPU recipe as a user runs it: train.py --mode=train_and_eval
  (Model Garden's driver), then tools/export_saved_model.py."""
  from official_ext.configs import recipes as recipe_lib  # pylint: disable=g-import-not-at-top
  from official_ext.digits import recipes  # pylint: disable=g-import-not-at-top
  experiment = recipes.EXPERIMENTS[task][0]
  steps = TEACHER_STEPS[task]
  overrides = [
      f"task.train_data.input_path={data['train']}",
      f"task.validation_data.input_path={data['val']}",
      *recipe_lib.schedule_overrides(steps, interval=SUMMARY_INTERVAL,
                                     warmup=20),
  ]
  if task == 'detection':  # COCO AP against the json annotation file.
    overrides.append(f"task.annotation_file={data['val_annotations']}")
    overrides.extend(FAST_DETECTOR)
  run_tool(['train.py', f'--experiment={experiment}', '--mode=train_and_eval',
            f'--model_dir={model_dir}',
            *[f'--config_file={f}' for f in recipes.recipe_files(experiment)],
            '--params_override=' + ','.join(overrides)])
  export_dir = os.path.join(model_dir, 'export')
  run_tool(['tools/export_saved_model.py', f'--experiment={experiment}',
            f'--config_file={model_dir}/params.yaml',
            f'--checkpoint_path={model_dir}', f'--export_dir={export_dir}'])
  return dict(task=task, experiment=experiment, model_dir=model_dir,
              export_dir=export_dir, steps=steps,
              summary_interval=SUMMARY_INTERVAL)


def _once_per_run(tmp_path_factory, worker_id, name, make):
  """`make(directory)` once per pytest run, shared by pytest-xdist workers.

  Without xdist it simply runs. Under xdist (`make test` uses 2 workers),
  the first worker to ask makes it under a file lock in the run's shared
  temporary folder and leaves its result as JSON; the others wait for the
  lock and read that (pytest-xdist's documented recipe).
  """
  if worker_id == 'master':
    return make(str(tmp_path_factory.mktemp(name)))
  from filelock import FileLock  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.getbasetemp().parent
  done = root / f'{name}.json'
  with FileLock(str(root / f'{name}.lock')):
    if done.is_file():
      return json.loads(done.read_text())
    result = make(str(root / name))
    done.write_text(json.dumps(result))
    return result


@pytest.fixture(scope='session')
def digits_teacher_run(digits_data, tmp_path_factory, worker_id):
  """supervised_digits (with FAST_DETECTOR) trained briefly, evaluated and
  exported."""
  return _once_per_run(
      tmp_path_factory, worker_id, 'teacher',
      lambda d: _train_eval_export('detection', digits_data, d))


@pytest.fixture(scope='session')
def digits_seg_teacher_run(digits_data, tmp_path_factory, worker_id):
  """supervised_digits_seg (the demo's ResNet one) trained briefly,
  evaluated and exported."""
  return _once_per_run(
      tmp_path_factory, worker_id, 'seg_teacher',
      lambda d: _train_eval_export('segmentation', digits_data, d))


@pytest.fixture(scope='session')
def digits_teacher(digits_teacher_run):
  """The exported detection teacher (image_tensor SavedModel directory)."""
  return digits_teacher_run['export_dir']


@pytest.fixture(scope='session')
def digits_seg_teacher(digits_seg_teacher_run):
  """The exported segmentation teacher (logits SavedModel directory)."""
  return digits_seg_teacher_run['export_dir']


@pytest.fixture(scope='session')
def fake_teachers(tmp_path_factory, worker_id):
  """{'detection': dir, 'segmentation': dir}: SavedModels with a Model
  Garden export's interface and params.yaml but no trained network
  (official_ext/testing/fake_teacher.py), for the plumbing tests (shards,
  resume, ids, bad inputs, Beam). Made in a child process, once per run."""
  def make(directory):
    out = {task: os.path.join(directory, task)
           for task in ('detection', 'segmentation')}
    out['slow_detection'] = os.path.join(directory, 'slow_detection')
    run_tool(['-c', 'import sys; from official_ext.testing import '
              'fake_teacher as f; f.export(sys.argv[1], "detection"); '
              'f.export(sys.argv[2], "segmentation"); '
              'f.export(sys.argv[3], "detection", work=200)',
              out['detection'], out['segmentation'], out['slow_detection']])
    return out
  return _once_per_run(tmp_path_factory, worker_id, 'fake_teachers', make)


@pytest.fixture(scope='session')
def fake_teacher(fake_teachers):
  return fake_teachers['detection']


@pytest.fixture(scope='session')
def fake_seg_teacher(fake_teachers):
  return fake_teachers['segmentation']


@pytest.fixture(scope='session')
def slow_fake_teacher(fake_teachers):
  """The fake detector made ~0.1 s per batch slower (same outputs): slow
  enough for the kill -9 tests to stop a run between shards."""
  return fake_teachers['slow_detection']


@pytest.fixture(scope='session')
def fake_threshold(fake_teacher, digits_data):
  """As teacher_threshold, for the fake detection teacher."""
  return median_top_score(fake_teacher, digits_data['unlabeled'])


@pytest.fixture(scope='session')
def teacher_threshold(digits_teacher, digits_data):
  """A score threshold that keeps some of the test teacher's boxes and drops
  others: the median of its top score per unlabeled image.

  A 400-step teacher is unsure and its scores vary from run to run (CPU
  training is not bit-deterministic), so a fixed number is flaky.
  """
  return median_top_score(digits_teacher, digits_data['unlabeled'])


def median_top_score(teacher_dir, pattern):
  import numpy as np  # pylint: disable=g-import-not-at-top
  from official_ext.labeling import teacher as teacher_lib  # pylint: disable=g-import-not-at-top
  teacher = teacher_lib.Teacher(teacher_dir, 'detection')
  files = sorted(tf.io.gfile.glob(pattern))
  tops = []
  for record in tf.data.TFRecordDataset(files):
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    image = tf.io.decode_image(
        feature['image/encoded'].bytes_list.value[0], channels=3)[None]
    out = teacher(image)
    n = int(out['num_detections'][0])
    if n:
      tops.append(float(out['detection_scores'][0][:n].max()))
  assert len(tops) >= 4, f'test teacher detects almost nothing: {tops}'
  assert max(tops) > min(tops), f'test teacher scores are constant: {tops}'
  return round(float(np.median(tops)), 4)


def python(args, cwd=REPO, env=None, timeout=900):
  """`python ARGS` with this interpreter, its output captured (a
  CompletedProcess); by default in the repository with it on PYTHONPATH.
  It runs forked from a process that has imported TensorFlow and Model
  Garden once (tool_process.py); with another PYTHONPATH, in a new
  interpreter."""
  env = dict(os.environ, PYTHONPATH=REPO) if env is None else dict(env)
  env.setdefault(quick_exit.ENV, '1')  # The suite orchestrates its tools.
  if env.get('PYTHONPATH') == REPO:
    return tool_process.run(args, cwd, env, timeout=timeout)
  return subprocess.run([sys.executable] + list(args), cwd=cwd, env=env,
                        capture_output=True, text=True, timeout=timeout)


def child_failure(proc, tail: int = 4000, with_stdout: bool = False) -> str:
  """A failed tool process, for an assertion message: where its last
  traceback ended in our code (file:line, function) and its exception
  first, then its stderr's tail (and stdout's, `with_stdout`)."""
  err = proc.stderr or ''
  frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', err)
  ours = [f for f in frames if '/official_ext/' in f[0] or '/tests/' in f[0]]
  where = (ours or frames or [None])[-1]
  lines = [line for line in err.splitlines() if line.strip()]
  exception = next(
      (line for line in reversed(lines)
       if re.match(r'^[\w.]+(Error|Exception|Exit|Failed)\b', line)),
      lines[-1] if lines else '')
  head = f'exited {proc.returncode}'
  if where:
    head += f' at {where[0]}:{where[1]} in {where[2]}'
  out = f'{head}\n{exception.strip()}\n--- stderr (tail) ---\n{err[-tail:]}'
  if with_stdout:
    out += f'\n--- stdout (tail) ---\n{(proc.stdout or "")[-tail:]}'
  return out


def run_tool(args, timeout=900):
  """Runs a repo script (`python(args)`); fails the test on error."""
  proc = python(args, timeout=timeout)
  if proc.returncode != 0:
    raise AssertionError(f'{args[0]} {child_failure(proc, 6000)}')
  return proc


def assert_script_checks_pass(script, *args, timeout=900):
  """Runs a test file as a script (`python(...)`, for code whose absl flags
  clash with other tools' in a shared pytest worker); it must exit 0 and
  print 'all checks passed' last."""
  proc = python([script, *map(str, args)], timeout=timeout)
  assert proc.returncode == 0, child_failure(proc)
  assert proc.stdout.strip().splitlines()[-1] == 'all checks passed'


def shard_bytes(prefix, num_shards):
  """The bytes of each output shard PREFIX-xxxxx-of-<num_shards>, in order."""
  from official_ext.data import sharded_writer  # pylint: disable=g-import-not-at-top
  out = []
  for j in range(num_shards):
    with open(sharded_writer.shard_path(prefix, j, num_shards), 'rb') as f:
      out.append(f.read())
  return out


def read_scalars(event_dir):
  from official_ext.utils import summaries  # pylint: disable=g-import-not-at-top
  return summaries.read_scalars(event_dir)


def _function_library(saved_model_dir):
  """The FunctionDefLibrary of a SavedModel's graph."""
  from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=g-import-not-at-top
  proto = saved_model_pb2.SavedModel()
  with open(os.path.join(saved_model_dir, 'saved_model.pb'), 'rb') as f:
    proto.ParseFromString(f.read())
  return proto.meta_graphs[0].graph_def.library


def layer_traces(saved_model_dir):
  """Functions in a SavedModel that trace a Keras layer's call (tf_keras
  adds them unless official_ext's exporter turns them off)."""
  return [f.signature.name for f in _function_library(saved_model_dir).function
          if '_layer_call_' in f.signature.name]


def registered_gradients(saved_model_dir):
  """Op types whose custom gradient a SavedModel stores (tf.saved_model.save
  adds them unless official_ext's exporter turns them off)."""
  return [g.registered_op_type for g in
          _function_library(saved_model_dir).registered_gradients]


def assert_drawn_plot(path, min_width=400, min_height=250, min_colors=4):
  """A PNG that matplotlib drew something into: its size, and more than a
  blank canvas's colours (lines, text, legend)."""
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(path) as image:
    assert image.format == 'PNG', image.format
    width, height = image.size
    colors = image.convert('RGB').getcolors(maxcolors=1 << 16)
  assert width >= min_width and height >= min_height, image.size
  assert colors is None or len(colors) >= min_colors, colors


def digits_seg_run(data, **fields) -> dict:
  """A self_train run file (as a dict) for the digits segmenters on `data`
  (canvases.make_dataset's patterns, with a calibration split), with
  top-level `fields` laid over it."""
  from official_ext.digits import recipes  # pylint: disable=g-import-not-at-top
  return recipes.run_file('segmentation', data, **fields)


def write_odd_jpeg_record(path: str, images, targets):
  """Writes one TFRecord at `path` holding a 96 x 160 JPEG digits canvas
  (not a teacher's square input), source id 777; returns the image."""
  import io  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top
  from official_ext.data import tfexample  # pylint: disable=g-import-not-at-top
  from official_ext.digits import canvases  # pylint: disable=g-import-not-at-top
  canvas = canvases.render_canvas(np.random.RandomState(0), images, targets,
                                  np.arange(300), size=160)
  odd = canvas.image[20:116]
  buf = io.BytesIO()
  Image.fromarray(odd).save(buf, format='JPEG', quality=95)
  with tf.io.TFRecordWriter(path) as w:
    w.write(tfexample.make_example(odd, '777', encoded_image=buf.getvalue(),
                                   image_format='jpeg').SerializeToString())
  return odd

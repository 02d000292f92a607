"""The run file of the self_train tool: every bad field fails with one line
naming it, before anything runs; the packaged run files load."""

import dataclasses
import os

import pytest
import yaml

from official_ext.configs import file_schema
from official_ext.digits import canvases
from official_ext.digits import recipes
from official_ext.labeling import options as labeling_options
from official_ext.rounds import run_config
from official_ext.rounds import run_labeling

from conftest import REPO
from conftest import digits_seg_run


@pytest.fixture(scope='module')
def data(tmp_path_factory):
  out = str(tmp_path_factory.mktemp('digits'))
  return canvases.make_dataset(out, seed=0, num_train=4, num_unlabeled=4,
                               num_val=4, num_shards=1, num_calibration=4,
                               num_test=4)


def _run(data, **changes):
  raw = digits_seg_run(data)
  for path, value in changes.items():
    node = raw
    keys = path.split('__')
    for key in keys[:-1]:
      node = node.setdefault(key, {})
    if value is None:
      node.pop(keys[-1], None)
    else:
      node[keys[-1]] = value
  return raw


def test_a_good_file_loads_with_the_recipes_values(data, tmp_path):
  path = tmp_path / 'run.yaml'
  path.write_text(yaml.safe_dump(_run(data, rounds=2)))
  run = run_config.load(str(path))
  assert run.rounds == 2 and run.task == 'segmentation'
  # The recipe's threshold and class count, read through its YAML.
  assert run_labeling.score_threshold(run) == 0.5
  assert run_labeling.num_classes(run) == 11
  assert os.path.isfile(run_config.recipe_file(run.student))


@pytest.mark.parametrize('changes,words', [
    (dict(tsk='detection'), ['tsk: unknown field']),
    (dict(data__labled='x'), ['data.labled: unknown field']),
    (dict(rounds='two'), ['rounds: expected int', "'two'"]),
    (dict(rounds=0), ['rounds: 0']),
    (dict(task='classification'), ['task:', 'classification']),
    (dict(data__labeled=None), ['data.labeled: set']),
    (dict(data__unlabeled='/no/such/*.tfrecord'),
     ['data.unlabeled=', 'matches no file']),
    (dict(teacher__experiment='no_such'),
     ['teacher.experiment', 'no_such', 'not a registered']),
    (dict(student__recipe='no_such.yaml'), ['student.recipe', 'no_such.yaml']),
    (dict(student__overrides=['task.no_such_field=1']),
     ['student.overrides', 'no_such_field']),
    (dict(student__config_files=['/no/such/cell.yaml']),
     ["student.config_files: no file '/no/such/cell.yaml'"]),
    (dict(student__overrides='task.seed=1'),
     ['student.overrides: expected a list of strings']),
    (dict(student__experiment='supervised_digits_seg',
          student__recipe='supervised_digits_seg_cpu.yaml'),
     ['student.experiment', 'not a self-training experiment']),
    (dict(teacher__overrides=['task.model.num_classes=9']),
     ['num_classes differ', '9 vs 11']),
    (dict(teacher__saved_model='/no/such/export'),
     ['teacher: a saved_model or an experiment']),
    (dict(teacher__experiment=None, teacher__recipe=None,
          teacher__config_files=None, teacher__overrides=None,
          teacher__saved_model='/no/such/export'),
     ['teacher.saved_model: no SavedModel at /no/such/export']),
    (dict(labeling__score_threshold=1.5), ['labeling.score_threshold: 1.5']),
    (dict(labeling__class_thresholds='auto', data__calibration=None),
     ['labeling.class_thresholds=auto needs data.calibration']),
    (dict(labeling__target_precision=0), ['labeling.target_precision=0']),
    (dict(labeling__num_shards=3),
     ['labeling.num_shards: 3 shards but data.unlabeled has 1 file']),
    (dict(task='detection'), ['data.annotation_file: detection needs']),
    (dict(runtime_overrides=['runtime.no_such=1']),
     ['overrides or runtime_overrides', 'no_such']),
    (dict(rounds=2, student__recipe='selftrain_digits_seg_online_cpu.yaml'),
     ['rounds: 2 with an online student', 'one round']),
    (dict(labeling__score_threshold=0.7,
          student__recipe='selftrain_digits_seg_online_cpu.yaml'),
     ['labeling.score_threshold: no labeling stage with an online student',
      'student.overrides']),
])
def test_bad_fields_fail_with_one_line_naming_them(data, changes, words):
  with pytest.raises(run_config.RunError) as e:
    run_config.from_dict(_run(data, **changes))
  message = str(e.value)
  assert '\n' not in message
  for word in words:
    assert word in message, message


@pytest.mark.parametrize('other', ['labeled', 'validation'])
def test_calibration_files_may_not_be_training_or_validation_files(data,
                                                                   other):
  """As a calibration glob `val_holdout*` beside a validation glob `val*`
  would: the calibration images are scored as validation too."""
  raw = _run(data)
  raw['data']['calibration'] += ',' + raw['data'][other]
  with pytest.raises(run_config.RunError) as e:
    run_config.from_dict(raw)
  assert str(e.value).startswith(
      f'data.calibration and data.{other} share 1 file(s), e.g. '), e.value


@pytest.mark.parametrize('other', ['labeled', 'validation', 'unlabeled'])
def test_test_files_may_not_be_trained_or_chosen_on(data, other):
  """A test split that shares files with a split a model trains on or is
  chosen on would not be held out."""
  raw = _run(data)
  assert raw['data']['test'] == data['test']
  raw['data']['test'] += ',' + raw['data'][other]
  with pytest.raises(run_config.RunError) as e:
    run_config.from_dict(raw)
  assert str(e.value).startswith(
      f'data.test and data.{other} share 1 file(s), e.g. '), e.value


@pytest.mark.parametrize('left_out', ['test', 'calibration'])
def test_either_held_out_split_is_optional(data, left_out):
  """A run file without a test split (or without calibration) loads: the
  overlap checks skip a split that is not given."""
  raw = _run(data)
  raw['data'].pop(left_out)
  run = run_config.from_dict(raw)
  assert getattr(run.data, left_out) == ''


def test_calibration_files_may_not_be_test_files(data):
  raw = _run(data)
  raw['data']['calibration'] += ',' + raw['data']['test']
  with pytest.raises(run_config.RunError, match='data.calibration and '
                     'data.test share 1 file'):
    run_config.from_dict(raw)


@pytest.mark.parametrize('changes,words', [
    (dict(task='detection', data__annotation_file='ANN',
          data__test_annotation_file=None),
     ['data.test_annotation_file: detection needs the COCO json of '
      'data.test']),
    (dict(task='detection', data__annotation_file='ANN',
          data__test_annotation_file='/no/such.json'),
     ['data.test_annotation_file: no file /no/such.json']),
    (dict(data__test_annotation_file='ANN'),
     ['data.test_annotation_file: only a detection run with data.test']),
    (dict(data__test='/no/such/test-*'), ['data.test=', 'matches no file']),
])
def test_bad_test_fields_name_the_field(data, changes, words):
  changes = {k: data['val_annotations'] if v == 'ANN' else v
             for k, v in changes.items()}
  raw = _run(data, **changes)
  if raw['task'] == 'detection':
    for model, name in zip(('teacher', 'student'),
                           recipes.EXPERIMENTS['detection']):
      raw[model] = {'experiment': name, 'recipe': f'{name}_cpu.yaml'}
  with pytest.raises(run_config.RunError) as e:
    run_config.from_dict(raw)
  for word in words:
    assert word in str(e.value), e.value


def test_config_files_are_laid_over_the_recipe_in_order(data, tmp_path):
  first, second = tmp_path / 'a.yaml', tmp_path / 'b.yaml'
  first.write_text('trainer:\n  train_steps: 7\ntask:\n  seed: 3\n')
  second.write_text('trainer:\n  train_steps: 9\n')
  run = run_config.from_dict(_run(
      data, student__config_files=[str(first), str(second)],
      student__overrides=['task.seed=4']))
  assert run_config.config_files(run.student) == [
      run_config.recipe_file(run.student), str(first), str(second)]
  config = run_config.experiment_config(run.student)
  assert config.trainer.train_steps == 9 and config.task.seed == 4
  assert run_config.experiment_config(run.teacher).trainer.train_steps == (
      2500)  # The teacher's recipe, untouched.


def test_relative_recipes_are_from_the_run_file(data, tmp_path):
  recipe = tmp_path / 'mine.yaml'
  recipe.write_text('trainer:\n  train_steps: 7\n')
  path = tmp_path / 'run.yaml'
  path.write_text(yaml.safe_dump(_run(data, student__recipe='mine.yaml')))
  run = run_config.load(str(path))
  assert run.student.recipe == str(recipe)
  assert run_config.experiment_config(run.student).trainer.train_steps == 7


@pytest.mark.parametrize('name', ['digits_detection.yaml',
                                  'digits_segmentation.yaml',
                                  'coco_spinenet49.yaml'])
def test_packaged_run_files_name_registered_experiments(name):
  raw = yaml.safe_load(open(os.path.join(REPO, 'configs/runs', name)))
  file_schema.check_fields(raw, run_config.RunConfig, run_config.RunError)
  for role in ('teacher', 'student'):
    model = run_config.ModelConfig(**raw[role])
    config = run_config.experiment_config(model, raw.get('runtime_overrides',
                                                         []))
    assert config.task.model.num_classes > 1


@pytest.mark.parametrize('task', ['detection', 'segmentation'])
def test_the_demo_runs_the_packaged_digits_run_file(task):
  """The demo's round (recipes.run_file) is configs/runs/digits_<task>.yaml
  on that file's data folder, field for field."""
  raw = yaml.safe_load(open(os.path.join(REPO, 'configs/runs',
                                         f'digits_{task}.yaml')))
  folder = 'runs/digits_data'
  data = {split: f'{folder}/{split}-*.tfrecord'
          for split in ('train', 'val', 'unlabeled', 'calibration', 'test')}
  data['val_annotations'] = f'{folder}/annotations_val.json'
  data['test_annotations'] = f'{folder}/annotations_test.json'
  assert raw.pop('rounds') == 1
  assert recipes.run_file(task, data) == raw


def test_an_online_student_is_one_round_without_labeling(data):
  online = run_config.from_dict(_run(
      data, student__recipe='selftrain_digits_seg_online_cpu.yaml'))
  assert run_config.online(online)
  assert not run_config.online(run_config.from_dict(_run(data)))


def test_the_labeling_section_is_labeling_options_fields():
  """A run file's `labeling:` fields are LabelingOptions' (declared once,
  labeling/options.py): the same names, types and defaults, but for
  score_threshold (-1: the student recipe's)."""
  options = {f.name: f for f in dataclasses.fields(
      labeling_options.LabelingOptions)}
  section = dataclasses.fields(run_config.LabelingConfig)
  assert tuple(f.name for f in section) == run_config.LABELING_FIELDS
  for field in section:
    assert field.type == options[field.name].type, field.name
    expected = (-1.0 if field.name == 'score_threshold'
                else options[field.name].default)
    assert field.default == expected, field.name

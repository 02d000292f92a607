"""rounds/model_stages.py: a model's train and export stages as the commands
a user could run, under stage records (skipped when done from the same
inputs, redone when an input changed), with a runner that records the
commands instead of starting them (the commands themselves run in
self_train_test)."""

import os

from official_ext.configs import nms
from official_ext.digits import recipes
from official_ext.rounds import model_stages
from official_ext.rounds import round_loop
from official_ext.rounds import run_config
from official_ext.utils import stages


class RecordingRunner(stages.Runner):
  """Records each stage's argv and makes its model_dir / export_dir, as the
  tool would; starts nothing."""

  def __init__(self):
    super().__init__(progress=())

  def run(self, stage, argv, log_path, env=None):
    self.commands.append({'stage': stage, 'argv': list(argv)})
    for arg in argv:
      for flag in ('--model_dir=', '--export_dir='):
        if arg.startswith(flag):
          os.makedirs(arg[len(flag):], exist_ok=True)
    return 1.5


def _stages(tmp_path, data, task='segmentation'):
  run = run_config.from_dict(recipes.run_file(task, data))
  runner = RecordingRunner()
  options = round_loop.Options(output_dir=str(tmp_path / 'out'), rounds=1)
  return model_stages.ModelStages(run, options, runner), run, runner


def _flag(argv, name):
  return next(a.split('=', 1)[1] for a in argv if a.startswith(f'--{name}='))


def test_train_runs_the_recipe_with_the_run_files_overrides(tmp_path,
                                                            digits_data):
  models, run, runner = _stages(tmp_path, digits_data)
  models._train(1, 'teacher', run.teacher, models._data_overrides(), {})
  (command,) = runner.commands
  assert command['stage'] == 'round_1/teacher'
  argv = command['argv']
  assert argv[:2] == ['-m', 'official_ext.tools.train']
  assert _flag(argv, 'experiment') == 'supervised_digits_seg'
  assert _flag(argv, 'config_file') == run_config.recipe_file(run.teacher)
  assert _flag(argv, 'model_dir') == str(tmp_path / 'out/round_1/teacher')
  items = _flag(argv, 'params_override').split(',')
  # The model's own overrides first (equal compute), then the data.
  assert items[0] == 'task.train_data.global_batch_size=16'
  assert f'task.train_data.input_path={run.data.labeled}' in items
  assert models.seconds == {1: {'teacher': 1.5}}
  with open(tmp_path / 'out/commands.txt') as f:
    assert f.read().startswith(
        '# round_1/teacher\npython -m official_ext.tools.train --experiment=')


def test_a_stage_done_from_the_same_inputs_is_skipped_and_a_change_redoes_it(
    tmp_path, digits_data):
  models, run, runner = _stages(tmp_path, digits_data)
  models._train(1, 'teacher', run.teacher, [], {})
  models._train(1, 'teacher', run.teacher, [], {})
  assert len(runner.commands) == 1
  assert models.seconds[1]['teacher'] == 0.0  # Skipped in this run.
  models._train(1, 'teacher', run.teacher, ['task.seed=3'], {})
  assert len(runner.commands) == 2
  assert 'task.seed=3' in _flag(runner.commands[1]['argv'], 'params_override')


def test_a_detector_is_exported_with_the_labeling_nms_only_when_it_trained_with_another(
    tmp_path, digits_data):
  models, run, runner = _stages(tmp_path, digits_data, task='detection')
  models._export(1, 'teacher_export', run.teacher,
                 str(tmp_path / 'out/round_1/teacher'))
  argv = runner.commands[-1]['argv']
  assert _flag(argv, 'export_dir') == str(
      tmp_path / 'out/round_1/teacher_export')
  trained = run_config.experiment_config(
      run.teacher).task.model.detection_generator.nms_version
  assert (nms.labeling_override() in ' '.join(argv)) == (
      trained != nms.LABELING_NMS)
  for version in ('v2', nms.LABELING_NMS):
    model = run_config.ModelConfig(run.teacher.as_dict())
    model.overrides = list(model.overrides) + [
        f'task.model.detection_generator.nms_version={version}']
    assert models._labeling_nms(model) == (
        [] if version == nms.LABELING_NMS else [nms.labeling_override()])
  seg_models, seg_run, _ = _stages(tmp_path / 'seg', digits_data)
  assert seg_models._labeling_nms(seg_run.teacher) == []

"""The dry run (`python -m official_ext.tools.dry_run`): the SpineNet-49 and
PASCAL self-training recipes at a reduced resolution and every supervised
paper recipe's build (tests/paper_recipes.py; the SpineNet-143/190 students
have a file each, so the two pytest workers share them); a field or path
that would stop a real run is one line naming it; the memory estimate's
arithmetic."""

import json
import os

import pytest

from official.core import exp_factory
from official.modeling import hyperparams
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.benchmarks import dry_run
from official_ext.benchmarks import dry_run_sizing

from conftest import FAST_SEGMENTER
from conftest import child_failure
from conftest import REPO
from conftest import python
import paper_recipes

PAPER_RECIPES = paper_recipes.PAPER_RECIPES


def test_the_paper_recipes_are_all_here():
  assert len(PAPER_RECIPES) == 8, PAPER_RECIPES
  assert set(paper_recipes.STUDENTS) <= set(PAPER_RECIPES)
  assert sorted(r.replace('supervised_', 'selftrain_')
                for r in paper_recipes.SUPERVISED) == sorted(
                    paper_recipes.STUDENTS)


@pytest.mark.parametrize('recipe', [r for r in paper_recipes.STUDENTS
                                    if 'spinenet49' in r or 'pascal' in r])
def test_paper_recipe_dry_runs(recipe, tmp_path):
  paper_recipes.check_dry_run(recipe, tmp_path)


@pytest.mark.parametrize('recipe', paper_recipes.SUPERVISED)
def test_supervised_paper_recipe_builds_its_students_model(recipe):
  paper_recipes.check_build(recipe)


def _dry_run(args, tmp_path, timeout=900):
  return python(['-m', 'official_ext.tools.dry_run',
                 f'--model_dir={tmp_path}'] + args, timeout=timeout)


def _one_line_error(proc, starts):
  assert proc.returncode == 1, proc.stderr[-2000:]
  last = proc.stderr.strip().splitlines()[-1]
  assert 'Traceback' not in proc.stderr, proc.stderr[-2000:]
  assert last.startswith('dry_run: error: ' + starts), last
  return last


def test_unreachable_init_checkpoint_is_one_line(tmp_path):
  """The PASCAL recipes' ImageNet checkpoint is on gs://, unreachable here
  (elsewhere: readable, and this check passes on to the next)."""
  proc = _dry_run(['--experiment=selftrain_pascal',
                   '--config_file=configs/experiments/'
                   'selftrain_pascal_deeplabv3plus.yaml'], tmp_path)
  last = _one_line_error(proc, 'task.init_checkpoint: ')
  assert 'gs://cloud-tpu-checkpoints/' in last
  assert 'task.init_checkpoint=' in last  # The way around it.


def test_unreadable_data_is_one_line(tmp_path):
  proc = _dry_run(['--experiment=supervised_digits',
                   '--data=gs://official-ext-unreachable-test-bucket/x-*'],
                  tmp_path)
  last = _one_line_error(proc, '--data: ')
  assert 'gs://official-ext-unreachable-test-bucket/x-*' in last


def test_batch_that_does_not_divide_the_replicas():
  params = hyperparams.override_params_dict(
      exp_factory.get_exp_config('selftrain_coco'),
      os.path.join(REPO, 'configs/experiments',
                   'selftrain_coco_spinenet49_640_gpu.yaml'), is_strict=True)
  dry_run.check_recipe(params)  # 64 + 64 over 8 GPUs.
  params.task.pseudo_data.global_batch_size = 60
  with pytest.raises(dry_run.DryRunError,
                     match=r'^task.pseudo_data.global_batch_size=60 does not '
                     r'divide over the recipe\'s 8 replicas'):
    dry_run.check_recipe(params)


def test_memory_needs_scale_with_the_recipes_batch():
  params = exp_factory.get_exp_config('selftrain_coco')
  params.runtime.num_gpus = 8
  params.task.train_data.global_batch_size = 64
  params.task.pseudo_data.global_batch_size = 64
  gib = dry_run_sizing.GIB
  needs = dry_run_sizing.memory_needs(
      params, dry_run_sizing.recipe_batch(params), num_parameters=10**7,
      measured_peak=3 * gib, baseline=1 * gib, images_per_replica=2)
  state = 12e7 / gib
  assert needs['state_gib'] == pytest.approx(state)
  per_image = (2 - state) / 2
  target = needs['targets']['8 replica(s)']
  assert target['images_per_replica'] == 16
  assert target['estimated_gib'] == pytest.approx(state + 16 * per_image)
  assert target['fits'] == {'V100 16GB': True, 'A100 40GB': True,
                            'A100/H100 80GB': True}


def test_an_online_recipe_dry_runs_and_exports_its_teacher(tmp_path):
  """The digits online student (an EMA teacher inside the step): steps,
  exports its teacher (as tools/export_saved_model.py does) and labels."""
  proc = _dry_run(['--experiment=selftrain_digits_seg',
                   '--config_file=configs/experiments/'
                   'selftrain_digits_seg_online_cpu.yaml',
                   f'--config_file=configs/experiments/{FAST_SEGMENTER}',
                   '--steps=2',
                   '--num_images=2', '--stages=export,label'], tmp_path)
  assert proc.returncode == 0, child_failure(proc, 3000)
  with open(tmp_path / 'dry_run.json') as f:
    report = json.load(f)
  assert len(report['losses']) == 2 and report['images_labeled'] == 2
  assert 'flops' not in report and 'validation_step_seconds' not in report
  assert os.path.exists(tmp_path / 'teacher_ckpt')

"""The shipped paper recipes as the suite checks them (test support, not
shipped), each with its own graph at 128x128 and one image per replica, not
compiled with XLA (XLA's CPU compiler was still compiling SpineNet-190's
step after 6 minutes; the steps' XLA compilation is tests/xla_steps_test.py's,
on small models).

A self-training recipe is dry-run (`tools/dry_run`, one step; SpineNet-49's
and PASCAL's also validate, export and label). A supervised recipe is built
in-process at its precision, checked as the dry run checks a recipe, and
its model must be its student's, field for field: the student's dry run
steps that graph (docs/scale.md). Tracing a paper model's step takes
minutes of `make test`'s time; a second trace of the same graph would
check nothing new."""

import glob
import json
import os

import numpy as np
import tensorflow as tf
import tf_keras

from official.core import task_factory
from official.modeling import hyperparams
from official.modeling import performance
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.benchmarks import dry_run
from official_ext.configs import common
from official_ext.configs import recipes

from conftest import child_failure
from conftest import REPO
from conftest import python

RECIPE_DIR = os.path.join(REPO, 'configs/experiments')
PAPER_RECIPES = sorted(
    os.path.basename(p) for p in
    glob.glob(os.path.join(RECIPE_DIR, '*coco_spinenet*.yaml')) +
    glob.glob(os.path.join(RECIPE_DIR, '*pascal*.yaml')))
ALL = ('flops', 'validate', 'export', 'label')
STAGES = {
    'selftrain_coco_spinenet49_640_gpu.yaml': ALL,
    'selftrain_coco_spinenet143_1280.yaml': (),
    'selftrain_coco_spinenet190_1280.yaml': (),
    'selftrain_pascal_deeplabv3plus.yaml': ALL,
}
STUDENTS = tuple(STAGES)
SUPERVISED = tuple(r for r in PAPER_RECIPES if r not in STAGES)
# The smallest input each model family takes (SpineNet: a multiple of 2^7);
# the PASCAL recipes' ImageNet checkpoint is on gs:// (not read here).
REDUCED = {'coco': 'task.model.input_size=[128,128,3]',
           'pascal': ('task.train_data.output_size=[128,128],'
                      'task.validation_data.output_size=[128,128],'
                      'task.init_checkpoint=')}
# Trainable parameters of the full-size models (Model Garden's SpineNet
# RetinaNets, DeepLabV3+ ResNet-101), so a recipe that silently builds
# another model fails.
MIN_PARAMETERS = {'spinenet49': 10e6, 'spinenet143': 50e6,
                  'spinenet190': 150e6, 'deeplabv3plus': 40e6}


def experiment(recipe: str) -> str:
  """The experiment a recipe names on its first line."""
  with open(os.path.join(RECIPE_DIR, recipe)) as f:
    first = f.readline()
  assert first.startswith('# experiment: '), recipe
  return first.split(':', 1)[1].strip()


def _overrides(recipe: str) -> str:
  """The recipe's reduction to 128x128 (and no gs:// checkpoint)."""
  overrides = REDUCED['coco' if 'coco' in recipe else 'pascal']
  if experiment(recipe) == 'selftrain_pascal':
    overrides += ',task.pseudo_data.output_size=[128,128]'
  return overrides


def reduced_params(recipe: str):
  """The recipe's ExperimentConfig, reduced as the suite runs it."""
  params = recipes.config_from(experiment(recipe),
                               os.path.join(RECIPE_DIR, recipe))
  return hyperparams.override_params_dict(params, _overrides(recipe),
                                          is_strict=True)


def _family(recipe: str) -> str:
  return next(k for k in MIN_PARAMETERS if k in recipe)


def check_build(recipe: str):
  """A supervised recipe, reduced: passes the dry run's recipe checks,
  builds its model at its precision and calls it once (the full graph: its
  parameters; a head makes its variables at its first call), and
  that model is its student's (so the student's dry run stepped it)."""
  params = reduced_params(recipe)
  dry_run.check_recipe(params)
  student = reduced_params(recipe.replace('supervised_', 'selftrain_'))
  assert params.task.model.as_dict() == student.task.model.as_dict(), recipe
  assert (params.runtime.mixed_precision_dtype ==
          student.runtime.mixed_precision_dtype), recipe
  performance.set_mixed_precision_policy(params.runtime.mixed_precision_dtype)
  try:
    model = task_factory.get_task(params.task).build_model()
    height, width = common.model_image_size(params)
    model(tf.zeros([1, height, width, 3]), training=True)  # Builds the head.
    parameters = int(sum(np.prod(v.shape) for v in model.trainable_variables))
  finally:
    tf_keras.mixed_precision.set_global_policy('float32')
  assert parameters > MIN_PARAMETERS[_family(recipe)], parameters
  return parameters


def check_dry_run(recipe: str, tmp_path):
  """Dry-runs the self-training `recipe` reduced and checks what its report
  says."""
  name = experiment(recipe)
  kind = 'coco' if 'coco' in recipe else 'pascal'
  overrides = _overrides(recipe)
  stages = STAGES[recipe]
  proc = python(['-m', 'official_ext.tools.dry_run', f'--experiment={name}',
                 f'--config_file=configs/experiments/{recipe}',
                 f'--params_override={overrides}', '--steps=1',
                 '--num_images=2', '--xla=false', f'--model_dir={tmp_path}',
                 f'--stages={",".join(stages)}'], timeout=1800)
  assert proc.returncode == 0, child_failure(proc, 3000)
  with open(tmp_path / 'dry_run.json') as f:
    report = json.load(f)
  params = recipes.config_from(name, os.path.join(RECIPE_DIR, recipe))
  tpu = params.runtime.distribution_strategy == 'tpu'
  assert not report['xla']
  assert report['precision'] == params.runtime.mixed_precision_dtype
  if kind == 'coco':
    assert report['nms_version'] == 'v2'
  assert report['parameters'] > MIN_PARAMETERS[_family(recipe)], (
      report['parameters'])
  assert report['loss'] > 0
  assert ('flops' in report) == ('flops' in stages)
  if 'flops' in stages:
    assert report['flops'] > 1e8
  assert ('validation_step_seconds' in report) == ('validate' in stages)
  if 'export' in stages:
    assert os.path.exists(os.path.join(report['export_dir'], 'saved_model',
                                       'saved_model.pb'))
  if 'label' in stages:
    assert report['images_labeled'] == 2
  targets = report['memory_needs']['targets']
  assert set(targets) == ({'v3-8 (8 cores)', 'v3-32 (32 cores)',
                           'v3-128 (128 cores)'} if tpu else
                          {f'{params.runtime.num_gpus} replica(s)'})
  return report

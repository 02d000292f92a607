"""The shipped paper recipes' dry runs as the suite checks them (test
support, not shipped): each recipe's own graph at 128x128, one image per
replica and one step, not compiled with XLA (XLA's CPU compiler was still
compiling SpineNet-190's step after 6 minutes; the steps' XLA compilation is
tests/xla_steps_test.py's, on small models). The stages that run besides
build and step, per recipe, are chosen to keep `make test`'s time
(docs/scale.md): a supervised recipe's model is its student's, whose dry
run validates (and for SpineNet-49 and PASCAL exports and labels) the same
graph."""

import glob
import json
import os

from official.core import exp_factory
from official.modeling import hyperparams

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
    'supervised_coco_spinenet49_640_gpu.yaml': (),
    'selftrain_coco_spinenet49_640_gpu.yaml': ALL,
    'supervised_coco_spinenet143_1280.yaml': (),
    'selftrain_coco_spinenet143_1280.yaml': ('validate',),
    'supervised_coco_spinenet190_1280.yaml': (),
    'selftrain_coco_spinenet190_1280.yaml': ('validate',),
    'supervised_pascal_deeplabv3plus.yaml': (),
    'selftrain_pascal_deeplabv3plus.yaml': ALL,
}
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


def check_dry_run(recipe: str, tmp_path):
  """Dry-runs `recipe` reduced and checks what its report says."""
  name = experiment(recipe)
  kind = 'coco' if 'coco' in recipe else 'pascal'
  overrides = REDUCED[kind]
  if kind == 'pascal' and name == 'selftrain_pascal':
    overrides += ',task.pseudo_data.output_size=[128,128]'
  stages = STAGES[recipe]
  proc = python(['-m', 'official_ext.tools.dry_run', f'--experiment={name}',
                 f'--config_file=configs/experiments/{recipe}',
                 f'--params_override={overrides}', '--steps=1',
                 '--num_images=2', '--xla=false', f'--model_dir={tmp_path}',
                 f'--stages={",".join(stages)}'], timeout=1800)
  assert proc.returncode == 0, child_failure(proc, 3000)
  with open(tmp_path / 'dry_run.json') as f:
    report = json.load(f)
  params = hyperparams.override_params_dict(
      exp_factory.get_exp_config(name), os.path.join(RECIPE_DIR, recipe),
      is_strict=True)
  tpu = params.runtime.distribution_strategy == 'tpu'
  assert not report['xla']
  assert report['precision'] == params.runtime.mixed_precision_dtype
  if kind == 'coco':
    assert report['nms_version'] == 'v2'
  family = next(k for k in MIN_PARAMETERS if k in recipe)
  assert report['parameters'] > MIN_PARAMETERS[family], report['parameters']
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

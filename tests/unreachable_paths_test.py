"""A path that cannot be reached (a gs:// bucket with no route to it, no
credentials or no permission) stops a tool with one line naming the field
and the path, not a TensorFlow traceback: the data check, the run file,
train.py's init checkpoint. No network is needed: here the bucket's host
does not resolve, which fails at once."""

import os

import pytest
import yaml

from official.core import exp_factory
from official.modeling import hyperparams
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.data import paths
from official_ext.data import record_files
from official_ext.tools import train

from conftest import REPO
from conftest import python

BUCKET = 'gs://official-ext-unreachable-test-bucket'


def test_each_check_names_the_field_and_path():
  for check in (lambda: paths.exists(f'{BUCKET}/x.json', 'data.annotation_file'),
                lambda: paths.glob(f'{BUCKET}/x-*', 'data.annotation_file'),
                lambda: paths.require(f'{BUCKET}/x.json',
                                      'data.annotation_file'),
                lambda: record_files.match(f'{BUCKET}/x-*',
                                           'data.annotation_file')):
    with pytest.raises(FileNotFoundError) as e:
      check()
    message = str(e.value)
    assert message.startswith('data.annotation_file: '), message
    assert BUCKET in message and '\n' not in message, message


def test_train_names_an_unreachable_init_checkpoint(digits_data, tmp_path):
  """The PASCAL recipe's init_checkpoint is a gs:// ImageNet checkpoint;
  here one that cannot be reached. A model_dir with a checkpoint of its own
  does not need it (Model Garden restores that instead)."""
  params = exp_factory.get_exp_config('supervised_digits_seg')
  params = hyperparams.override_params_dict(params, {'task': {
      'init_checkpoint': f'{BUCKET}/resnet101/ckpt-62400',
      'train_data': {'input_path': digits_data['train']}}}, is_strict=True)
  with pytest.raises(FileNotFoundError) as e:
    train.check_experiment(params, 'train', str(tmp_path))
  message = str(e.value)
  assert message.startswith('task.init_checkpoint: '), message
  assert f'{BUCKET}/resnet101/ckpt-62400' in message and '\n' not in message
  params.task.init_checkpoint = str(tmp_path / 'no_such_ckpt')
  with pytest.raises(FileNotFoundError, match='task.init_checkpoint: no '):
    train.check_experiment(params, 'train', str(tmp_path))


def test_self_train_run_file_on_an_unreachable_bucket(tmp_path):
  """configs/runs/coco_spinenet49.yaml as shipped, its bucket renamed: one
  line naming data.labeled."""
  with open(os.path.join(REPO, 'configs/runs/coco_spinenet49.yaml')) as f:
    run = yaml.safe_load(f)
  for key, value in run['data'].items():
    run['data'][key] = value.replace('gs://BUCKET', BUCKET)
  path = tmp_path / 'run.yaml'
  path.write_text(yaml.safe_dump(run))
  proc = python(['-m', 'official_ext.tools.self_train', f'--config={path}',
                 f'--output_dir={tmp_path / "out"}'], timeout=300)
  assert proc.returncode != 0
  lines = proc.stderr.strip().splitlines()
  assert 'Traceback' not in proc.stderr, proc.stderr[-2000:]
  assert 'data.labeled' in lines[-1] and BUCKET in lines[-1], lines[-3:]

"""pretrain_digits / pretrain_digits_seg: Model Garden's classification task
on the digits detectors' / segmenters' backbone, whose trainer checkpoint
initializes that backbone (`init_checkpoint_modules: [backbone]`)."""

import numpy as np
import pytest
import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
from official_ext import registry_imports  # pylint: disable=unused-import
from official_ext.configs import recipes as recipe_lib

from conftest import FAST_SEGMENTER as RESNET_SEGMENTER  # The demo's ResNet.


# pretrain experiment -> the digits models whose backbone it pre-trains.
PRETRAINED = {
    'pretrain_digits': ('supervised_digits', 'selftrain_digits'),
    'pretrain_digits_seg': ('supervised_digits_seg', 'selftrain_digits_seg'),
}


@pytest.mark.parametrize('pretrain_name', sorted(PRETRAINED))
def test_backbone_is_the_digits_models_backbone(pretrain_name):
  pretrain = exp_factory.get_exp_config(pretrain_name).task.model
  for name in PRETRAINED[pretrain_name]:
    model = exp_factory.get_exp_config(name).task.model
    assert pretrain.backbone.as_dict() == model.backbone.as_dict(), name
    assert (pretrain.norm_activation.activation ==
            model.norm_activation.activation)
  assert pretrain.num_classes == 10
  data = exp_factory.get_exp_config(pretrain_name).task.train_data
  assert not data.aug_rand_hflip and not data.decode_jpeg_only


def test_detectors_and_segmenters_have_their_own_backbones():
  """Both default to SpineNet-Mobile-49XS, each at its own model's levels;
  the demo's overlay makes the segmenters' pre-training ResNet too."""
  backbones = {name: exp_factory.get_exp_config(name).task.model.backbone
               for name in PRETRAINED}
  assert {n: b.type for n, b in backbones.items()} == {
      'pretrain_digits': 'spinenet_mobile',
      'pretrain_digits_seg': 'spinenet_mobile'}
  for name, model in PRETRAINED.items():
    assert (backbones[name].as_dict() ==
            exp_factory.get_exp_config(model[0]).task.model.backbone.as_dict())
  resnet = recipe_lib.config_from(
      'pretrain_digits_seg', recipe_lib.recipe_path(RESNET_SEGMENTER))
  assert resnet.task.model.backbone.type == 'resnet'
  assert resnet.task.model.backbone.resnet.model_id == 18
  assert resnet.task.model.norm_activation.activation == 'relu'


@pytest.mark.parametrize('pretrain_name, experiment, overlays, min_kernels', [
    # SpineNet-Mobile-49XS: over 50 kernels; ResNet-18: 17 convolutions and
    # 3 projection shortcuts.
    ('pretrain_digits', 'supervised_digits', [], 51),
    ('pretrain_digits_seg', 'supervised_digits_seg', [], 51),
    ('pretrain_digits_seg', 'supervised_digits_seg', [RESNET_SEGMENTER], 20)])
def test_trainer_checkpoint_initializes_the_backbone(
    tmp_path, pretrain_name, experiment, overlays, min_kernels):
  files = [recipe_lib.recipe_path(name) for name in overlays]
  pretrain_config = recipe_lib.config_from(pretrain_name, *files)
  classifier = task_factory.get_task(pretrain_config.task).build_model()
  # "Pre-trained" weights no fresh build can have: a test earlier in the same
  # process may have fixed the seeds, and then both builds draw the same
  # initial kernels (seen under xdist), which would hide a skipped variable.
  for w in classifier.backbone.weights:
    w.assign(w + 1.0)
  # As Model Garden's trainer writes it: the model's checkpoint_items
  # (backbone) at the root, beside the model.
  path = tf.train.Checkpoint(
      model=classifier, **classifier.checkpoint_items).save(
          str(tmp_path / 'ckpt'))
  config = recipe_lib.config_from(experiment, *files)
  config.task.init_checkpoint = str(tmp_path)
  config.task.init_checkpoint_modules = ['backbone']
  task = task_factory.get_task(config.task)
  model = task.build_model()
  before = [v.numpy() for v in model.backbone.weights]
  task.initialize(model)  # Model Garden asserts every backbone var matched.
  # Same architecture, so the same variables in the same order (the names
  # differ by Keras' per-process numbering).
  want = classifier.backbone.weights
  got = model.backbone.weights
  assert len(got) == len(want) and path.endswith('ckpt-1')
  kernels = 0
  for v, w, old in zip(got, want, before):
    np.testing.assert_array_equal(v.numpy(), w.numpy())
    if 'kernel' in v.name:  # Each one was replaced.
      assert not np.array_equal(v.numpy(), old), v.name
      kernels += 1
  assert kernels >= min_kernels

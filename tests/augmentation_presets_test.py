"""Presets s1..s4 set the parser fields they promise and change the images."""

import numpy as np
import pytest
import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.configs import augmentation_presets as presets
from official_ext.dataloaders import photometric
from official_ext.dataloaders import segmentation_input

EXPECTED = {  # preset: (scale_min, scale_max, flip, aug type)
    's1': (0.8, 1.2, True, None),
    's2': (0.8, 1.2, True, 'autoaug'),
    's3': (0.1, 2.0, True, 'autoaug'),
    's4': (0.1, 2.0, True, 'randaug'),
}


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_detection_preset_fields(name):
  data = exp_factory.get_exp_config('supervised_digits').task.train_data
  data.augmentation_preset = name
  out = presets.apply_detection_preset(data)
  lo, hi, flip, aug = EXPECTED[name]
  assert (out.parser.aug_scale_min, out.parser.aug_scale_max) == (lo, hi)
  assert out.parser.aug_rand_hflip is flip
  if aug is None:
    assert out.parser.aug_type is None
  else:
    assert out.parser.aug_type.type == aug
  if aug == 'autoaug':
    assert out.parser.aug_type.autoaug.augmentation_name == 'detection_v0'
  if aug == 'randaug':
    assert out.parser.aug_type.randaug.exclude_ops == []  # boxes follow.
  # The input config is not modified.
  assert data.parser.aug_scale_min == 0.8 and data.parser.aug_type is None


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_segmentation_preset_fields(name):
  data = exp_factory.get_exp_config('supervised_digits_seg').task.train_data
  data.augmentation_preset = name
  out = presets.apply_segmentation_preset(data)
  lo, hi, flip, aug = EXPECTED[name]
  assert (out.aug_scale_min, out.aug_scale_max, out.aug_rand_hflip) == (
      lo, hi, flip)
  assert (out.aug_type.type if out.aug_type else None) == aug
  augmenter = photometric.augmenter(out.aug_type)
  if aug is None:
    assert augmenter is None
  elif aug == 'randaug':
    assert not set(presets.GEOMETRIC_OPS) & set(augmenter.available_ops)
  else:
    ops = {op[0] for sub in augmenter.policies for op in sub if op[1] > 0}
    assert ops and not ops & set(presets.GEOMETRIC_OPS)


def test_presets_leave_eval_data_alone():
  data = exp_factory.get_exp_config('supervised_digits').task.validation_data
  data.augmentation_preset = 's4'
  assert presets.apply_detection_preset(data).parser.aug_type is None


def test_unknown_preset_names_the_choices():
  with pytest.raises(ValueError, match=r"'s5'.*\['s1', 's2', 's3', 's4'\]"):
    presets.get_preset('s5')


def _first_images(experiment, data_path, preset, seed=7):
  params = exp_factory.get_exp_config(experiment)
  data = params.task.train_data
  data.input_path = data_path
  data.augmentation_preset = preset
  data.seed = seed
  data.shuffle_buffer_size = 1
  task = task_factory.get_task(params.task)
  tf.random.set_seed(seed)
  images, _ = next(iter(task.build_inputs(data)))
  return images.numpy()


@pytest.mark.parametrize('experiment', ['supervised_digits',
                                        'supervised_digits_seg'])
def test_preset_changes_the_pipeline_output(experiment, digits_data):
  plain = _first_images(experiment, digits_data['train'], 's1')
  strong = _first_images(experiment, digits_data['train'], 's4')
  size = exp_factory.get_exp_config(experiment).task.model.input_size
  assert plain.shape == strong.shape == (8, *size)
  assert np.isfinite(strong).all()
  # Same examples, different augmentation: the batches must differ.
  assert np.abs(plain - strong).mean() > 0.01


def test_segmentation_augmentation_works_on_the_parsed_tensors():
  """s4's photometric ops on the parsed (normalized) image: pixels change,
  the mask does not, and the result is a normalized uint8 image again."""
  data = exp_factory.get_exp_config('supervised_digits_seg').task.train_data
  data.augmentation_preset = 's4'
  out = presets.apply_segmentation_preset(data)
  wrap = segmentation_input.photometric_parse_wrapper(out.aug_type,
                                                      out.image_feature)
  mean = np.array(out.image_feature.mean, np.float32)
  stddev = np.array(out.image_feature.stddev, np.float32)
  pixels = np.random.RandomState(0).randint(0, 256, (32, 32, 3))
  image = tf.constant((pixels - mean) / stddev, tf.float32)
  masks = tf.constant(np.random.RandomState(1).randint(0, 11, (32, 32, 1)))
  tf.random.set_seed(0)
  got, labels = wrap(lambda data: (image, {'masks': masks}))({})
  assert got.shape == image.shape and got.dtype == tf.float32
  np.testing.assert_array_equal(labels['masks'].numpy(), masks.numpy())
  back = got.numpy() * stddev + mean
  np.testing.assert_allclose(back, np.round(back), atol=1e-3)  # uint8 values
  assert back.min() >= -1e-3 and back.max() <= 255 + 1e-3
  assert np.abs(back - pixels).mean() > 1.0  # Augmented.
  assert segmentation_input.photometric_parse_wrapper(
      None, out.image_feature) is None

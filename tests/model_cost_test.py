"""benchmarks/model_cost: FLOPs counted on a model whose count is known by
hand, and the peak memory a CPU process reports."""

import tensorflow as tf
import tf_keras

from official_ext.benchmarks import model_cost


def test_flops_per_image_counts_a_convolution_by_hand():
  # A 1x1 convolution, 3 -> 4 channels, no bias, on 8x8: 8*8*3*4
  # multiply-adds, 2 FLOPs each.
  model = tf_keras.Sequential([tf_keras.layers.Conv2D(4, 1, use_bias=False)])
  model.build([None, 8, 8, 3])
  assert model_cost.flops_per_image(model, [8, 8]) == 2 * 8 * 8 * 3 * 4
  assert model_cost.flops_per_image(model, [16, 8]) == 2 * 16 * 8 * 3 * 4


def test_peak_memory_on_a_cpu_is_the_process_peak():
  peak = model_cost.peak_memory(tf.distribute.get_strategy())
  assert list(peak) == ['CPU']
  assert 50 * 2**20 < peak['CPU'] < 64 * 2**30  # TensorFlow alone is ~0.5 GB.

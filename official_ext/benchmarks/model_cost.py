"""What a model costs on the devices present: FLOPs per image and peak
memory per replica (the dry run's figures, benchmarks/dry_run.py)."""

import resource
from typing import Dict, List

import tensorflow as tf

from tensorflow.python.framework import convert_to_constants  # pylint: disable=g-direct-tensorflow-import


def peak_memory(strategy) -> Dict[str, float]:
  """Peak bytes per replica so far.

  Args:
    strategy: the distribution strategy the model runs under.

  Returns:
    {device name: bytes}: each GPU replica's allocator peak, or on a CPU the
    process's peak resident memory (one replica, key 'CPU').
  """
  gpus = tf.config.list_logical_devices('GPU')
  if gpus:
    return {d.name: tf.config.experimental.get_memory_info(d.name)['peak']
            for d in gpus[:strategy.num_replicas_in_sync]}
  return {'CPU': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0}


def _forward(model, images):
  """The network's dense part on `images` (a detector's backbone, decoder
  and head; a segmenter whole), in inference mode."""
  if hasattr(model, 'detection_generator'):
    features = model.backbone(images, training=False)
    if model.decoder is not None:
      features = model.decoder(features, training=False)
    return model.head(features, training=False)
  return model(images, training=False)


def flops_per_image(model, size: List[int]) -> int:
  """Floating-point operations of one image's forward pass (a multiply-add
  counts 2): TensorFlow's profiler on the frozen graph of the network's
  dense part (a detector's NMS, a few percent at most, left out). Model
  Garden's trainer calls its counter without input specs, which a
  subclassed model such as RetinaNet needs, so its runs log "Failed to
  count model FLOPs".

  Args:
    model: a built Model Garden model (a detector or a segmenter).
    size: the input's [height, width].

  Returns:
    The FLOPs of one image.
  """
  function = tf.function(lambda x: _forward(model, x)).get_concrete_function(
      tf.TensorSpec([1] + list(size) + [3], tf.float32))
  frozen, _ = convert_to_constants.convert_variables_to_constants_v2_as_graph(
      function)
  options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
  options['output'] = 'none'
  profile = tf.compat.v1.profiler.profile(
      graph=frozen.graph, run_meta=tf.compat.v1.RunMetadata(),
      options=options)
  return int(profile.total_float_ops)

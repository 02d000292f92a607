"""The central claim of the mixed batch: one forward pass over human +
pseudo images gives, for each half, the loss Model Garden's own
`build_losses` gives on that half alone (each half normalized by its own
positives / valid pixels), for detection and segmentation, on the registered
digits experiments' models (the detector's SpineNet-Mobile-49XS included)."""

import pytest
import tensorflow as tf

from official.core import exp_factory
from official.core import task_factory
from official.vision.tasks import retinanet as mg_retinanet
from official.vision.tasks import semantic_segmentation as mg_seg
import official_ext.registry_imports  # pylint: disable=unused-import
from official_ext.self_training import mixing


def _mg_loss(task, outputs, labels):
  if isinstance(task, mg_retinanet.RetinaNetTask):
    return mg_retinanet.RetinaNetTask.build_losses(
        task, outputs=outputs, labels=labels, aux_losses=None)[0]
  return mg_seg.SemanticSegmentationTask.build_losses(
      task, labels=labels, model_outputs=outputs)


def _as_dict(outputs):
  outputs = {'logits': outputs} if isinstance(outputs, tf.Tensor) else outputs
  return tf.nest.map_structure(lambda x: tf.cast(x, tf.float32), outputs)


@pytest.mark.parametrize('experiment', ['selftrain_digits',
                                        'selftrain_digits_seg'])
def test_each_half_gets_model_gardens_loss_of_that_half(digits_data,
                                                        experiment):
  tf.keras.utils.set_random_seed(1)
  params = exp_factory.get_exp_config(experiment)
  params.task.train_data.input_path = digits_data['train']
  params.task.pseudo_data.input_path = digits_data['val']  # Labeled, too.
  params.task.pseudo_data.global_batch_size = 4
  task = task_factory.get_task(params.task)
  model = task.build_model()
  model(tf.zeros([1] + params.task.model.input_size), training=False)
  # A freshly built head predicts the same for every pixel/anchor (zero
  # init); noise on every weight makes each image's loss its own.
  for v in model.trainable_variables:
    v.assign(v + tf.random.normal(v.shape, stddev=0.05, seed=3))
  (hf, hl), (pf, pl) = next(iter(task.build_inputs(params.task.train_data)))
  assert hf.shape[0] == 8 and pf.shape[0] == 4
  features, num_human = mixing.concat_features(hf, pf)
  # Inference mode: batch norm uses its moving statistics, so an image's
  # outputs do not depend on the rest of the batch.
  human_out, pseudo_out = mixing.split_outputs(
      _as_dict(model(features, training=False)), num_human)
  alone = {'human': (_as_dict(model(hf, training=False)), hl),
           'pseudo': (_as_dict(model(pf, training=False)), pl)}
  for half, outputs, labels in (('human', human_out, hl),
                                ('pseudo', pseudo_out, pl)):
    ours, _ = task.split_losses(outputs, labels)
    reference = _mg_loss(task, *alone[half])
    assert float(reference) > 0, half
    assert float(ours) == pytest.approx(float(reference), rel=1e-4), half
  # The halves differ, so a swapped or misaligned split would show.
  assert abs(float(task.split_losses(human_out, hl)[0]) -
             float(task.split_losses(pseudo_out, pl)[0])) > 1e-4

"""SelfTrainingSegmentationTask: DeepLabV3+ student on human + pseudo masks."""

import tensorflow as tf

from official.core import task_factory

from official_ext.configs import selftrain_segmentation as exp_cfg
from official_ext.self_training import task as st_task
from official_ext.tasks import semantic_segmentation


@task_factory.register_task_cls(exp_cfg.SelfTrainingSegmentationTask)
class SelfTrainingSegmentationTask(st_task.SelfTrainingMixin,
                                   semantic_segmentation.SemanticSegmentationTask):
  """Model Garden segmentation + the shared self-training core."""

  PSEUDO_STAT_NAMES = ('pseudo_ignored_fraction',)
  LABEL_TASK = 'segmentation'

  def make_parse_fn(self, parser, params):
    parse = super().make_parse_fn(parser, params)
    if not params.is_training:
      return parse
    ignore = self.task_config.losses.ignore_label

    def parse_with_ignored(data):
      image, labels = parse(data)
      # Of the mask as stored (before crops and padding add ignore pixels).
      mask = tf.io.decode_image(data['image/segmentation/class/encoded'],
                                channels=1, expand_animations=False)
      labels['ignored_fraction'] = tf.reduce_mean(
          tf.cast(tf.equal(mask, ignore), tf.float32))
      return image, labels

    return parse_with_ignored

  def split_losses(self, outputs, labels):
    # Model Garden's loss: the ignore label (255) adds nothing, and each half
    # is averaged over its own valid pixels.
    return self.build_losses(labels=labels, model_outputs=outputs), {}

  def pseudo_statistics(self, labels):
    return {'pseudo_ignored_fraction': tf.reduce_mean(
        labels['ignored_fraction'])}


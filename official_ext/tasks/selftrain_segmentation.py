"""SelfTrainingSegmentationTask: DeepLabV3+ student on human + pseudo masks."""

import tensorflow as tf

from official.core import task_factory
from official.vision.evaluation import segmentation_metrics

from official_ext.configs import selftrain_segmentation as exp_cfg
from official_ext.self_training import task as st_task
from official_ext.tasks import semantic_segmentation


def ignored_fraction(labels, ignore_label: int) -> tf.Tensor:
  """Fraction of a parsed batch's mask pixels that are `ignore_label`,
  inside each image (the padding the parser adds around a scaled-down image
  is left out): read from the parsed labels, no second decode."""
  masks = labels['masks'][..., 0]  # [B, H, W]
  info = labels['image_info']      # [B, 4, 2]: original, scaled, scale, offset.
  size = tf.shape(masks)[1:3]
  extent = tf.cast(tf.minimum(info[:, 1, :] - info[:, 3, :],
                              tf.cast(size, tf.float32)), tf.int32)
  rows = tf.range(size[0])[None, :, None] < extent[:, 0, None, None]
  cols = tf.range(size[1])[None, None, :] < extent[:, 1, None, None]
  inside = tf.logical_and(rows, cols)
  ignored = tf.logical_and(tf.equal(masks, tf.cast(ignore_label, masks.dtype)),
                           inside)
  return (tf.reduce_sum(tf.cast(ignored, tf.float32)) /
          tf.maximum(tf.reduce_sum(tf.cast(inside, tf.float32)), 1.0))


@task_factory.register_task_cls(exp_cfg.SelfTrainingSegmentationTask)
class SelfTrainingSegmentationTask(st_task.SelfTrainingMixin,
                                   semantic_segmentation.SemanticSegmentationTask):
  """Model Garden segmentation + the shared self-training core."""

  PSEUDO_STAT_NAMES = ('pseudo_ignored_fraction',)
  LABEL_TASK = 'segmentation'

  def build_metrics(self, training: bool = True):
    metrics = super().build_metrics(training)
    if training and self.task_config.evaluation.report_train_mean_iou:
      # Model Garden's train mean IoU, of the human half (the pseudo half's
      # "ground truth" is the teacher's guess).
      metrics.append(segmentation_metrics.MeanIoU(
          name='human_mean_iou', num_classes=self.task_config.model.num_classes,
          rescale_predictions=False, dtype=tf.float32))
    return metrics

  def split_losses(self, outputs, labels):
    # Model Garden's loss: the ignore label (255) adds nothing, and each half
    # is averaged over its own valid pixels.
    return self.build_losses(labels=labels, model_outputs=outputs), {}

  def pseudo_statistics(self, labels):
    return {'pseudo_ignored_fraction': ignored_fraction(
        labels, self.task_config.losses.ignore_label)}

"""SelfTrainingSegmentationTask: DeepLabV3+ student on human + pseudo masks."""

import tensorflow as tf

from official.core import task_factory
from official.vision.evaluation import segmentation_metrics

from official_ext.configs import selftrain_segmentation as exp_cfg
from official_ext.dataloaders import segmentation_input
from official_ext.labeling import segmentation_masks
from official_ext.self_training import task as st_task
from official_ext.tasks import semantic_segmentation


def ignored_fraction(labels, ignore_label: int) -> tf.Tensor:
  """How much of a parsed pseudo batch the teacher left unlabeled.

  Args:
    labels: the parsed labels (masks, image_info).
    ignore_label: the loss's ignore label.

  Returns:
    The fraction of mask pixels that are `ignore_label` inside each image
    (the padding the parser adds around a scaled-down image is left out):
    read from the parsed labels, no second decode.
  """
  masks = labels['masks'][..., 0]  # [B, H, W]
  # [B, 4, 2]: original size, output size, scale, crop offset (Model
  # Garden's resize_and_crop_image); the image covers original * scale -
  # offset of the output, the rest is padding.
  info = labels['image_info']
  size = tf.shape(masks)[1:3]
  extent = tf.cast(tf.minimum(tf.round(info[:, 0, :] * info[:, 2, :]) -
                              info[:, 3, :], tf.cast(size, tf.float32)),
                   tf.int32)
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

  def online_view_wrapper(self, params):
    return segmentation_input.two_view_parse_wrapper(
        segmentation_input.photometric_fn(params.get('aug_type'),
                                          params.image_feature),
        st_task.TEACHER_IMAGE)

  def online_pseudo_labels(self, teacher_outputs, labels, thresholds):
    # The teacher's logits resized to the label size (bilinear, as Model
    # Garden's loss resizes the student's), then the offline labeler's rule;
    # the padding around each image stays ignored.
    masks = labels['masks']
    logits = tf.image.resize(teacher_outputs['logits'], tf.shape(masks)[1:3],
                             method='bilinear')
    classes, confidence = segmentation_masks.class_and_max_probability(logits)
    mask = segmentation_masks.threshold_mask(classes, confidence, thresholds)
    ignore = self.task_config.losses.ignore_label
    unsure = tf.equal(mask, segmentation_masks.IGNORE_LABEL)
    padding = tf.equal(masks[..., 0], ignore)
    mask = tf.where(unsure | padding, ignore, mask)[..., None]
    return {'masks': tf.cast(mask, masks.dtype),
            'valid_masks': tf.not_equal(mask, ignore),
            'image_info': labels['image_info']}

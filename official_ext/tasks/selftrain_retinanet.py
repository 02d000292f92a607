"""SelfTrainingRetinaNetTask: RetinaNet student on human + pseudo labels."""

import tensorflow as tf

from official.core import task_factory
from official.vision.ops import anchor
from official.vision.ops import preprocess_ops

from official_ext.configs import selftrain_retinanet as exp_cfg
from official_ext.dataloaders import photometric
from official_ext.self_training import task as st_task
from official_ext.tasks import retinanet


@task_factory.register_task_cls(exp_cfg.SelfTrainingRetinaNetTask)
class SelfTrainingRetinaNetTask(st_task.SelfTrainingMixin,
                                retinanet.RetinaNetTask):
  """Model Garden RetinaNet + the shared self-training core."""

  TASK_LOSS_NAMES = ('cls_loss', 'box_loss', 'model_loss')
  PSEUDO_STAT_NAMES = ('pseudo_boxes_per_image',)
  LABEL_TASK = 'detection'

  def parse_wrapper(self, params):
    if not params.is_training:
      return super().parse_wrapper(params)

    def wrap(parse):
      def parse_with_count(data):
        # Of the decoded record: Model Garden's training labels hold anchor
        # targets, not the boxes.
        image, labels = parse(data)
        labels['num_groundtruths'] = tf.shape(data['groundtruth_classes'])[0]
        return image, labels
      return parse_with_count

    return wrap

  def split_losses(self, outputs, labels):
    # Model Garden's loss: each half normalized by its own positives.
    loss, cls_loss, box_loss, model_loss = self.build_losses(
        outputs=outputs, labels=labels, aux_losses=None)
    return loss, {'cls_loss': cls_loss, 'box_loss': box_loss,
                  'model_loss': model_loss}

  def pseudo_statistics(self, labels):
    count = tf.cast(labels['num_groundtruths'], tf.float32)
    return {'pseudo_boxes_per_image': tf.reduce_mean(count)}


  # ---- online mode ------------------------------------------------------------
  def online_parser_config(self, params):
    # Model Garden's parser applies aug_type (its ops move boxes) before
    # the weak view exists; the strong view gets its photometric ops.
    params = params.replace()
    params.parser.aug_type = None
    return params

  def online_view_wrapper(self, params):
    strong = photometric.on_normalized(params.parser.aug_type,
                                       preprocess_ops.MEAN_RGB,
                                       preprocess_ops.STDDEV_RGB)
    return photometric.two_view_parse_wrapper(strong, st_task.TEACHER_IMAGE)

  def online_teacher_kwargs(self, labels):
    # As Model Garden's validation step: boxes decoded at these anchors and
    # clipped to the output frame.
    return {'anchor_boxes': labels['anchor_boxes'],
            'image_shape': labels['image_info'][:, 1, :]}

  def online_pseudo_labels(self, teacher_outputs, labels, thresholds):
    boxes, classes, keep = kept_detections(teacher_outputs, thresholds)
    parser = self.task_config.pseudo_data.parser
    labeler = anchor.AnchorLabeler(
        match_threshold=parser.match_threshold,
        unmatched_threshold=parser.unmatched_threshold,
        box_coder_weights=(
            self.task_config.model.detection_generator.box_coder_weights))
    # Every image of the batch has the same anchors (one output size).
    anchors = {level: value[0]
               for level, value in labels['anchor_boxes'].items()}
    targets = []
    for i in range(boxes.shape[0]):  # The per-replica batch (static).
      cls_targets, box_targets, _, cls_weights, box_weights = (
          labeler.label_anchors(
              anchors, tf.boolean_mask(boxes[i], keep[i]),
              tf.boolean_mask(classes[i], keep[i])[:, None]))
      targets.append((cls_targets, box_targets, cls_weights, box_weights))
    stack = lambda parts: tf.nest.map_structure(  # pylint: disable=g-long-lambda
        lambda *x: tf.stack(x), *parts)
    cls_targets, box_targets, cls_weights, box_weights = (
        stack([t[j] for t in targets]) for j in range(4))
    return {'cls_targets': cls_targets, 'box_targets': box_targets,
            'cls_weights': cls_weights, 'box_weights': box_weights,
            'anchor_boxes': labels['anchor_boxes'],
            'image_info': labels['image_info'],
            'num_groundtruths': tf.reduce_sum(tf.cast(keep, tf.int32), 1)}


def kept_detections(outputs, thresholds):
  """The teacher's detections an online student learns from.

  Args:
    outputs: a batch of the teacher's post-NMS detections (detection_boxes,
      _classes, _scores, num_detections).
    thresholds: [classes], each class's score threshold.

  Returns:
    (boxes, classes, keep): keep marks each image's first num_detections
    whose score reaches its class's threshold (the offline
    DetectionLabeler's rule).
  """
  boxes = outputs['detection_boxes']
  classes = tf.cast(outputs['detection_classes'], tf.int32)
  scores = outputs['detection_scores']
  num = tf.cast(outputs['num_detections'], tf.int32)
  valid = tf.range(tf.shape(scores)[1])[None, :] < num[:, None]
  safe = tf.where(valid, classes, 0)
  keep = valid & (scores >= tf.gather(thresholds, safe))
  return boxes, safe, keep

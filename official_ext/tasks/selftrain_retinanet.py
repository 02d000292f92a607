"""SelfTrainingRetinaNetTask: RetinaNet student on human + pseudo labels."""

import tensorflow as tf

from official.core import task_factory

from official_ext.configs import selftrain_retinanet as exp_cfg
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
      return None

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


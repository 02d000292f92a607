"""The online teacher (mean teacher): a moving average of the student.

`task.self_training.mode: online` (docs/self_training.md). The teacher is a
second network of the student's architecture, held on the student model as
`online_teacher`, so Model Garden's checkpoint saves it with the weights
(under `model/online_teacher/network/...`) and a resumed run continues
exactly. With s the number of finished steps (`step`, checkpointed too) and
B = burn_in_steps:

  * steps s < B: the pseudo loss weighs 0 (the labeled images alone); after
    each, the teacher becomes a copy of the student;
  * steps s >= B: the pseudo loss weighs 1; after each,
    teacher <- decay * teacher + (1 - decay) * student.

So the teacher that labels step B is the student after B burn-in steps.
Every variable is averaged, batch-norm moving statistics included. The
teacher is not trained: its variables are not trainable and its forward
pass runs in inference mode, without gradients.
"""

import re
from typing import List, Tuple

import tensorflow as tf
import tf_keras

from official_ext.labeling import labelers
from official_ext.quality import labeling_quality

ATTR = 'online_teacher'


def class_thresholds(task_config) -> tf.Tensor:
  """The score each class's online pseudo label must reach.

  Args:
    task_config: a self-training task config.

  Returns:
    A [num_classes] float tensor: `self_training.score_threshold`, or a
    class's own from the `self_training.class_thresholds` JSON file.
  """
  st = task_config.self_training
  per_class = (labeling_quality.read_thresholds(st.class_thresholds)
               if st.class_thresholds else {})
  return tf.constant(labelers.threshold_vector(
      st.score_threshold, per_class, task_config.model.num_classes))


def _kind(variable) -> str:
  """A variable's name without Keras' uniquifying suffixes (conv2d_7/kernel
  -> conv2d/kernel): the same for a variable and its twin in another build
  of the same model."""
  return re.sub(r'_\d+(?=[/:])', '', variable.name)


class _Pairs:
  """(teacher variable, student variable) pairs. A plain object, so Keras
  does not track the student's variables as the teacher layer's own."""

  def __init__(self, pairs: List[Tuple[tf.Variable, tf.Variable]]):
    self.pairs = pairs


class OnlineTeacher(tf_keras.layers.Layer):
  """An EMA copy of `student`; `network` is a fresh model of its
  architecture (built, so its variables exist, in the student's order)."""

  def __init__(self, network: tf_keras.Model, student: tf_keras.Model,
               decay: float, burn_in_steps: int, name: str = ATTR):
    teacher_vars, student_vars = list(network.variables), list(
        student.variables)
    if [(_kind(v), v.shape) for v in teacher_vars] != [
        (_kind(v), v.shape) for v in student_vars]:
      raise ValueError('The online teacher network does not match the '
                       f'student ({len(teacher_vars)} vs {len(student_vars)} '
                       'variables, or their names or shapes differ; build '
                       'both in full before pairing them).')
    super().__init__(name=name, trainable=False)
    self.network = network
    self.network.trainable = False
    self.decay = float(decay)
    self.burn_in_steps = int(burn_in_steps)
    self._pairs = _Pairs(list(zip(teacher_vars, student_vars)))
    # ONLY_FIRST_REPLICA: each replica adds the same 1 (as LossNormalizer's
    # count); read in any context.
    self.step = self.add_weight(
        name='step', shape=[], dtype=tf.int64, initializer='zeros',
        trainable=False,
        synchronization=tf.VariableSynchronization.ON_WRITE,
        aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

  @property
  def pairs(self) -> List[Tuple[tf.Variable, tf.Variable]]:
    """(teacher variable, its student variable), in the student's order."""
    return list(self._pairs.pairs)

  def pseudo_weight(self) -> tf.Tensor:
    """1.0 once burn-in is over, else 0.0 (for LossNormalizer.combine)."""
    return tf.cast(self.step >= self.burn_in_steps, tf.float32)

  def predict(self, images, **kwargs):
    """The teacher's outputs, in inference mode, with no gradients.

    Args:
      images: the batch's teacher view.
      **kwargs: the model's other call arguments (e.g. a detector's
        image_shape).

    Returns:
      The network's outputs, gradients stopped.
    """
    outputs = self.network(images, training=False, **kwargs)
    return tf.nest.map_structure(tf.stop_gradient, outputs)

  def _decay(self) -> tf.Tensor:
    return tf.where(self.step < self.burn_in_steps, 0.0, self.decay)

  @staticmethod
  def _average(teacher, student, decay):
    decay = tf.cast(decay, teacher.dtype)
    return teacher.assign(decay * teacher +
                          (1.0 - decay) * tf.cast(student, teacher.dtype))

  def update(self):
    """After the student's update: copy (burn-in) or move the average,
    then count the step. Called inside the replica function.

    Mirrored variables (the weights) are updated through the strategy, in
    cross-replica context, as an optimizer updates them; sync-on-read ones
    (batch-norm moving statistics) are per replica, and each replica's
    teacher copy follows its own student copy.
    """
    on_read, mirrored = [], []
    for teacher, student in self._pairs.pairs:
      synchronized = student.synchronization == tf.VariableSynchronization.ON_READ
      (on_read if synchronized else mirrored).append((teacher, student))
    decay = self._decay()
    ops = [self._average(t, s, decay) for t, s in on_read]

    def merge(strategy):
      # The decay again, from the step read in cross-replica context: a
      # plain tensor, which `update` passes to every device.
      cross_decay = self._decay()
      return tf.group([strategy.extended.update(
          t, self._average, args=(s, cross_decay)) for t, s in mirrored])

    ops.append(tf.distribute.get_replica_context().merge_call(merge))
    with tf.control_dependencies(ops):
      return self.step.assign_add(1)

"""The self-training core shared by the detection and segmentation tasks.

A mixin placed before the Model Garden task class in the MRO:

    class SelfTrainingRetinaNetTask(SelfTrainingMixin, RetinaNetTask): ...

It adds (1) the pseudo-label input next to the human one
(student_inputs.py; labeled by the teacher on first use: first_use.py),
(2) one forward pass over the combined batch, (3) human and pseudo losses
computed separately and combined by the LossNormalizer, whose averages live
on the model and so in its checkpoint. This module holds what is attached
to the model and the train step; config checks are preflight.py's. A
subclass supplies `split_losses` and `pseudo_statistics`.

In `mode: online` the pseudo half is raw images in two views (the
subclass's `online_view_wrapper`) and the labels are made inside the step
by an EMA teacher (online_teacher.py) from the weak view (the subclass's
`online_pseudo_labels`); the student learns them on the strong view.
"""

from typing import Any, Dict, List, Optional, Tuple

import tensorflow as tf
import tf_keras

from official_ext.self_training import first_use
from official_ext.self_training import loss_normalization
from official_ext.self_training import mixing
from official_ext.self_training import online_teacher
from official_ext.self_training import student_inputs

NORMALIZER_ATTR = 'loss_normalizer'
NON_FINITE_LOSS = 'Non-finite loss:'
# Online mode: the pseudo labels' key holding the teacher's (weak) view.
TEACHER_IMAGE = 'teacher_image'


class SelfTrainingMixin:
  """Self-training on top of a Model Garden vision task."""

  # Names of the extra per-task loss parts (logged per half, as human_<name>
  # and pseudo_<name>) and of the pseudo statistics.
  TASK_LOSS_NAMES: Tuple[str, ...] = ()
  PSEUDO_STAT_NAMES: Tuple[str, ...] = ()
  # What the teacher predicts: 'detection' or 'segmentation' (labelers.py).
  LABEL_TASK: str = ''

  # ---- what a subclass provides --------------------------------------------
  def split_losses(self, outputs, labels) -> Tuple[tf.Tensor, Dict[str, Any]]:
    """Model Garden's loss of one half of the batch.

    Args:
      outputs: the model's outputs on that half (float32).
      labels: its labels, as the parser (or `online_pseudo_labels`) made
        them.

    Returns:
      (the task loss without regularization, {TASK_LOSS_NAMES: value}).
    """
    raise NotImplementedError

  def pseudo_statistics(self, labels) -> Dict[str, tf.Tensor]:
    """What the pseudo labels of a batch look like, for the train logs.

    Args:
      labels: the pseudo half's labels.

    Returns:
      {PSEUDO_STAT_NAMES: scalar}.
    """
    raise NotImplementedError

  def online_view_wrapper(self, params):
    """Online mode: the parse wrapper of the raw unlabeled records.

    Args:
      params: the resolved pseudo data config (its preset applied).

    Returns:
      A wrapper (tasks/inputs.py) of Model Garden's parse function giving
      (strong view, labels + {TEACHER_IMAGE: weak view}), the two views of
      the same geometry.
    """
    raise NotImplementedError

  def online_teacher_kwargs(self, labels) -> Dict[str, Any]:
    """Online mode: the teacher model's call arguments besides the images.

    Args:
      labels: the pseudo half's labels (e.g. a detector's image_info).

    Returns:
      The keyword arguments (none by default).
    """
    del labels
    return {}

  def online_pseudo_labels(self, teacher_outputs, labels,
                           thresholds: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Online mode: the student's labels for a batch.

    Args:
      teacher_outputs: the EMA teacher's outputs on the weak view (float32).
      labels: the batch's labels as the view wrapper left them.
      thresholds: [num_classes], the score each class must reach
        (online_teacher.class_thresholds).

    Returns:
      Labels in the form `split_losses` takes.
    """
    raise NotImplementedError

  def online(self) -> bool:
    return self.task_config.self_training.mode == 'online'

  def online_parser_config(self, params):
    """Online mode: the pseudo data config Model Garden's parser is built
    from.

    Args:
      params: the resolved pseudo data config.

    Returns:
      The config for the parser (its geometry; a subclass removes what the
      view wrapper does instead).
    """
    return params

  # ---- model -------------------------------------------------------------------
  def build_model(self):
    model = super().build_model()
    st = self.task_config.self_training
    if self.online():
      # Both networks built in full (Model Garden's RetinaNet creates its
      # head's variables on the first call) by an inference-mode pass, and
      # paired before anything else is attached to the student.
      network = super().build_model()
      images = self._dummy_images()
      for built in (model, network):
        built(images, training=False)
      setattr(model, online_teacher.ATTR, online_teacher.OnlineTeacher(
          network, model, decay=st.ema_decay,
          burn_in_steps=st.burn_in_steps))
    # An attribute of the model: Model Garden's checkpoint (model=model)
    # saves it; init_checkpoint (model.checkpoint_items) does not need it.
    setattr(model, NORMALIZER_ATTR, loss_normalization.LossNormalizer(
        alpha=st.alpha, decay=st.loss_average_decay,
        enabled=st.loss_normalization, max_ratio=st.max_loss_ratio))
    return model

  def _dummy_images(self) -> tf.Tensor:
    """One all-zero image of the model's input size (the train data's
    output size where the model's is not fixed)."""
    height, width, channels = self.task_config.model.input_size
    if not height or not width:
      height, width = self.task_config.train_data.output_size
    return tf.zeros([1, height, width, channels])

  # ---- inputs ------------------------------------------------------------------
  def pseudo_data_config(self):
    """pseudo_data, pointed at teacher labels when labeling on first use."""
    return first_use.pseudo_data_config(self.task_config, self.logging_dir,
                                        self.LABEL_TASK)

  def build_inputs(self, params,
                   input_context: Optional[tf.distribute.InputContext] = None):
    """Model Garden's `build_inputs`; in training, the human + pseudo
    batches (student_inputs.build).

    Args:
      params: the data config (task.train_data or task.validation_data).
      input_context: the distribution's input context.

    Returns:
      A dataset of (features, labels), or in training of
      ((human features, labels), (pseudo features, labels)).
    """
    if not params.is_training:
      return super().build_inputs(params, input_context)
    return student_inputs.build(self, params, super().build_inputs,
                                input_context)

  # ---- metrics -----------------------------------------------------------------
  def build_metrics(self, training: bool = True):
    """Model Garden's metrics; in training, the split losses' too.

    Args:
      training: whether for the train step.

    Returns:
      A list of Keras metrics.
    """
    if not training:
      return super().build_metrics(training=False)
    names = (['total_loss', 'human_loss', 'pseudo_loss', 'loss_norm_ratio',
              'loss_norm_ratio_clipped'] +
             [f'{half}_{name}' for half in ('human', 'pseudo')
              for name in self.TASK_LOSS_NAMES] +
             list(self.PSEUDO_STAT_NAMES))
    return [tf_keras.metrics.Mean(n, dtype=tf.float32) for n in names]

  # ---- training ----------------------------------------------------------------
  @staticmethod
  def _assert_finite(normalizer, human_loss, pseudo_loss, loss):
    """Stops the step, before any update, on a NaN/inf loss, naming the step
    and the losses; the last checkpoint stays the last good one. (Model
    Garden's `trainer.loss_upper_bound` acts after a whole loop of steps,
    on its mean loss, by restoring the last checkpoint, and names neither
    the step nor the half that went bad.)

    The step is the normalizer's count of good steps + 1 (checkpointed with
    the model); optimizer.iterations may not exist yet inside a replica
    function and cannot be created there.
    """
    if isinstance(tf.distribute.get_strategy(),
                  (tf.distribute.TPUStrategy,)):
      return tf.no_op()  # XLA on TPU compiles no Assert.
    finite = tf.reduce_all(tf.math.is_finite(
        tf.stack([human_loss, pseudo_loss, loss])))
    return tf.debugging.Assert(finite, [
        NON_FINITE_LOSS, 'step', normalizer.num_updates + 1, 'human_loss',
        human_loss, 'pseudo_loss', pseudo_loss, 'total_loss', loss])

  def train_step(self, inputs, model: tf_keras.Model,
                 optimizer: tf_keras.optimizers.Optimizer,
                 metrics: Optional[List[Any]] = None):
    """One student step on a human and a pseudo batch: the split losses,
    normalized (loss_normalization.py), and mixed; the online teacher's
    update after the student's.

    Args:
      inputs: ((human features, labels), (pseudo features, labels)).
      model: the student (carrying its normalizer and, online, its teacher).
      optimizer: the optimizer.
      metrics: the metrics from `build_metrics`.

    Returns:
      The logs: the task's loss, each loss by half, the normalizer's
      ratios, the pseudo labels' statistics and each metric's result.
    """
    (human_features, human_labels), (pseudo_features, pseudo_labels) = inputs
    normalizer = getattr(model, NORMALIZER_ATTR)
    teacher = getattr(model, online_teacher.ATTR, None)
    pseudo_weight = 1.0
    if teacher is not None:
      teacher_outputs = teacher.predict(
          pseudo_labels[TEACHER_IMAGE],
          **self.online_teacher_kwargs(pseudo_labels))
      if isinstance(teacher_outputs, tf.Tensor):
        teacher_outputs = {'logits': teacher_outputs}
      teacher_outputs = tf.nest.map_structure(
          lambda x: tf.cast(x, tf.float32), teacher_outputs)
      pseudo_labels = self.online_pseudo_labels(
          teacher_outputs, pseudo_labels,
          online_teacher.class_thresholds(self.task_config))
      pseudo_weight = teacher.pseudo_weight()
    num_replicas = tf.distribute.get_strategy().num_replicas_in_sync
    features, num_human = mixing.concat_features(human_features,
                                                 pseudo_features)
    with tf.GradientTape() as tape:
      outputs = model(features, training=True)
      if isinstance(outputs, tf.Tensor):
        outputs = {'logits': outputs}
      outputs = tf.nest.map_structure(lambda x: tf.cast(x, tf.float32),
                                      outputs)
      human_outputs, pseudo_outputs = mixing.split_outputs(outputs, num_human)
      human_loss, human_parts = self.split_losses(human_outputs, human_labels)
      pseudo_loss, pseudo_parts = self.split_losses(pseudo_outputs,
                                                    pseudo_labels)
      loss, ratio, clipped = normalizer.combine(human_loss, pseudo_loss,
                                                pseudo_weight)
      if model.losses:
        loss += self.task_config.losses.loss_weight * tf.add_n(model.losses)
      scaled_loss = loss / num_replicas
      if isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
        scaled_loss = optimizer.get_scaled_loss(scaled_loss)
    tvars = model.trainable_variables
    with tf.control_dependencies([self._assert_finite(
        normalizer, human_loss, pseudo_loss, loss)]):
      grads = tape.gradient(scaled_loss, tvars)
    if isinstance(optimizer, tf_keras.mixed_precision.LossScaleOptimizer):
      grads = optimizer.get_unscaled_gradients(grads)
    optimizer.apply_gradients(list(zip(grads, tvars)))
    if teacher is not None:
      teacher.update()

    values = {'total_loss': loss, 'human_loss': human_loss,
              'pseudo_loss': pseudo_loss, 'loss_norm_ratio': ratio,
              'loss_norm_ratio_clipped': clipped}
    for half, parts in (('human', human_parts), ('pseudo', pseudo_parts)):
      values.update({f'{half}_{k}': v for k, v in parts.items()})
    values.update(self.pseudo_statistics(pseudo_labels))
    # This replica's own values of this step; a metric of the same name
    # replaces its value with the metric's (cross-replica) result.
    logs = dict(values, **{self.loss: loss})
    # Model Garden's own train metrics (e.g. segmentation's mean IoU), of
    # the human half.
    task_metrics = [m for m in metrics or [] if m.name not in values]
    if task_metrics:
      self.process_metrics(task_metrics, human_labels, human_outputs)
    for m in metrics or []:
      if m.name in values:
        m.update_state(values[m.name])
      logs[m.name] = m.result()
    return logs

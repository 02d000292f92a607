"""The `task.self_training` block shared by detection and segmentation."""

import dataclasses

from official.modeling import hyperparams


def check_threshold_options(class_thresholds: str, calibration_pattern: str,
                            target_precision: float, name=lambda f: f):
  """Raises ValueError for per-class threshold options that cannot work;
  `name(field)` is how the user spells a field (a flag or a config path)."""
  if class_thresholds == 'auto' and not calibration_pattern:
    raise ValueError(
        f"{name('class_thresholds')}=auto needs "
        f"{name('calibration_pattern')} (labeled TFRecords the student does "
        'not train on).')
  if not 0.0 < target_precision <= 1.0:
    raise ValueError(f"{name('target_precision')}={target_precision}: must "
                     'be in (0, 1].')


MODES = ('offline', 'online')


@dataclasses.dataclass
class SelfTrainingConfig(hyperparams.Config):
  """Teacher, pseudo-label threshold and loss normalization (docs/self_training.md).

  Attributes:
    teacher: SavedModel dir (Model Garden export). When set, the task treats
      `pseudo_data.input_path` as raw unlabeled images, labels them once into
      `model_dir/pseudo_labels` (resumable) and trains on the result.
    score_threshold: detection score / max softmax probability kept as a
      pseudo label, in [0, 1].
    loss_normalization: L = (L_h + a*sg(avg(L_h)/avg(L_p))*L_p) / (1 + a);
      False gives L = L_h + a*L_p.
    alpha: weight a of the pseudo loss, >= 0.
    loss_average_decay: EMA decay of avg(L_h) and avg(L_p), in [0, 1).
    max_loss_ratio: cap on avg(L_h) / avg(L_p), > 0. Without it a pseudo
      loss whose average is small but not ~0 (pseudo masks mostly ignored)
      multiplies the pseudo gradient without bound. 10 is an order of
      magnitude above balanced losses (ratio 1); the TensorBoard scalar
      `loss_norm_ratio` shows the ratio used and `loss_norm_ratio_clipped`
      the fraction of steps the cap clipped.
    mode: 'offline' (the paper: a fixed teacher SavedModel labeled
      pseudo_data beforehand, or on first use) or 'online' (mean teacher:
      an exponential moving average of the student labels each unlabeled
      batch inside the train step; pseudo_data then holds raw unlabeled
      images, each read once and seen in two views of the same geometry, a
      weak one for the teacher and a strongly augmented one for the
      student).
    ema_decay: online only; teacher <- d * teacher + (1 - d) * student
      after every step, d in [0, 1).
    burn_in_steps: online only, >= 1; the first steps train on the labeled
      images alone (the pseudo loss weighs 0) and the teacher follows the
      student as a copy; from then on it is the moving average.
    class_thresholds, calibration_pattern, target_precision, strict_quality:
      for labeling on first use, as the pseudo_label tool's flags of the same
      names (per-class thresholds: '' | 'auto' | a JSON file; 'auto' needs
      calibration_pattern, labeled TFRecords the student does not train
      on). The bias warnings compare with `train_data.input_path`.
  """
  teacher: str = ''
  score_threshold: float = 0.5
  loss_normalization: bool = True
  alpha: float = 1.0
  loss_average_decay: float = 0.99
  max_loss_ratio: float = 10.0
  class_thresholds: str = ''
  calibration_pattern: str = ''
  target_precision: float = 0.8
  strict_quality: bool = False
  mode: str = 'offline'
  ema_decay: float = 0.9996
  burn_in_steps: int = 1000

  def check(self, pseudo_batch_size: int):
    """Raises ValueError naming the field and the fix."""
    if not 0.0 <= self.score_threshold <= 1.0:
      raise ValueError(
          f'task.self_training.score_threshold={self.score_threshold}: must '
          'be in [0, 1] (0.5 in the paper).')
    if self.alpha < 0:
      raise ValueError(f'task.self_training.alpha={self.alpha}: must be >= 0.')
    if not 0.0 <= self.loss_average_decay < 1.0:
      raise ValueError(
          f'task.self_training.loss_average_decay={self.loss_average_decay}: '
          'must be in [0, 1).')
    if not self.max_loss_ratio > 0:
      raise ValueError(
          f'task.self_training.max_loss_ratio={self.max_loss_ratio}: must be '
          '> 0 (default 10).')
    if self.mode not in MODES:
      raise ValueError(f'task.self_training.mode={self.mode!r}: use one of '
                       f'{list(MODES)}.')
    if self.mode == 'online':
      self._check_online()
    check_threshold_options(
        self.class_thresholds, self.calibration_pattern,
        self.target_precision,
        name=lambda field: f'task.self_training.{field}')
    if pseudo_batch_size <= 0:
      raise ValueError(
          f'task.pseudo_data.global_batch_size={pseudo_batch_size}: '
          'self-training needs pseudo-labeled images in every batch; set a '
          'positive batch size (default: the same as train_data).')

  def _check_online(self):
    def field(name):
      return f'task.self_training.{name}={getattr(self, name)!r}'
    if not 0.0 <= self.ema_decay < 1.0:
      raise ValueError(f"{field('ema_decay')}: must be in [0, 1) (e.g. "
                       '0.9996).')
    if self.burn_in_steps < 1:
      raise ValueError(f"{field('burn_in_steps')}: must be >= 1 (the "
                       'teacher starts as a copy of the burnt-in student).')
    if self.teacher:
      raise ValueError(f"{field('teacher')} with mode='online': the online "
                       'teacher is the moving average of the student; '
                       "remove the teacher, or use mode='offline'.")
    if self.class_thresholds == 'auto' or self.calibration_pattern:
      raise ValueError(
          "mode='online' labels inside the train step, with no calibration: "
          'task.self_training.class_thresholds takes a JSON file (or empty) '
          'and calibration_pattern stays empty.')


def student_from(teacher, rehost, preset: str = 's4'):
  """A student config: the teacher's experiment re-hosted on a
  self-training task config (`rehost(teacher)`), plus pseudo data and
  strong augmentation."""
  return add_pseudo_data(rehost(teacher), preset)


def add_pseudo_data(config, preset: str = 's4'):
  """Makes a teacher's config (on a self-training task config) a student's:
  strong augmentation `preset` on the human data, and pseudo_data a copy of
  train_data (same parser, batch size, preset) without input or subset."""
  config.task.train_data.augmentation_preset = preset
  config.task.pseudo_data.override(config.task.train_data.as_dict())
  config.task.pseudo_data.input_path = ''
  config.task.pseudo_data.subset.override({'num_examples': -1,
                                           'fraction': 1.0})
  return config

"""The labeling options: one typed object, declared once.

`LabelingOptions` is what the labeler (pipeline.py, beam_pipeline.py) runs
with. Every other shape maps onto it here or in one function:
  * the pseudo_label tool's flags are defined from its fields
    (`define_flags`) and read back into it (`from_flags`);
  * a process that starts the tool (labeling on first use, the rounds of a
    run file) writes its command line with `to_flags`, the one place it is
    serialized;
  * `task.self_training` maps onto it in self_training/first_use.py
    (`labeling_options`), the run file's `labeling:` section in
    rounds/round_loop.py.
"""

import dataclasses
from typing import Any, List, Optional, Sequence

from absl import flags

from official_ext.configs import self_training as st_config

TASKS = ('detection', 'segmentation')
# The tool's flags that must be given (their fields' defaults are empty).
REQUIRED = ('teacher', 'input_pattern', 'output_prefix')


def _option(default, help_text: str, flag: Optional[str] = '',
            inverted: bool = False):
  """A field with its flag: `flag` its name ('' the field's, None: no
  flag); `inverted`, a bool flag meaning the field's opposite."""
  return dataclasses.field(default=default, metadata={
      'help': help_text, 'flag': flag, 'inverted': inverted})


@dataclasses.dataclass
class LabelingOptions:
  """What a teacher labels, how, and where (docs/pseudo_labeling.md)."""
  teacher: str = _option('', 'Teacher SavedModel dir '
                         '(tools/export_saved_model.py --export_dir).')
  task: str = _option('detection', 'What the teacher predicts.')
  input_pattern: str = _option(
      '', 'Unlabeled TFRecords (comma-separated globs).')
  output_prefix: str = _option('', 'e.g. OUT/pseudo')
  score_threshold: float = _option(0.5,
                                   'Keep predictions with score >= this.')
  num_shards: int = _option(0, 'Output shards; 0 = one per input file.')
  num_workers: int = _option(1, 'K workers in all.')
  worker_index: int = _option(0, 'This worker, I < K.')
  batch_size: int = _option(8, 'Teacher batch size.')
  num_classes: Optional[int] = _option(
      None, "The student's num_classes, checked against the teacher when "
      'given.')
  num_overlays: int = _option(4, 'Overlay images in the report.', flag=None)
  show_progress: bool = _option(True, 'No progress bar.', flag='no_progress',
                                inverted=True)
  strict: bool = _option(False, 'Stop at the first bad input (non-zero '
                         'exit) instead of skipping it.')
  class_thresholds: str = _option(
      '', 'Per-class thresholds: a JSON file {"class id": threshold} (or an '
      'earlier report), or "auto": per class the lowest threshold whose '
      'precision on --calibration_pattern reaches --target_precision '
      '(classes with fewer than --min_calibration_examples ground truths '
      'keep --score_threshold).')
  calibration_pattern: str = _option(
      '', 'Labeled TFRecords the student does not train on: the report gets '
      "the teacher's precision/recall per class and threshold (and COCO AP, "
      "or the masks' mIoU) on them, the per-class thresholds "
      '--class_thresholds=auto would apply, and a plot, '
      'PREFIX_calibration.png.')
  target_precision: float = _option(
      0.8, 'Precision --class_thresholds=auto aims for.')
  min_calibration_examples: int = _option(
      20, 'Ground-truth boxes (pixels for segmentation) a class needs on the '
      'calibration set for its own threshold.')
  labeled_pattern: str = _option(
      '', "The student's labeled TFRecords: the bias warnings compare the "
      'pseudo labels with them (default: the calibration set, if given).')
  strict_quality: bool = _option(
      False, 'A quality warning (a class far over its labeled share, many '
      'images with no pseudo label, boxes per image far off) fails the run, '
      'after the report is written.')
  overwrite: bool = _option(
      False, 'Remove the outputs under --output_prefix first. Without it, a '
      'rerun resumes: finished shards made from the same teacher, inputs and '
      'options are kept, and one made from anything else stops the run with '
      'a line naming what changed.')

  def check(self):
    """Raises ValueError naming the flag and the fix."""
    if not self.input_pattern:
      raise ValueError('--input_pattern is empty: give the unlabeled '
                       'TFRecords, e.g. "unlabeled-*.tfrecord".')
    if not self.output_prefix:
      raise ValueError('--output_prefix is empty, e.g. OUT/pseudo.')
    if not 0.0 <= self.score_threshold <= 1.0:
      raise ValueError(f'--score_threshold={self.score_threshold}: must be '
                       'in [0, 1].')
    if self.num_workers < 1 or not 0 <= self.worker_index < self.num_workers:
      raise ValueError(f'--worker_index={self.worker_index} must be in '
                       f'[0, --num_workers={self.num_workers}).')
    if self.batch_size < 1:
      raise ValueError(f'--batch_size={self.batch_size}: must be >= 1.')
    st_config.check_threshold_options(
        self.class_thresholds, self.calibration_pattern,
        self.target_precision, name=lambda field: f'--{field}')

  def to_flags(self, fields: Optional[Sequence[str]] = None) -> List[str]:
    """The tool's command line for these options.

    Args:
      fields: the fields to write, in this order, whatever their values
        (None: every field that differs from its default, in field order).

    Returns:
      Flags (`--name=value`, `--name` / `--noname` for booleans) that
      `from_flags` reads back into equal options.
    """
    by_name = {f.name: f for f in dataclasses.fields(self)}
    if fields is None:
      fields = [f.name for f in dataclasses.fields(self)
                if f.metadata['flag'] is not None and
                getattr(self, f.name) != f.default]
    return [_flag_text(by_name[name], getattr(self, name))
            for name in fields]


def _flag_name(field: dataclasses.Field) -> str:
  return field.metadata['flag'] or field.name


def _flag_text(field: dataclasses.Field, value: Any) -> str:
  name = _flag_name(field)
  if field.metadata['flag'] is None:
    raise ValueError(f'{field.name} has no flag.')
  if isinstance(value, bool):
    on = value != field.metadata['inverted']
    return f'--{name}' if on else f'--no{name}'
  return f'--{name}={value}'


def define_flags(flag_values: flags.FlagValues = flags.FLAGS):
  """Defines the pseudo_label tool's flags from the options' fields.

  Args:
    flag_values: where to define them (the REQUIRED ones without a
      default, so absl can require them).
  """
  for field in dataclasses.fields(LabelingOptions):
    if field.metadata['flag'] is None:
      continue
    name, help_text = _flag_name(field), field.metadata['help']
    default = None if field.name in REQUIRED else field.default
    if field.metadata['inverted']:
      default = not default
    if field.name == 'task':
      flags.DEFINE_enum(name, default, TASKS, help_text,
                        flag_values=flag_values)
    elif field.type in (bool, 'bool'):
      flags.DEFINE_bool(name, default, help_text, flag_values=flag_values)
    elif field.type in (float, 'float'):
      flags.DEFINE_float(name, default, help_text, flag_values=flag_values)
    elif field.type in (int, 'int', Optional[int], 'Optional[int]'):
      flags.DEFINE_integer(name, default, help_text, flag_values=flag_values)
    else:
      flags.DEFINE_string(name, default, help_text, flag_values=flag_values)


def from_flags(flag_values: flags.FlagValues = flags.FLAGS
               ) -> LabelingOptions:
  """The options the tool's flags give.

  Args:
    flag_values: parsed flags that `define_flags` defined.

  Returns:
    The LabelingOptions they spell.
  """
  values = {}
  for field in dataclasses.fields(LabelingOptions):
    if field.metadata['flag'] is None:
      continue
    value = flag_values[_flag_name(field)].value
    if field.metadata['inverted']:
      value = not value
    if value is None and field.name in REQUIRED:
      value = ''
    values[field.name] = value
  return LabelingOptions(**values)

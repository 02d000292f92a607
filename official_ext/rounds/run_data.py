"""A run file's `data:` splits, checked before anything runs.

Every glob must match record files; a held-out split (the labeler's
calibration; the test split, scored and never chosen on) may share no file
with a split a model trains or is chosen on; a detection run needs the COCO
json of the splits it scores.
"""

from official_ext.data import paths
from official_ext.data import record_files

REQUIRED = ('labeled', 'validation', 'unlabeled')
OPTIONAL = ('calibration', 'test')
# Held-out split -> the splits it must stay out of.
HELD_OUT = {'calibration': ('labeled', 'validation', 'test'),
            'test': ('labeled', 'validation', 'unlabeled')}


def check(data, task: str):
  """Raises ValueError (or FileNotFoundError) naming the field.

  Args:
    data: the run file's DataConfig.
    task: 'detection' or 'segmentation'.
  """
  for field in REQUIRED + OPTIONAL:
    if getattr(data, field):
      record_files.match(getattr(data, field), f'data.{field}')
    elif field in REQUIRED:
      raise ValueError(f'data.{field}: set a TFRecord glob')
  _check_held_out(data)
  if task == 'detection':
    _check_annotations(data, 'annotation_file', 'validation')
    if data.test:
      _check_annotations(data, 'test_annotation_file', 'test')
  if data.test_annotation_file and (task != 'detection' or not data.test):
    raise ValueError('data.test_annotation_file: only a detection run with '
                     'data.test reads it; remove it')


def _check_annotations(data, field: str, split: str):
  path = getattr(data, field)
  if not path:
    raise ValueError(f'data.{field}: detection needs the COCO json of '
                     f'data.{split} (pycocotools AP)')
  if not paths.exists(path, f'data.{field}'):
    raise ValueError(f'data.{field}: no file {path}')


def _check_held_out(data):
  """E.g. a calibration glob `val_holdout*` beside a validation glob
  `val*`, which matches it too."""
  for held_out, others in HELD_OUT.items():
    if not getattr(data, held_out):
      continue
    held = set(record_files.match(getattr(data, held_out)))
    for other in others:
      if not getattr(data, other):  # An optional split left out.
        continue
      shared = held & set(record_files.match(getattr(data, other)))
      if shared:
        raise ValueError(
            f'data.{held_out} and data.{other} share {len(shared)} file(s), '
            f'e.g. {sorted(shared)[0]}; give them globs that cannot match '
            'the same files (e.g. calib-* beside val-*)')

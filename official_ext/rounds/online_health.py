"""Whether an online student's moving-average teacher collapsed.

After its burn-in the teacher labels each unlabeled batch. A teacher whose
scores never reach the threshold keeps no box (detection) or no pixel
(segmentation): the pseudo half then teaches "background everywhere" (or
nothing), its loss falls towards 0 and the loss normalization weighs it up,
and the student ends worse than its labeled-only baseline (the digits
detector with a 300-step burn-in: AP 0.009 and 0.086 against 0.73-0.76,
docs/results/2026-11-29-online-detection-and-decay.md). The train step logs
what the teacher kept; this reads those scalars back after training, so
self_train, the study and the demo can say so in one line.
"""

import os
from typing import Optional

from official.modeling.hyperparams import params_dict

from official_ext.utils import summaries

# The pseudo statistic each task logs, and what "the teacher kept nothing"
# looks like in it.
_NOTHING_KEPT = {
    'pseudo_boxes_per_image': ('box', lambda value: value <= 0.0),
    'pseudo_ignored_fraction': ('pixel', lambda value: value >= 1.0),
}


def collapse_warning(model_dir: str) -> Optional[str]:
  """Whether an online student's teacher kept nothing after its burn-in.

  Args:
    model_dir: the student's folder (params.yaml, train summaries).

  Returns:
    A warning when it logged, in every summary window after its burn-in,
    that its teacher kept nothing; None otherwise (also for an offline
    student, or no window after the burn-in).
  """
  params = params_dict.read_yaml_to_params_dict(
      os.path.join(model_dir, 'params.yaml'))
  self_training = params.task.as_dict().get('self_training') or {}
  if self_training.get('mode') != 'online':
    return None
  burn_in = self_training['burn_in_steps']
  interval = params.trainer.summary_interval
  scalars = summaries.read_scalars(os.path.join(model_dir, 'train'))
  for tag, (what, nothing) in _NOTHING_KEPT.items():
    # A window's value is its steps' mean: only windows that start after
    # the burn-in.
    after = [v for step, v in scalars.get(tag, []) if step - interval >= burn_in]
    if after and all(map(nothing, after)):
      return (f'the moving-average teacher kept no {what} at or above '
              f'task.self_training.score_threshold='
              f"{self_training['score_threshold']} in any of the "
              f'{len(after)} logged windows after its burn-in (step '
              f'{burn_in}; {tag}): the pseudo half taught background only. '
              'Lengthen task.self_training.burn_in_steps until the '
              "student's scores pass the threshold, or lower the threshold.")
  return None

"""Signs of a biased or silent teacher: pseudo labels against the labeled set."""

from typing import Dict, List, Optional


def shares(counts: Dict[str, int]) -> Dict[str, float]:
  """Each class's share of the counts.

  Args:
    counts: {class: boxes or pixels}.

  Returns:
    {class: its fraction of the total} ({} when the total is 0).
  """
  total = sum(counts.values())
  return {k: v / total for k, v in counts.items()} if total else {}


def warnings(pseudo_counts: Dict[str, int], labeled_counts: Dict[str, int],
             empty_fraction: Optional[float] = None,
             per_image: Optional[float] = None,
             labeled_per_image: Optional[float] = None,
             max_share_ratio: float = 2.0, max_empty_fraction: float = 0.2,
             max_per_image_ratio: float = 2.0, skip_classes=('0',)
             ) -> List[str]:
  """Signs of a biased or silent teacher.

  Args:
    pseudo_counts: {class: boxes or pixels} in the pseudo labels.
    labeled_counts: the same in the labeled set.
    empty_fraction: the fraction of images with no pseudo label.
    per_image: pseudo boxes per image.
    labeled_per_image: labeled boxes per image.
    max_share_ratio: a class over this many times its labeled share warns.
    max_empty_fraction: more images without a pseudo label than this warns.
    max_per_image_ratio: boxes per image off by more than this factor,
      either way, warns.
    skip_classes: left out of the shares (background).

  Returns:
    One line per sign found.
  """
  found = []
  pseudo = shares({k: v for k, v in pseudo_counts.items()
                   if k not in skip_classes})
  labeled = shares({k: v for k, v in labeled_counts.items()
                    if k not in skip_classes})
  for c in sorted(pseudo, key=int):
    if not labeled:
      break
    expected = labeled.get(c, 0.0)
    if pseudo[c] > max_share_ratio * expected:
      found.append(
          f'class {c}: {pseudo[c]:.1%} of the pseudo labels vs '
          f'{expected:.1%} of the labeled set (over {max_share_ratio:g}x): '
          'the teacher may be biased toward it')
  if empty_fraction is not None and empty_fraction > max_empty_fraction:
    found.append(f'{empty_fraction:.1%} of the images have no pseudo label '
                 f'(over {max_empty_fraction:.0%}): the threshold may be too '
                 'high or the teacher too weak')
  if per_image is not None and labeled_per_image:
    ratio = per_image / labeled_per_image
    if not 1 / max_per_image_ratio <= ratio <= max_per_image_ratio:
      found.append(f'{per_image:.2f} pseudo boxes per image vs '
                   f'{labeled_per_image:.2f} in the labeled set (off by over '
                   f'{max_per_image_ratio:g}x)')
  return found

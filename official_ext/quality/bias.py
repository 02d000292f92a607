"""Signs of a biased or silent teacher: pseudo labels against the labeled set."""

from typing import Dict, List, Optional


def shares(counts: Dict[str, int]) -> Dict[str, float]:
  total = sum(counts.values())
  return {k: v / total for k, v in counts.items()} if total else {}


def warnings(pseudo_counts: Dict[str, int], labeled_counts: Dict[str, int],
             empty_fraction: Optional[float] = None,
             per_image: Optional[float] = None,
             labeled_per_image: Optional[float] = None,
             max_share_ratio: float = 2.0, max_empty_fraction: float = 0.2,
             max_per_image_ratio: float = 2.0, skip_classes=('0',)
             ) -> List[str]:
  """One line per sign of a biased or silent teacher:
  - a class whose share of the pseudo labels (boxes or pixels) is over
    `max_share_ratio` times its share in the labeled set;
  - more than `max_empty_fraction` of the images with no pseudo label;
  - pseudo boxes per image off by more than `max_per_image_ratio` either
    way from the labeled set's.
  `skip_classes` (background) is left out of the shares."""
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

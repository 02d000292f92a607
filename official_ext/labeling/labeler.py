"""What the labeling pipeline asks of a labeler (labelers.py has the two)."""

from typing import Dict, List

import numpy as np


class Labeler:
  """What the pipeline asks of a labeler (DetectionLabeler,
  SegmentationLabeler): a batch of teacher outputs -> each image's labels,
  their TFExample fields, the shard's statistics, and overlays."""

  task = ''

  def batch_labels(self, outputs, scales, heights, widths) -> List[dict]:
    """Each image's labels from the teacher's outputs on one batch.

    Args:
      outputs: the teacher's outputs on the batch, padded to the teacher's
        batch size.
      scales: each image's resize factor into the teacher's input.
      heights: each image's original height (the batch's real length).
      widths: each image's original width.

    Returns:
      Per image, its labels (the subclass says which).
    """
    raise NotImplementedError

  def example_fields(self, labels) -> Dict[str, object]:
    """The TFExample fields of one image's labels (pseudo_shards writes
    them with data/tfexample.py).

    Args:
      labels: one image's labels (`batch_labels`).

    Returns:
      {field: value}.
    """
    raise NotImplementedError

  def new_stats(self) -> dict:
    """A shard's empty statistics."""
    raise NotImplementedError

  def update_stats(self, stats: dict, labels):
    """Adds one image's labels to a shard's statistics, in place.

    Args:
      stats: the shard's statistics (`new_stats`).
      labels: one image's labels.
    """
    raise NotImplementedError

  def report(self, total: dict, num_images: int) -> dict:
    """The report's task section.

    Args:
      total: the statistics summed over the finished shards.
      num_images: the images labeled in them.

    Returns:
      {field: value} (empty when there is nothing to report).
    """
    raise NotImplementedError

  def draw(self, image: np.ndarray, labels) -> np.ndarray:
    """An overlay of one image's labels, to look at.

    Args:
      image: [height, width, 3] uint8, the original image.
      labels: its labels.

    Returns:
      The image with its labels drawn on it, [height, width, 3] uint8.
    """
    raise NotImplementedError

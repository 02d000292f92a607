"""Generated scenes (image, boxes, classes, mask) -> Model Garden TFRecords.

The built-in data sets (`digits/canvases.py`, `shapes/shape_scenes.py`) draw
scenes; this module writes them the same way: detection + segmentation
TFExamples in `SPLIT-xxxxx-of-yyyyy.tfrecord` shards, COCO-format ground
truth for pycocotools, and every object cropped as a Model Garden image
classification TFExample (pre-training data).
"""

import dataclasses
import os
from typing import Callable, Iterator, Sequence, Tuple

import numpy as np

from official_ext.data import atomic_files
from official_ext.data import sharded_writer
from official_ext.data import tfexample


@dataclasses.dataclass
class Scene:
  image: np.ndarray       # uint8 [H, W, 3]
  boxes: np.ndarray       # float32 [N, 4] normalized ymin, xmin, ymax, xmax
  classes: np.ndarray     # int64 [N], 1..num object classes
  mask: np.ndarray        # uint8 [H, W], 0 background, else the class


def write_split(output_dir: str, split: str, scenes: Sequence[Scene],
                source_id: Callable[[int], int], num_shards: int = 2,
                with_labels: bool = True):
  """Writes `split-xxxxx-of-yyyyy.tfrecord` shards (images only unless
  `with_labels`); `source_id(i)` is scene i's numeric id."""

  def to_example(i):
    s = scenes[i]
    if not with_labels:
      return tfexample.make_example(s.image, str(source_id(i))), None
    return tfexample.make_example(
        s.image, source_id=str(source_id(i)), boxes=s.boxes,
        classes=s.classes, mask=s.mask), None

  # Rewritten, not resumed: a rerun with another seed must not keep old data.
  sharded_writer.write_shards(
      list(range(len(scenes))), to_example, os.path.join(output_dir, split),
      num_shards, show_progress=False, resume=False)


def object_crops(scene: Scene, margin: float = 0.15
                 ) -> Iterator[Tuple[np.ndarray, int]]:
  """Each object of a scene as (square crop around its box with `margin` of
  its side on each side, clipped to the image; class - 1, from 0)."""
  h, w = scene.image.shape[:2]
  for box, cls in zip(scene.boxes, scene.classes):
    y0, x0, y1, x1 = box * [h, w, h, w]
    half = max(y1 - y0, x1 - x0) * (0.5 + margin)
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    top, left = max(0, int(cy - half)), max(0, int(cx - half))
    bottom, right = min(h, int(np.ceil(cy + half))), min(
        w, int(np.ceil(cx + half)))
    yield scene.image[top:bottom, left:right], int(cls) - 1


def write_classification_split(output_dir: str, split: str,
                               scenes: Sequence[Scene],
                               num_shards: int = 2) -> int:
  """The scenes' objects as Model Garden classification TFExamples
  (`image/encoded` PNG, `image/class/label` from 0) in `split-*.tfrecord`;
  returns how many."""
  from official.vision.data import tf_example_builder  # pylint: disable=g-import-not-at-top
  crops = [(f'{i}-{k}', crop, label) for i, s in enumerate(scenes)
           for k, (crop, label) in enumerate(object_crops(s))]

  def to_example(item):
    key, crop, label = item
    builder = tf_example_builder.TfExampleBuilder()
    builder.add_image_matrix_feature(crop, 'PNG', key.encode(), label=label)
    return builder.example, None

  sharded_writer.write_shards(crops, to_example,
                              os.path.join(output_dir, split), num_shards,
                              show_progress=False, resume=False)
  return len(crops)


def coco_annotations(scenes: Sequence[Scene], source_id: Callable[[int], int],
                     class_names: Sequence[str]) -> dict:
  """COCO-format ground truth for pycocotools (boxes in pixels, xywh);
  category k + 1 is `class_names[k]`."""
  images, annotations = [], []
  for i, s in enumerate(scenes):
    h, w = s.image.shape[:2]
    images.append({'id': source_id(i), 'height': h, 'width': w})
    for box, cls in zip(s.boxes, s.classes):
      y0, x0, y1, x1 = box * [h, w, h, w]
      annotations.append({
          'id': len(annotations) + 1, 'image_id': source_id(i),
          'category_id': int(cls), 'bbox': [float(x0), float(y0),
                                            float(x1 - x0), float(y1 - y0)],
          'area': float((x1 - x0) * (y1 - y0)), 'iscrowd': 0})
  categories = [{'id': k + 1, 'name': name}
                for k, name in enumerate(class_names)]
  return {'images': images, 'annotations': annotations,
          'categories': categories}


def write_coco_annotations(output_dir: str, split: str,
                           scenes: Sequence[Scene],
                           source_id: Callable[[int], int],
                           class_names: Sequence[str]) -> str:
  """OUTPUT/annotations_<split>.json (`coco_annotations`); its path."""
  path = os.path.join(output_dir, f'annotations_{split}.json')
  atomic_files.write_json(path, coco_annotations(scenes, source_id,
                                                 class_names))
  return path

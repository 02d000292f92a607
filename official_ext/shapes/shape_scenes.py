"""A second built-in data set, unlike the digits: textured shapes on photos.

Each 128x128 scene is a random crop of one of the two photographs that
scikit-learn ships (`load_sample_images`: a temple in China, a flower; no
download), recoloured and sometimes blended with fractal noise, with 1 to 6
objects of 8 classes (`CLASSES`) drawn over it at 14-60 pixels, any
rotation and aspect, each filled with a texture (solid, stripes, checker,
gradient or noise) and lit from one side. Objects may overlap: a later one
occludes an earlier one, whose mask and box are then its visible pixels
(an object is only drawn where it leaves every earlier one at least 40%
visible). Boxes, classes 1..8 and a per-pixel mask (0 background), as the
digits have, so every recipe runs on both with only `num_classes` changed.

What differs from the digits, on purpose: natural-image backgrounds with
their own edges and clutter, occlusion, textured objects whose class is
their outline alone, and no source images shared with them. Splits are
drawn from separate random streams; train, unlabeled, val and calibration
scenes share the left three quarters of the two photographs, so "held out"
there means new scenes, not new photographs. The test split (`TEST`, for
reporting only: every choice is made on val) takes its backgrounds from the
photographs' right quarter, which no other split sees.

`STYLES`: 'textured' (the above) or 'blended', a second kind of scene: the
photograph as it is (no recolouring, no noise), 1 to 3 flat-coloured shapes
alpha-blended onto it at 55-85% opacity, so the photograph's own edges show
through every object, and no occlusion. Its split sizes default to the
same 150 labeled / 1500 unlabeled / 300 val (+ 300 test).
"""

import os
from typing import Dict, List, Optional

import numpy as np
from PIL import Image
from PIL import ImageDraw

from official_ext.configs import common
from official_ext.data import scenes

CLASSES = ('circle', 'square', 'triangle', 'star', 'hexagon', 'cross', 'ring',
           'crescent')
SPLITS = ('train', 'unlabeled', 'val')
CALIBRATION = 'calibration'
TEST = 'test'
# The photographs' columns right of this fraction: test backgrounds only.
_TEST_COLUMNS = 0.75
CLASSIFICATION = {'unlabeled': 'classification', 'val': 'classification_val'}
SCENE_SIZE = common.SHAPES_IMAGE_SIZE
_SUPERSAMPLE = 4  # Outlines are drawn 4x larger, then box-filtered: soft edges.
_MIN_VISIBLE = 0.4
TEXTURED, BLENDED = 'textured', 'blended'
STYLES = (TEXTURED, BLENDED)


def load_photos() -> List[np.ndarray]:
  from sklearn import datasets  # pylint: disable=g-import-not-at-top
  return [np.asarray(p) for p in datasets.load_sample_images().images]


def _fractal_noise(rng: np.random.RandomState, size: int) -> np.ndarray:
  """[size, size] in [0, 1]: 1/f noise, octaves of upsampled random grids."""
  out = np.zeros((size, size), np.float32)
  for octave in range(1, 6):
    cells = 2 ** octave
    grid = Image.fromarray(rng.rand(cells, cells).astype(np.float32), 'F')
    out += np.asarray(grid.resize((size, size), Image.BICUBIC)) / octave
  out -= out.min()
  return out / max(out.max(), 1e-6)


def crop_window(rng, shape, size: int, test: bool = False) -> tuple:
  """(y, x, side) of a random square of a photograph of `shape`: in its
  right quarter for the test split (`test`), else in the rest."""
  cut = int(_TEST_COLUMNS * shape[1])
  x0, x1 = (cut, shape[1]) if test else (0, cut)
  h, w = shape[0], x1 - x0
  side = rng.randint(min(size // 2, h, w), min(h, w) + 1)
  y, x = rng.randint(0, h - side + 1), x0 + rng.randint(0, w - side + 1)
  return y, x, side


def _background(rng, photos, size: int, test: bool = False,
                recolour: bool = True) -> np.ndarray:
  photo = photos[rng.randint(len(photos))]
  y, x, side = crop_window(rng, photo.shape, size, test)
  crop = Image.fromarray(photo[y:y + side, x:x + side])
  image = np.asarray(crop.resize((size, size), Image.BILINEAR), np.float32)
  if rng.rand() < 0.5:
    image = image[:, ::-1]
  if not recolour:
    return image.copy()
  # Recolour: channel gains, contrast and brightness.
  image = image * rng.uniform(0.6, 1.3, 3)
  image = (image - 128) * rng.uniform(0.5, 1.2) + 128 + rng.uniform(-40, 40)
  if rng.rand() < 0.35:
    noise = _fractal_noise(rng, size)[..., None]
    colors = rng.uniform(0, 255, (2, 3))
    weight = rng.uniform(0.4, 0.9)
    image = (1 - weight) * image + weight * (
        colors[0] + (colors[1] - colors[0]) * noise)
  return image


def _outline(kind: str, rng, size: int) -> np.ndarray:
  """[size, size] float alpha in [0, 1] of one shape, rotated, stretched."""
  big = size * _SUPERSAMPLE
  image = Image.new('L', (big, big), 0)
  draw = ImageDraw.Draw(image)
  c = big / 2
  r = big / 2 - 1
  angle = rng.uniform(0, 2 * np.pi)
  stretch = rng.uniform(0.75, 1.0)

  def polygon(radii, count, phase=0.0):
    t = angle + phase + np.arange(count) * 2 * np.pi / count
    radii = np.resize(np.asarray(radii, np.float64), count)
    return [(c + rr * np.cos(a), c + rr * stretch * np.sin(a))
            for rr, a in zip(radii * r, t)]

  if kind == 'circle':
    draw.ellipse([c - r, c - r * stretch, c + r, c + r * stretch], fill=255)
  elif kind == 'square':
    draw.polygon(polygon([1.0], 4), fill=255)
  elif kind == 'triangle':
    draw.polygon(polygon([1.0], 3), fill=255)
  elif kind == 'star':
    draw.polygon(polygon([1.0, 0.42], 10), fill=255)
  elif kind == 'hexagon':
    draw.polygon(polygon([1.0], 6), fill=255)
  elif kind == 'cross':
    arm = 0.36  # Half the arm width over r; corner radius of the 12 points.
    t = np.arctan2(arm, 1.0)
    pts = []
    for k in range(4):
      base = angle + k * np.pi / 2
      for a, rr in ((base - t, 1.0), (base + t, 1.0),
                    (base + np.pi / 4, arm * np.sqrt(2))):
        pts.append((c + rr * r * np.cos(a), c + rr * r * stretch * np.sin(a)))
    draw.polygon(pts, fill=255)
  elif kind == 'ring':
    draw.ellipse([c - r, c - r * stretch, c + r, c + r * stretch], fill=255)
    q = rng.uniform(0.45, 0.65) * r
    draw.ellipse([c - q, c - q * stretch, c + q, c + q * stretch], fill=0)
  elif kind == 'crescent':
    draw.ellipse([c - r, c - r, c + r, c + r], fill=255)
    d = rng.uniform(0.35, 0.55) * r
    ox, oy = c + d * np.cos(angle), c + d * np.sin(angle)
    q = 0.85 * r
    draw.ellipse([ox - q, oy - q, ox + q, oy + q], fill=0)
  else:
    raise ValueError(f'unknown shape {kind!r}')
  small = image.resize((size, size), Image.BOX)
  return np.asarray(small, np.float32) / 255.0


def _texture(rng, size: int) -> np.ndarray:
  """[size, size, 3] fill of an object."""
  c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
  kind = rng.randint(5)
  yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
  if kind == 0:  # Solid.
    t = np.zeros((size, size), np.float32)
  elif kind == 1:  # Stripes.
    a = rng.uniform(0, np.pi)
    t = (np.sin((xx * np.cos(a) + yy * np.sin(a)) * rng.uniform(6, 20)) > 0)
  elif kind == 2:  # Checker.
    n = rng.randint(2, 6)
    t = ((np.floor(xx * n) + np.floor(yy * n)) % 2)
  elif kind == 3:  # Gradient.
    a = rng.uniform(0, 2 * np.pi)
    t = xx * np.cos(a) + yy * np.sin(a)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
  else:  # Noise.
    t = _fractal_noise(rng, size)
  t = np.asarray(t, np.float32)[..., None]
  fill = c0 + (c1 - c0) * t
  # Light from one side.
  a = rng.uniform(0, 2 * np.pi)
  light = 1.0 + rng.uniform(0.0, 0.35) * ((xx - 0.5) * np.cos(a) +
                                           (yy - 0.5) * np.sin(a))
  return fill * light[..., None]


def render_scene(rng: np.random.RandomState, photos: List[np.ndarray],
                 size: int = SCENE_SIZE, max_objects: Optional[int] = None,
                 min_scale: int = 14, max_scale: int = 60,
                 test: bool = False, style: str = TEXTURED) -> scenes.Scene:
  """One scene: background (`test`: from the test split's part of the
  photographs), then 1..max_objects shapes in drawing order (by default 6
  textured or 3 blended ones, `style`)."""
  if style not in STYLES:
    raise ValueError(f'style: {style!r} is not one of {list(STYLES)}')
  blended = style == BLENDED
  if max_objects is None:
    max_objects = 3 if blended else 6
  image = _background(rng, photos, size, test, recolour=not blended)
  owner = np.full((size, size), -1, np.int32)  # Visible object per pixel.
  areas, classes = [], []
  for _ in range(rng.randint(1, max_objects + 1)):
    cls = rng.randint(len(CLASSES))
    s = rng.randint(min_scale, max_scale + 1)
    alpha = _outline(CLASSES[cls], rng, s)
    on = alpha > 0.5
    if on.sum() < 12:
      continue
    # A few tries to leave earlier objects visible enough (blended: whole).
    need = 1.0 if blended else _MIN_VISIBLE
    for _ in range(10):
      y, x = rng.randint(0, size - s + 1), rng.randint(0, size - s + 1)
      window = owner[y:y + s, x:x + s]
      covered = np.bincount(window[on & (window >= 0)],
                            minlength=len(areas))
      visible = np.bincount(owner[owner >= 0], minlength=len(areas)) - covered
      if all(visible[k] >= need * areas[k] for k in range(len(areas))):
        break
    else:
      continue
    if blended:  # A flat colour, the photograph showing through.
      fill = np.broadcast_to(rng.uniform(0, 255, 3), (s, s, 3))
      alpha = alpha * rng.uniform(0.55, 0.85)
    else:
      fill = _texture(rng, s)
    region = image[y:y + s, x:x + s]
    image[y:y + s, x:x + s] = region * (1 - alpha[..., None]) + (
        fill * alpha[..., None])
    owner[y:y + s, x:x + s][on] = len(areas)
    areas.append(int(on.sum()))
    classes.append(cls + 1)
  image = image + rng.normal(0, rng.uniform(2, 8), image.shape)
  boxes, kept, mask = [], [], np.zeros((size, size), np.uint8)
  for k, cls in enumerate(classes):
    ys, xs = np.nonzero(owner == k)
    if not len(ys):
      continue
    mask[owner == k] = cls
    boxes.append([ys.min() / size, xs.min() / size, (ys.max() + 1) / size,
                  (xs.max() + 1) / size])
    kept.append(cls)
  return scenes.Scene(
      image=np.clip(np.round(image), 0, 255).astype(np.uint8),
      boxes=np.asarray(boxes, np.float32).reshape([-1, 4]),
      classes=np.asarray(kept, np.int64), mask=mask)


def source_id(split: str, index: int) -> int:
  """Numeric, unique across splits: Model Garden's COCO eval parses ids."""
  return (SPLITS + (CALIBRATION, TEST)).index(split) * 1_000_000 + index


def make_dataset(output_dir: str, seed: int = 0, num_train: int = 150,
                 num_unlabeled: int = 1500, num_val: int = 300,
                 size: int = SCENE_SIZE, num_shards: int = 2,
                 num_calibration: int = 0,
                 classification: bool = False,
                 num_test: int = 300, style: str = TEXTURED) -> Dict[str, str]:
  """Writes train (labeled), unlabeled (image only), val and (`num_test` >
  0) test splits; with `num_calibration`, a labeled calibration split; with
  `classification`, the objects of the unlabeled and val scenes as
  classification splits (pre-training data); `style`, the kind of scene
  (STYLES). The same files as the digits' `make_dataset`.

  Returns a dict of file patterns and the val and test COCO json paths.
  """
  photos = load_photos()
  counts = {'train': num_train, 'unlabeled': num_unlabeled, 'val': num_val,
            CALIBRATION: num_calibration, TEST: num_test}
  out = {}
  for k, split in enumerate(SPLITS + (CALIBRATION, TEST)):
    if not counts.get(split):
      continue
    rng = np.random.RandomState(seed * 1000 + k)
    drawn = [render_scene(rng, photos, size, test=split == TEST, style=style)
             for _ in range(counts[split])]
    scenes.write_split(output_dir, split, drawn,
                       lambda i, split=split: source_id(split, i), num_shards,
                       with_labels=split != 'unlabeled')
    out[split] = os.path.join(output_dir, f'{split}-*.tfrecord')
    if classification and split in CLASSIFICATION:
      name = CLASSIFICATION[split]
      scenes.write_classification_split(output_dir, name, drawn, num_shards)
      out[name] = os.path.join(output_dir, f'{name}-*.tfrecord')
    if split in ('val', TEST):
      out[f'{split}_annotations'] = scenes.write_coco_annotations(
          output_dir, split, drawn,
          lambda i, split=split: source_id(split, i), CLASSES)
  return out


def preview(output_path: str, seed: int = 0, count: int = 8,
            size: Optional[int] = None, style: str = TEXTURED):
  """A PNG strip of `count` scenes over their masks, to look at the data."""
  rng = np.random.RandomState(seed)
  photos = load_photos()
  drawn = [render_scene(rng, photos, size or SCENE_SIZE, style=style)
           for _ in range(count)]
  palette = np.random.RandomState(1).randint(60, 255, (len(CLASSES) + 1, 3))
  palette[0] = 0
  top = np.concatenate([s.image for s in drawn], 1)
  bottom = np.concatenate([palette[s.mask] for s in drawn], 1)
  Image.fromarray(np.concatenate([top, bottom], 0).astype(np.uint8)).save(
      output_path)

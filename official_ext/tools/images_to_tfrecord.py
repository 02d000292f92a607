"""Turns a folder or glob of JPEG/PNG files into unlabeled TFRecords.

  python tools/images_to_tfrecord.py --input=/data/unlabeled2017 \
      --output_prefix=/data/tfrecords/unlabeled [--num_shards=N]

The output is what tools/pseudo_label.py --input_pattern reads
(`unlabeled-*-of-*.tfrecord`). Unreadable files are skipped, logged and
counted; rerunning after an interruption skips finished shards made from
the same images. A rerun over other images (or with another --num_shards)
into the same prefix stops with one line naming the shard and what changed,
instead of keeping shards of the old images: rerun with --overwrite, or give
a new --output_prefix.
"""

import json
from absl import app
from absl import flags

from official_ext.data import image_folder
from official_ext.data import sharded_writer

_INPUT = flags.DEFINE_string(
    'input', None, 'A directory (searched recursively) or comma-separated '
    'globs of image files.')
_OUTPUT = flags.DEFINE_string('output_prefix', None, 'e.g. OUT/unlabeled')
_NUM_SHARDS = flags.DEFINE_integer(
    'num_shards', 0, f'0: one shard per {image_folder.IMAGES_PER_SHARD} '
    'images. Use at least as many as pseudo-labeling workers.')
_THREADS = flags.DEFINE_integer('threads', 8, 'Files read in parallel.')
_NO_PROGRESS = flags.DEFINE_bool('no_progress', False, 'No progress bar.')
_OVERWRITE = flags.DEFINE_bool(
    'overwrite', False, 'Remove every shard under --output_prefix first, '
    'instead of stopping at one made from other images.')


def main(_):
  try:
    report = image_folder.convert(_INPUT.value, _OUTPUT.value,
                                  num_shards=_NUM_SHARDS.value,
                                  threads=_THREADS.value,
                                  show_progress=not _NO_PROGRESS.value,
                                  overwrite=_OVERWRITE.value)
  except sharded_writer.StaleOutputError as e:
    raise app.UsageError(str(e)) from None
  print(json.dumps(report, indent=2))


def run():
  flags.mark_flags_as_required(['input', 'output_prefix'])
  app.run(main)


if __name__ == '__main__':
  run()

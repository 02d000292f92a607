"""PASCAL VOC 2012 (+ SBD) segmentation -> Model Garden TFRecords.

  python tools/create_pascal_tfrecord.py --voc_dir=VOCdevkit/VOC2012 \
      --split=val --output_prefix=/data/voc/val
  python tools/create_pascal_tfrecord.py --voc_dir=VOCdevkit/VOC2012 \
      --sbd_dir=benchmark_RELEASE --split=train_aug \
      --output_prefix=/data/voc/train_aug

Reads the files as downloaded (VOCtrainval_11-May-2012.tar, SBD's
benchmark.tgz); writes `image/encoded` (the JPEG as is) and the class mask
as PNG in `image/segmentation/class/encoded`, VOC's 255 boundaries kept
(Model Garden's ignore label). Rerunning skips finished shards.
"""

import json
from absl import app
from absl import flags

from official_ext.data import pascal_voc
from official_ext.data import sharded_writer

_VOC_DIR = flags.DEFINE_string('voc_dir', None, 'VOC2012 dir (or its parent).')
_SBD_DIR = flags.DEFINE_string('sbd_dir', None, 'SBD release dir; needed for '
                               '--split=train_aug.')
_SPLIT = flags.DEFINE_enum('split', 'train', list(pascal_voc.SPLITS),
                           'Which image list.')
_OUTPUT = flags.DEFINE_string('output_prefix', None, 'e.g. /data/voc/val')
_NUM_SHARDS = flags.DEFINE_integer('num_shards', 0,
                                   '0: one shard per 1024 images.')
_THREADS = flags.DEFINE_integer('threads', 8, 'Files read in parallel.')
_NO_PROGRESS = flags.DEFINE_bool('no_progress', False, 'No progress bar.')


def main(_):
  items = pascal_voc.plan(_SPLIT.value, _VOC_DIR.value, _SBD_DIR.value)
  ids = list(items)
  num_shards = _NUM_SHARDS.value or max(1, -(-len(ids) // 1024))
  report = sharded_writer.write_shards(
      ids, lambda i: pascal_voc.to_example(i, *items[i]), _OUTPUT.value,
      num_shards, threads=_THREADS.value,
      show_progress=not _NO_PROGRESS.value)
  report['split'] = _SPLIT.value
  print(json.dumps(report, indent=2))


def run():
  flags.mark_flags_as_required(['voc_dir', 'output_prefix'])
  app.run(main)


if __name__ == '__main__':
  run()

"""Every file the export and the labeling pipeline write or read goes
through tf.io.gfile: proved with TensorFlow's in-memory filesystem (ram://),
which Python's open() and os.path cannot reach, in one process (the export
tool run in-process with its flags, then pseudo-labeling with that export).

That process is a child (this file run as a script): Model Garden's export
module defines absl flags (`experiment`, `batch_size`) that other tools'
modules, imported by other test files in the same pytest worker, define too.
"""

import json
import sys

from absl import flags
from absl.testing import flagsaver
import numpy as np
import tensorflow as tf

from official.core import task_factory
from official.modeling import hyperparams
from official_ext.data import sharded_writer
from official_ext.digits import canvases
from official_ext.digits import recipes
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline

from conftest import assert_script_checks_pass

ROOT = 'ram://cloud_paths_test'


def _copy_to_ram(pattern: str, name: str) -> str:
  """Copies record files to ram://; their new pattern."""
  for path in tf.io.gfile.glob(pattern):
    tf.io.gfile.copy(path, f'{ROOT}/data/{name}-{path[-23:]}', overwrite=True)
  return f'{ROOT}/data/{name}-*'


def test_export_and_pseudo_labeling_on_ram(tmp_path):
  assert_script_checks_pass(__file__, tmp_path)


def _export_and_label(tmp_path):
  from official_ext.serving import export_saved_model  # pylint: disable=g-import-not-at-top
  flags.FLAGS(['cloud_paths_test'])
  experiment = 'supervised_digits_seg'
  params = recipes.config(experiment)  # The demo's (ResNet) segmenter.
  model = task_factory.get_task(params.task).build_model()
  checkpoint_dir = f'{ROOT}/model'
  tf.train.Checkpoint(model=model).save(f'{checkpoint_dir}/ckpt')
  hyperparams.save_params_dict_to_yaml(params, f'{checkpoint_dir}/params.yaml')

  export_dir = f'{ROOT}/export'
  with flagsaver.flagsaver(experiment=experiment, export_dir=export_dir,
                           checkpoint_path=checkpoint_dir,
                           config_file=[f'{checkpoint_dir}/params.yaml']):
    export_saved_model.main([])
  saved_model = f'{export_dir}/saved_model'
  assert tf.io.gfile.exists(f'{saved_model}/saved_model.pb')
  served = tf.saved_model.load(saved_model).signatures['serving_default']
  logits = served(inputs=tf.zeros([1, 128, 128, 3], tf.uint8))['logits']
  assert logits.shape[-1] == params.task.model.num_classes

  data = canvases.make_dataset(str(tmp_path / 'digits'), seed=0, num_train=2,
                               num_unlabeled=6, num_val=2, num_shards=2,
                               num_test=0)
  unlabeled = _copy_to_ram(data['unlabeled'], 'unlabeled')
  prefix = f'{ROOT}/pseudo/pseudo'
  report = pipeline.label(labeling_options.LabelingOptions(
      teacher=export_dir, task='segmentation', input_pattern=unlabeled,
      output_prefix=prefix, score_threshold=0.0, num_overlays=1,
      show_progress=False))
  assert report['images_labeled'] == 6
  with tf.io.gfile.GFile(prefix + '_report.json') as f:
    assert json.load(f)['images_labeled'] == 6
  shards = tf.io.gfile.glob(sharded_writer.output_pattern(prefix, 2))
  assert len(shards) == 2
  assert all(sharded_writer.is_complete(s) for s in shards)
  records = [tf.train.Example.FromString(r.numpy()) for r in
             tf.data.TFRecordDataset(shards)]
  assert len(records) == 6
  mask = tf.io.decode_png(records[0].features.feature[
      'image/segmentation/class/encoded'].bytes_list.value[0]).numpy()
  assert mask.shape == (128, 128, 1) and np.all(mask < 11)
  # The overlays are written beside the report, on ram:// too.
  assert tf.io.gfile.glob(prefix + '_overlays/*.png')
  print('all checks passed')


if __name__ == '__main__':
  import pathlib  # pylint: disable=g-import-not-at-top
  _export_and_label(pathlib.Path(sys.argv[1]))

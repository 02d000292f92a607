"""The teacher's pseudo-label quality on held-out labels, per-class
thresholds and the bias warnings, through the real tool and teachers."""

import json
import os

from absl import flags
import pytest
import tensorflow as tf

from official.vision.dataloaders import tf_example_decoder
from official_ext.data import record_files
from official_ext.data import sharded_writer
from official_ext.labeling import teacher as teacher_lib
from official_ext.quality import calibration
from official_ext.quality import measures
from official_ext.quality import thresholds as thresholds_lib
from official_ext.utils import summaries

from conftest import child_failure
from conftest import assert_drawn_plot
from conftest import python


def test_teacher_ap_equals_model_gardens_evaluation(digits_teacher_run,
                                                    digits_data):
  """Same val set, same model: the calibration's COCO AP (exported teacher,
  labeling pipeline, our matching to pycocotools) is Model Garden's."""
  teacher = teacher_lib.Teacher(digits_teacher_run['export_dir'], 'detection')
  table = calibration.measure(teacher, record_files.match(digits_data['val']),
                              score_threshold=0.5)
  logged = summaries.last_value(
      os.path.join(digits_teacher_run['model_dir'], 'validation'), 'AP')
  assert table['teacher_coco']['AP'] == pytest.approx(logged, abs=0.01)
  assert table['images'] == 16
  overall = table['overall']
  recall = [r for r in overall['recall']]
  assert recall == sorted(recall, reverse=True)  # Falls as thresholds rise.
  assert table['gt_boxes_per_image'] > 1
  assert sum(row['ground_truth_boxes'] for row in table['per_class'].values()
             ) == table['gt_boxes_per_image'] * 16


def test_masks_miou_equals_model_gardens_evaluation(digits_seg_teacher_run,
                                                    digits_data):
  """Threshold 0 keeps every pixel: the masks' mIoU is the model's."""
  teacher = teacher_lib.Teacher(digits_seg_teacher_run['export_dir'],
                                'segmentation')
  files = record_files.match(digits_data['val'])
  table = calibration.measure(teacher, files, score_threshold=0.0)
  logged = summaries.last_value(
      os.path.join(digits_seg_teacher_run['model_dir'], 'validation'),
      'mean_iou')
  assert table['mean_iou_at_threshold'] == pytest.approx(logged, abs=0.01)
  assert table['ignored_fraction_at_threshold'] == 0
  strict = calibration.measure(teacher, files, score_threshold=0.9)
  assert strict['ignored_fraction_at_threshold'] > 0


def _tool(args):
  return python(['-m', 'official_ext.tools.pseudo_label', '--no_progress']
                + args)


def _boxes(pattern):
  decoder = tf_example_decoder.TfExampleDecoder()
  out = []
  for record in tf.data.TFRecordDataset(record_files.match(pattern)):
    d = decoder.decode(record)
    out.append((d['groundtruth_classes'].numpy(),
                d['groundtruth_boxes'].numpy()))
  return out


def test_auto_thresholds_reach_the_report_shards_and_labels(
    digits_teacher, digits_data, tmp_path):
  prefix = str(tmp_path / 'pseudo')
  proc = _tool([f'--teacher={digits_teacher}',
                f"--input_pattern={digits_data['unlabeled']}",
                f'--output_prefix={prefix}', '--score_threshold=0.5',
                f"--calibration_pattern={digits_data['val']}",
                '--class_thresholds=auto', '--target_precision=0.6',
                '--min_calibration_examples=3'])
  assert proc.returncode == 0, child_failure(proc, 4000)
  with open(prefix + '_report.json') as f:
    report = json.load(f)
  section = report['quality']
  table = section['calibration']
  assert table['thresholds'] == list(measures.THRESHOLDS)
  # The thresholds are the rule's on the calibration table ...
  want = thresholds_lib.auto_thresholds(table, 0.6, 0.5, 3)
  assert section['auto_thresholds'] == want
  chosen = {c: v['threshold'] for c, v in want.items() if v['threshold'] != 0.5}
  assert chosen, 'the 400-step teacher has some class off the global 0.5'
  assert report['class_thresholds'] == chosen
  # ... in every shard's stats ...
  for path in tf.io.gfile.glob(sharded_writer.output_pattern(prefix)):
    assert sharded_writer.read_stats(path)['thresholds'] == {
        'score_threshold': 0.5, 'class_thresholds': chosen}
  # ... and the labels keep what they say: read back, every class's boxes
  # number as the teacher's scores >= its threshold (counted in the report).
  counts = {}
  for classes, _ in _boxes(sharded_writer.output_pattern(prefix)):
    for c in classes:
      counts[str(int(c))] = counts.get(str(int(c)), 0) + 1
  assert counts == report['class_counts']
  assert section['labeled_set']['pattern'] == digits_data['val']
  assert section['auto_thresholds_applied'] is True
  # What other target precisions would give, the asked one among them.
  sweep = section['target_precision_sweep']
  assert [r['target_precision'] for r in sweep] == [0.5, 0.6, 0.7, 0.8, 0.9,
                                                    0.95]
  at_target = thresholds_lib.at_thresholds(
      table, {c: v['threshold'] for c, v in want.items()})
  assert sweep[1]['precision'] == at_target['precision']
  assert sweep[1]['recall'] == at_target['recall']
  # The table drawn: a PNG (precision and recall vs threshold).
  assert section['plot'] == prefix + '_calibration.png'
  assert_drawn_plot(section['plot'])


def test_one_class_teacher_warns_and_strict_quality_fails(
    digits_teacher, digits_data, tmp_path):
  """Threshold 1 for all classes but 3 (which keeps everything it predicts)
  makes a teacher that labels (almost) only 3s: the bias warning names it."""
  thresholds = tmp_path / 'only3.json'
  thresholds.write_text(json.dumps(
      {str(c): (0.0 if c == 3 else 1.0) for c in range(1, 11)}))
  prefix = str(tmp_path / 'pseudo')
  args = [f'--teacher={digits_teacher}',
          f"--input_pattern={digits_data['unlabeled']}",
          f'--output_prefix={prefix}', '--score_threshold=0.5',
          f'--class_thresholds={thresholds}',
          f"--labeled_pattern={digits_data['train']}"]
  proc = _tool(args)
  assert proc.returncode == 0, child_failure(proc, 4000)
  with open(prefix + '_report.json') as f:
    report = json.load(f)
  counts = report['class_counts']
  assert counts['3'] >= 0.9 * sum(counts.values()), counts
  warnings = report['quality']['warnings']
  assert any(w.startswith('class 3: ') and 'of the pseudo labels vs' in w
             for w in warnings), warnings
  assert 'Pseudo-label quality: class 3' in proc.stderr
  strict = _tool(args + ['--strict_quality'])
  assert strict.returncode != 0
  last = strict.stderr.strip().splitlines()[-1]
  assert last.startswith('pseudo_label.py: --strict_quality: class 3:'), last
  assert prefix + '_report.json' in last


def test_bad_class_thresholds_fail_before_labeling(digits_teacher, digits_data,
                                                   tmp_path):
  bad = tmp_path / 'bad.json'
  bad.write_text('{"3": 1.5}')
  common = [f'--teacher={digits_teacher}',
            f"--input_pattern={digits_data['unlabeled']}",
            f"--output_prefix={tmp_path / 'p'}"]
  proc = _tool(common + [f'--class_thresholds={bad}'])
  assert proc.returncode != 0
  assert "entry '3': 1.5 must be a class id with a threshold in [0, 1]" in (
      proc.stderr)
  proc = _tool(common + ['--class_thresholds=auto'])
  assert proc.returncode != 0
  assert '--class_thresholds=auto needs --calibration_pattern' in proc.stderr
  assert not os.path.exists(tmp_path / 'p-00000-of-00002.tfrecord')


def test_first_use_passes_the_quality_options():
  from official_ext.digits import recipes  # pylint: disable=g-import-not-at-top
  from official_ext.labeling import options  # pylint: disable=g-import-not-at-top
  from official_ext.self_training import first_use  # pylint: disable=g-import-not-at-top
  config = recipes.config('selftrain_digits').task
  config.train_data.input_path = 'L/train-*'
  config.pseudo_data.input_path = 'U/raw-*'
  config.self_training.teacher = 'T'
  got = first_use.labeling_options(config, 'detection', 'OUT')
  assert (got.teacher, got.task, got.input_pattern, got.output_prefix,
          got.labeled_pattern, got.target_precision, got.show_progress) == (
              'T', 'detection', 'U/raw-*', 'OUT/pseudo', 'L/train-*', 0.8,
              False)
  assert got.to_flags() == [
      '--teacher=T', '--input_pattern=U/raw-*', '--output_prefix=OUT/pseudo',
      f'--score_threshold={config.self_training.score_threshold}',
      f'--num_classes={config.model.num_classes}', '--no_progress',
      '--labeled_pattern=L/train-*']
  config.self_training.class_thresholds = 'auto'
  with pytest.raises(ValueError, match='needs task.self_training.'
                     'calibration_pattern'):
    config.self_training.check(8)
  config.self_training.calibration_pattern = 'V/val-*'
  config.self_training.strict_quality = True
  config.self_training.check(8)
  got = first_use.labeling_options(config, 'detection', 'OUT')
  assert {'--class_thresholds=auto', '--calibration_pattern=V/val-*',
          '--strict_quality'} <= set(got.to_flags())
  # The child's flags give the same object back (one serialization).
  flag_values = flags.FlagValues()
  options.define_flags(flag_values)
  flag_values(['pseudo_label'] + got.to_flags())
  assert options.from_flags(flag_values) == got
"""Pseudo-labels unlabeled TFRecords with a teacher SavedModel.

  python tools/pseudo_label.py --teacher=EXPORT_DIR --task=detection \
      --input_pattern='unlabeled-*.tfrecord' --output_prefix=OUT/pseudo \
      [--score_threshold=0.5] [--num_shards=N] [--batch_size=B] \
      [--num_workers=K --worker_index=I] [--strict]
      [--calibration_pattern='VAL-*.tfrecord' [--class_thresholds=auto]]
      [--class_thresholds=FILE.json] [--labeled_pattern=...] [--strict_quality]
      [--runner=DirectRunner|DataflowRunner|DaskRunner|FlinkRunner|...
       BEAM_PIPELINE_OPTIONS]

Worker I of K labels a disjoint set of output shards; run K of them (on K
machines) for the full set. Or give --runner: the shards become the
elements of an Apache Beam pipeline (labeling/beam_pipeline.py) on that runner, with
Beam's own options (--project, --region, --temp_location, --setup_file,
--flink_master, --environment_type, --direct_num_workers,
--dask_client_address, ...) passed
through; same bytes. Rerunning skips finished shards made from the same
teacher, inputs and options, and refuses any other (--overwrite to start
over; labeling/provenance.py). Writes
OUT/pseudo-xxxxx-of-yyyyy.tfrecord, OUT/pseudo_report.json and
OUT/pseudo_overlays/*.png.

A record that cannot be read or decoded (corrupt or empty image, no
image/encoded, truncated TFRecord file) is skipped, logged and counted by
reason in the report (`skipped_reasons`, `skipped_inputs`); the run exits 0.
With --strict the first bad input stops the run with a non-zero exit that
names it. Grayscale and RGBA images are converted to RGB, not skipped.

Quality (quality/labeling_quality.py): with --calibration_pattern the teacher first
labels held-out labeled images and the report's "quality.calibration" has
precision/recall per class at thresholds 0.05..0.95 (and the teacher's COCO
AP, or the masks' mIoU), the per-class thresholds that reach
--target_precision (applied with --class_thresholds=auto) and a plot,
PREFIX_calibration.png. Every run checks the pseudo labels against the labeled set
(--labeled_pattern, else the calibration set) and warns (report
"quality.warnings"; --strict_quality: non-zero exit) when a class is far
over its labeled share, many images get no pseudo label, or boxes per image
are far off.
A bad flag or teacher (missing path, wrong kind of model, class-count
mismatch, threshold outside [0, 1]) stops the run before any labeling with
one line naming the flag and the fix.
"""

import json
import os
import re
import sys

from absl import app
from absl import flags
from absl import logging
import tensorflow as tf

from official_ext.labeling import bad_inputs
from official_ext.labeling import labeling_report
from official_ext.labeling import options as labeling_options
from official_ext.labeling import pipeline
from official_ext.quality import labeling_quality
from official_ext.utils import process
from official_ext.utils import quick_exit

labeling_options.define_flags()
flags.adopt_module_key_flags(labeling_options)
_RUNNER = flags.DEFINE_string(
    'runner', None, 'Run on Apache Beam with this runner (DirectRunner, '
    'DataflowRunner, DaskRunner, FlinkRunner, SparkRunner, PortableRunner); '
    'flags this tool does not define are passed to Beam as pipeline options '
    '(e.g. DaskRunner\'s --dask_client_address=HOST:PORT of a running Dask '
    'scheduler; pip install "official_ext[dask]").')
_DIE_WITH_PARENT = flags.DEFINE_integer(
    'die_with_parent', None, 'Set by labeling on first use: the training '
    "process's pid; this labeler is killed when it dies.")


def _unknown_beam_options(beam_args):
  """The args that no Beam pipeline option (of any runner) defines."""
  from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
  options = pipeline_options.PipelineOptions(list(beam_args))
  known = options.get_all_options()
  everything = options.get_all_options(retain_unknown_options=True)
  unknown = set(everything) - set(known)
  return [a for a in beam_args
          if a.lstrip('-').split('=', 1)[0].replace('-', '_') in unknown]


def _strict_failure(error: Exception):
  """The bad-input line of a --strict failure a runner wrapped, if any."""
  match = re.search(r'bad input [^\n]*', str(error))
  return match.group(0) if match else None


def label(config: labeling_options.LabelingOptions, runner: str = '',
          beam_args=()) -> dict:
  """Thresholds from the quality package -> labeling (here or on a Beam
  runner) -> quality's review of the report; returns the report."""
  if runner:
    from official_ext.labeling import beam_pipeline  # pylint: disable=g-import-not-at-top
    beam_pipeline.check(config)
  else:
    config.check()
  teacher, config = pipeline.load_teacher(config)
  class_thresholds, section = labeling_quality.prepare(config, teacher)
  if runner:
    report = beam_pipeline.label(config, beam_args, runner, teacher=teacher,
                                 class_thresholds=class_thresholds)
  else:
    report = pipeline.label(config, teacher, class_thresholds)
  while True:
    labeling_quality.add_to_report(config, report, section)
    labeling_report.write_report(config.output_prefix, report)
    # Another worker may have finished shards since this report was made,
    # and written its own report before this one: then this worker writes
    # again, so the last report written covers every finished shard.
    fresh = labeling_report.aggregate_report(config, report['num_shards'])
    if fresh['shards_complete'] == report['shards_complete']:
      break
    report.update(fresh)
  if report['shards_missing']:
    logging.info('Shards %s%s are not finished yet (other workers); the '
                 'report covers the %d finished of %d.',
                 report['shards_missing'][:10],
                 '...' if len(report['shards_missing']) > 10 else '',
                 report['shards_complete'], report['num_shards'])
  labeling_quality.enforce(config, report)
  return report


def main(argv):
  beam_args = argv[1:]
  if beam_args and not _RUNNER.value:
    sys.exit(f'pseudo_label.py: error: unknown flags {" ".join(beam_args)}; '
             'Beam pipeline options need --runner (e.g. '
             '--runner=DirectRunner).')
  if _RUNNER.value:
    from official_ext.labeling import beam_runners  # pylint: disable=g-import-not-at-top
    try:
      beam_runners.register_runner_options(_RUNNER.value)
    except ValueError as e:
      sys.exit(f'pseudo_label.py: error: {e}')
  unknown = _unknown_beam_options(beam_args) if beam_args else []
  if unknown:
    sys.exit('pseudo_label.py: error: neither this tool nor Beam knows '
             f'{" ".join(unknown)}.')
  if _DIE_WITH_PARENT.value is not None:
    # Started by a training process (labeling on first use), which asks
    # for the quick exit this way.
    os.environ[quick_exit.ENV] = '1'
    process.die_with_parent(_DIE_WITH_PARENT.value)
  # Same input -> byte-identical shards, run after run (resume relies on it).
  tf.config.experimental.enable_op_determinism()
  config = labeling_options.from_flags()
  try:
    report = label(config, _RUNNER.value, beam_args)
  except bad_inputs.BadInputError as e:
    sys.exit(f'pseudo_label.py: --strict: {e}')
  except labeling_quality.QualityError as e:
    sys.exit(f'pseudo_label.py: {e} (report: {config.output_prefix}'
             '_report.json)')
  except (ValueError, FileNotFoundError) as e:
    # Bad flags or teacher, found before any labeling.
    sys.exit(f'pseudo_label.py: error: {e}')
  except Exception as e:  # pylint: disable=broad-except
    # A runner re-raises a worker's error in its own wrapping.
    bad_input = config.strict and _strict_failure(e)
    if bad_input:
      sys.exit(f'pseudo_label.py: --strict: {bad_input}')
    raise
  print(json.dumps(report, indent=2))
  if report['images_skipped']:
    logging.warning('%d bad inputs skipped: %s (listed in %s_report.json).',
                    report['images_skipped'], report['skipped_reasons'],
                    config.output_prefix)


def _parse_flags(argv):
  """Our flags; the rest is left for Beam (checked in main)."""
  return flags.FLAGS(argv, known_only=True)


def run():
  flags.mark_flags_as_required(list(labeling_options.REQUIRED))
  app.run(quick_exit.main_without_teardown(main), flags_parser=_parse_flags)


if __name__ == '__main__':
  run()

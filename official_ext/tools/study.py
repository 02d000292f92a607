"""The paper's question on your data: pre-training vs self-training over a
grid of inits, augmentation strengths, labeled fractions and seeds.

  python -m official_ext.tools.study --study=configs/studies/NAME.yaml \\
      --output_dir=runs/study [--quick] [--num_workers=K --worker_index=I]

The study file is checked first (a bad field: one line naming it, nothing
trained). Inits with a `pretrain` are trained first, once
(official_ext/study/pretrain.py, under OUTPUT/pretrain/<init>). Each cell
(official_ext/study/cells.py) is one round of self_train (official_ext/rounds)
under OUTPUT/cells/<cell>/: its supervised model is the teacher
(round_1/teacher), its self-trained student learns from that model's labels
(round_1/student), with the commands a user runs (train, export_saved_model,
pseudo_label). On a rerun every cell's stages done from the same inputs are
skipped (a finished cell trains nothing and keeps its metrics.json), a stage
whose inputs changed is redone, and a stopped one resumes (stage records, OUTPUT/cells/<cell>/stages/). Worker I of K runs every K-th cell; each worker rewrites the
report from all the cells finished so far: OUTPUT/study.{md,csv,json,png}.
Without data paths in the study file, the tool makes the digits data (the
demo's sizes; --quick: its toy sizes) under OUTPUT/data, with the
classification splits that the `pretrain_digits[_seg]` pre-training reads.
"""

import json
import os
import shutil
import sys
import time

from absl import app
from absl import flags
import yaml

from official_ext.configs import file_schema
from official_ext.configs import recipes as recipe_lib
from official_ext.data import atomic_files
from official_ext.digits import recipes
from official_ext.rounds import round_loop
from official_ext.rounds import run_config
from official_ext.study import cells as cells_lib
from official_ext.study import pretrain
from official_ext.study import report
from official_ext.study import study_config
from official_ext.utils import tool_commands
from official_ext.utils import stages

_STUDY = flags.DEFINE_string('study', None, 'Study YAML file.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Output folder.')
_QUICK = flags.DEFINE_bool('quick', False,
                           "Each model trains the study's quick_steps on "
                           'toy data sizes: checks the whole study quickly.')
_NUM_WORKERS = flags.DEFINE_integer('num_workers', 1, 'Workers sharing it.')
_WORKER_INDEX = flags.DEFINE_integer('worker_index', 0, 'This worker.')

PROGRESS = ('train | step', ' eval | step', '"images_labeled"',
            'Writing fingerprint')
PROTOCOL = ('Protocol (equal compute): in each cell the supervised model and '
            'the student start from the same init and see the same labeled '
            'subset, augmentation (the student on its pseudo-labeled images '
            'too), images per step and steps; the supervised model fills its '
            'batch with labeled images only, the student with labeled + '
            'pseudo-labeled ones. The student learns from the pseudo labels '
            'of the supervised model of its own cell (the paper\'s protocol), '
            'kept at the self-training recipe\'s score threshold.')
QUICK_NOTE = (' QUICK RUN (--quick): the first cell of each init, '
              'a few steps on toy data; its numbers are a smoke test, '
              'not a result.')
METRICS_FILE = 'metrics.json'


def digits_data(out: str, quick: bool) -> dict:
  """The digits data under out/data (made once; workers racing each make
  it in a folder of their own and the first rename wins)."""
  from official_ext.digits import canvases  # pylint: disable=g-import-not-at-top
  sizes = recipes.data_sizes(quick)
  sizes.pop('num_calibration')
  final = os.path.join(out, 'data')
  if not os.path.isdir(final):
    scratch = f'{final}.tmp{os.getpid()}'
    canvases.make_dataset(scratch, seed=0, classification=True, **sizes)
    try:
      os.rename(scratch, final)
    except OSError:  # Another worker's is there; the same bytes.
      shutil.rmtree(scratch)
  pattern = lambda split: os.path.join(final, f'{split}-*.tfrecord')
  made = {split: pattern(split)
          for split in ('train', 'unlabeled', 'val', 'test')} | {
              'val_annotations': os.path.join(final, 'annotations_val.json'),
              'test_annotations': os.path.join(final, 'annotations_test.json')}
  return file_schema.dataset_splits(made, detection=True) | {
      'classification_train': pattern(canvases.CLASSIFICATION['unlabeled']),
      'classification_val': pattern(canvases.CLASSIFICATION['val'])}


def steps(study, quick: bool) -> dict:
  """Each model's steps: the same for the cell's models (equal compute);
  by default the self-training recipe's. A candidate: its own
  train_steps, else the same (--quick: quick_steps for all)."""
  if quick:
    num = study.quick_steps
  elif study.train_steps:
    num = study.train_steps
  else:
    num = _student(study).trainer.train_steps
  return {role: num for role in cells_lib.models(study)} | {
      c.name: num if quick else (c.train_steps or num)
      for c in study.candidates}


def _student(study):
  return recipe_lib.config_from(study.selftrain.experiment,
                                _recipe(study, cells_lib.SELFTRAIN))


def images_per_step(study) -> dict:
  """Images each model sees per step, and how many of them are labeled:
  the supervised model trains on labeled images only, as many per step as
  the student's labeled + pseudo-labeled batch (equal compute)."""
  labeled, total = recipe_lib.student_batch(_student(study))
  out = {'images_per_step': {cells_lib.SUPERVISED: total,
                             cells_lib.SELFTRAIN: total},
         'labeled_images_per_step': {cells_lib.SUPERVISED: total,
                                     cells_lib.SELFTRAIN: labeled}}
  if cells_lib.ONLINE in cells_lib.models(study):
    labeled, online_total = recipe_lib.student_batch(recipe_lib.config_from(
        study.online.experiment, _recipe(study, cells_lib.ONLINE)))
    out['images_per_step'][cells_lib.ONLINE] = online_total
    out['labeled_images_per_step'][cells_lib.ONLINE] = labeled
  return out



def _recipe(study, role: str) -> str:
  return _recipe_file(getattr(study, role).recipe)


def _overlays(study, role: str) -> list:
  return [_recipe_file(name) for name in getattr(study, role).config_files]


def _recipe_file(name: str) -> str:
  return recipe_lib.resolve(name, _study_dir())


def _study_dir() -> str:
  """The study file's folder: its relative recipes are found from there."""
  return os.path.dirname(os.path.abspath(_STUDY.value))


def pretrain_inits(runner: stages.Runner, study, data: dict, out: str,
                   quick: bool) -> dict:
  """Each init with a `pretrain`, trained (or found); its record by name."""
  records = {}
  for init in study.init:
    if not init.pretrain.experiment:
      continue
    files = recipe_lib.model_files(init.pretrain, _study_dir())
    num_steps = (study.quick_steps if quick else recipe_lib.config_from(
        init.pretrain.experiment, *files).trainer.train_steps)
    records[init.name] = pretrain.run(runner, init, files,
                                      pretrain.init_data(init, data), out,
                                      num_steps)
    print(f'[pretrain/{init.name}] {json.dumps(records[init.name]["metrics"])}'
          f' on the classification val split', flush=True)
  return records


def cell_run(study, cell: cells_lib.Cell, data: dict,
             cell_dir: str) -> run_config.RunConfig:
  """The cell as one round of self_train: its supervised model is the
  teacher (labeled images only, as many per step as the student's labeled +
  pseudo-labeled batch) whose labels the student learns from; both with the
  cell's init, labeled subset, seed (an overlay YAML each, beside them) and
  augmentation."""
  models = {}
  for role, model in ((cells_lib.SUPERVISED, 'teacher'),
                      (cells_lib.SELFTRAIN, 'student')):
    overlay = os.path.join(cell_dir, f'{role}_cell.yaml')
    with open(overlay, 'w') as f:
      yaml.safe_dump(cells_lib.model_config(study, cell, role), f)
    models[model] = {
        'experiment': getattr(study, role).experiment,
        'recipe': _recipe(study, role),
        'config_files': _overlays(study, role) + [overlay],
        'overrides': cells_lib.model_overrides(study, cell, role)}
  per_step = images_per_step(study)['images_per_step']
  models['teacher']['overrides'].append(
      f'task.train_data.global_batch_size={per_step[cells_lib.SUPERVISED]}')
  splits = file_schema.SplitsConfig().as_dict()
  run_data = {k: data[k] for k in splits if data.get(k)}
  if study.task != 'detection':  # COCO AP against the jsons: detection.
    run_data.pop('annotation_file', None)
    run_data.pop('test_annotation_file', None)
  return run_config.from_dict({'task': study.task, 'data': run_data,
                               **models})


# The cells' names for round_loop's models and stages.
_ROLES = {'teacher': cells_lib.SUPERVISED, 'student': cells_lib.SELFTRAIN}
_STAGES = {'teacher': 'supervised', 'teacher_export': 'supervised_export',
           'pseudo_label': 'pseudo_label', 'student': 'selftrain',
           'online_student': cells_lib.ONLINE}
_STAGES.update({f'{stage}_{split}': f'{name}_{split}'
                for stage, name in list(_STAGES.items())
                for split in ('test', tool_commands.VALIDATION)})


def run_cell(runner: stages.Runner, study, cell: cells_lib.Cell, data: dict,
             num_steps: dict, cell_dir: str) -> dict:
  """Trains, exports and pseudo-labels one cell (round_loop's stages under
  cell_dir: a rerun resumes a stopped stage, skips finished ones); its
  metrics record."""
  os.makedirs(cell_dir, exist_ok=True)
  options = round_loop.Options(output_dir=cell_dir, rounds=1,
                               train_steps=num_steps[cells_lib.SELFTRAIN],
                               name=cell.name, export_last_student=False)
  run = cell_run(study, cell, data, cell_dir)
  rounds = round_loop.Rounds(run, options, runner)
  result, = rounds.run_all()
  models = {role: result[f'{model}_model'] for model, role in _ROLES.items()}
  online = {}
  if cells_lib.ONLINE in cells_lib.models(study):
    overlay = os.path.join(cell_dir, f'{cells_lib.ONLINE}_cell.yaml')
    with open(overlay, 'w') as f:
      yaml.safe_dump(cells_lib.model_config(study, cell, cells_lib.ONLINE), f)
    model = run_config.ModelConfig(
        experiment=study.online.experiment,
        recipe=_recipe(study, cells_lib.ONLINE),
        config_files=_overlays(study, cells_lib.ONLINE) + [overlay],
        overrides=cells_lib.model_overrides(study, cell,
                                                   cells_lib.ONLINE))
    metrics = rounds.train_online_student(1, 'online_student', model)
    online[cells_lib.ONLINE] = metrics[tool_commands.VALIDATION]
    if 'test' in metrics:
      online[f'{cells_lib.ONLINE}_test'] = metrics['test']
    models[cells_lib.ONLINE] = metrics['model']
  candidates = {}
  for candidate in study.candidates:
    supervised = run.teacher
    model = run_config.ModelConfig(
        experiment=supervised.experiment, recipe=supervised.recipe,
        config_files=list(supervised.config_files),
        overrides=cells_lib.model_overrides(study, cell, cells_lib.SUPERVISED)
        + list(candidate.overrides))
    candidates[candidate.name] = rounds.train_supervised(
        1, f'candidate_{candidate.name}', model, num_steps[candidate.name])
  return {'cell': {'init': cell.init, 'augmentation': cell.augmentation,
                   'labeled_fraction': cell.labeled_fraction,
                   'seed': cell.seed},
          'name': cell.name,
          **{role: result[model] for model, role in _ROLES.items()},
          **{f'{role}_test': result[f'{model}_test']
             for model, role in _ROLES.items() if f'{model}_test' in result},
          **online,
          **({'candidates': candidates} if candidates else {}),
          'steps': num_steps,
          # As the models trained (their params.yaml), not as recipes say.
          **{key: {role: m[key] for role, m in models.items()}
             for key in ('images_per_step', 'labeled_images_per_step')},
          **({'warnings': rounds.warnings[1]} if rounds.warnings.get(1)
             else {}),
          'wall_time_s': {_STAGES.get(k, k): v
                          for k, v in result['wall_time_s'].items()},
          'commands': list(result['commands'].values())}


def finished(out: str, cell: cells_lib.Cell):
  path = os.path.join(out, 'cells', cell.name, METRICS_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def main(_):
  try:
    study = study_config.load(_STUDY.value)
    all_cells = (cells_lib.quick_cells(study) if _QUICK.value else
                 cells_lib.all_cells(study))
    mine = cells_lib.for_worker(all_cells, _NUM_WORKERS.value,
                                _WORKER_INDEX.value)
  except (study_config.StudyError, ValueError) as e:
    sys.exit(f'study.py: error: {e}')
  out = os.path.abspath(_OUTPUT_DIR.value)
  os.makedirs(os.path.join(out, 'cells'), exist_ok=True)
  data = (study.data.as_dict() if study.data.labeled else
          digits_data(out, _QUICK.value))
  num_steps = steps(study, _QUICK.value)
  runner = stages.Runner(PROGRESS, env={'TF_CPP_MIN_LOG_LEVEL': '2'})
  print(f'[study] {study.name}: {len(all_cells)} cells, this worker '
        f'{len(mine)}; steps {num_steps}', flush=True)
  try:
    pretrained = pretrain_inits(runner, study, data, out, _QUICK.value)
  except stages.StageFailed as e:
    sys.exit(str(e))
  for cell in mine:
    # Every cell goes through its stage records: a finished cell whose
    # stages were made from the same inputs trains nothing and keeps its
    # record; one whose inputs changed (a recipe, the steps, the data) is
    # redone, not reported from its old metrics.json.
    start = time.time()
    before = finished(out, cell)
    try:
      record = run_cell(runner, study, cell, data, num_steps,
                        os.path.join(out, 'cells', cell.name))
    except stages.StageFailed as e:
      sys.exit(str(e))
    if before and not any(record['wall_time_s'].values()):
      print(f'[{cell.name}] finished before, from the same inputs: skipped',
            flush=True)
      continue
    atomic_files.write_json(os.path.join(out, 'cells', cell.name,
                                         METRICS_FILE), record)
    print(f'[{cell.name}] done in {time.time() - start:.0f} s: '
          f"{json.dumps({r: record[r] for r in cells_lib.models(study)})}",
          flush=True)
  records = [r for r in (finished(out, c) for c in all_cells) if r]
  protocol = PROTOCOL + (QUICK_NOTE if _QUICK.value else '')
  paths = report.write(study, records, out, protocol, pretrained)
  print(open(paths['md']).read())
  print(f'[study] {len(records)} of {len(all_cells)} cells finished; '
        f"{', '.join(paths.values())}")


def run():
  flags.mark_flags_as_required(['study', 'output_dir'])
  app.run(main)


if __name__ == '__main__':
  run()

"""official_ext/rounds/stage_records.py: a stage runs once per set of
inputs; a config's fingerprint is its settings, not its comments."""

import json

from official_ext.rounds import stage_records

RECIPE = """# A recipe.
task:
  train_data: {global_batch_size: 8}
trainer:
  train_steps: 100
"""


def _records(tmp_path, log):
  return stage_records.StageRecords(str(tmp_path / 'run'), log=log.append)


def _stage(records, inputs, out, runs, earlier_form=None):
  def go(redo):
    runs.append(redo)
    out.mkdir(exist_ok=True)
    return 1.5
  return records.run('round_1/teacher', inputs, [str(out)], go,
                     earlier_form=earlier_form)


def test_config_hash_ignores_comments_and_layout_not_values(tmp_path):
  path = tmp_path / 'recipe.yaml'
  path.write_text(RECIPE)
  first = stage_records.config_hash(str(path))
  path.write_text('# Tuned on 2026-11-29.\n' + RECIPE.replace(
      '{global_batch_size: 8}', '\n    global_batch_size: 8  # labeled'))
  assert stage_records.config_hash(str(path)) == first
  assert stage_records.content_hash(str(path)) != first
  path.write_text(RECIPE.replace('100', '101'))
  assert stage_records.config_hash(str(path)) != first
  # Not YAML (or missing): the bytes' hash, as content_hash.
  path.write_text('task: [unclosed')
  assert stage_records.config_hash(str(path)) == stage_records.content_hash(
      str(path))
  assert stage_records.config_hash(str(tmp_path / 'none.yaml')) == ''


def test_a_stage_is_skipped_resumed_or_redone_by_its_inputs(tmp_path):
  log, runs, out = [], [], tmp_path / 'teacher'
  records = _records(tmp_path, log)
  first = _stage(records, {'recipe': 'a'}, out, runs)
  assert (first['skipped'], first['seconds'], runs) == (False, 1.5, [False])
  assert _stage(records, {'recipe': 'a'}, out, runs)['skipped']
  assert runs == [False]
  redone = _stage(records, {'recipe': 'b'}, out, runs)
  assert not redone['skipped'] and runs == [False, True]
  assert log[-1] == ('[round_1/teacher] its inputs changed (recipe): '
                     'removing its earlier outputs and running it again')
  stored = json.loads((tmp_path / 'run' / 'stages' /
                       'round_1.teacher.json').read_text())
  assert stored == {'state': 'done', 'inputs': {'recipe': 'b'},
                    'seconds': 1.5}


def test_a_record_in_an_earlier_form_counts_as_the_same_inputs(tmp_path):
  """A run recorded by a version that kept a recipe's bytes' hash is not
  retrained by one that keeps its settings' hash; its record is rewritten
  in the new form, and other inputs still redo it."""
  log, runs, out = [], [], tmp_path / 'teacher'
  records = _records(tmp_path, log)
  _stage(records, {'recipe': 'bytes'}, out, runs)
  again = _stage(records, {'recipe': 'yaml:settings'}, out, runs,
                 earlier_form={'recipe': 'bytes'})
  assert again['skipped'] and runs == [False]
  assert records.read('round_1/teacher')['inputs'] == {
      'recipe': 'yaml:settings'}
  assert _stage(records, {'recipe': 'yaml:settings'}, out, runs)['skipped']
  _stage(records, {'recipe': 'yaml:other'}, out, runs,
         earlier_form={'recipe': 'bytes'})
  assert runs == [False, True]

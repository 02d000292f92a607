"""What made each stage's output, so a rerun skips, resumes or redoes it.

Before a stage runs, `DIR/stages/<stage>.json` records its inputs (the
command, and fingerprints of what it reads: data files with sizes, config
files' settings (a comment edit changes nothing), the teacher export's
fingerprint, the checkpoint it exports) with `state: started`; after it
succeeds, `state: done`. A rerun:

- done, same inputs, outputs present: skipped;
- started, same inputs (a killed run): run again on its outputs, which every
  stage resumes (train.py from the last checkpoint, pseudo_label from its
  finished shards, export from scratch);
- other inputs: its outputs are removed and it runs again, with a line
  naming what changed; the stages after it see new inputs in turn.
"""

import hashlib
import json
import os
from typing import Callable, Dict, List, Optional

import tensorflow as tf
import yaml

from official_ext.data import atomic_files
from official_ext.data import record_files
from official_ext.labeling import provenance

DONE, STARTED = 'done', 'started'


def files_record(pattern: str) -> List[list]:
  """What a split's files are, for a stage's inputs.

  Args:
    pattern: a TFRecord glob ('' for none).

  Returns:
    [path, size] of each record file it matches (record_files' rule).
  """
  if not pattern:
    return []
  return [[f, tf.io.gfile.stat(f).length] for f in record_files.match(pattern)]


def content_hash(path: str) -> str:
  """A file's content, for a stage's inputs.

  Args:
    path: the file ('' for none).

  Returns:
    sha256 of its bytes, hex ('' when it does not exist).
  """
  if not path or not tf.io.gfile.exists(path):
    return ''
  with tf.io.gfile.GFile(path, 'rb') as f:
    return hashlib.sha256(f.read()).hexdigest()


def config_hash(path: str) -> str:
  """A YAML config's settings, for a stage's inputs.

  Args:
    path: the YAML file.

  Returns:
    sha256 of its parsed content, so editing a comment or the layout does
    not make a finished model stale; the bytes' hash (`content_hash`) for
    anything that does not parse.
  """
  text = content = None
  if path and tf.io.gfile.exists(path):
    with tf.io.gfile.GFile(path, 'rb') as f:
      text = f.read()
    try:
      content = yaml.safe_load(text)
    except yaml.YAMLError:
      pass
  if text is None or content is None:
    return content_hash(path)
  canonical = json.dumps(content, sort_keys=True, default=str)
  return 'yaml:' + hashlib.sha256(canonical.encode()).hexdigest()


def checkpoint_record(model_dir: str) -> str:
  """A trained model, for the inputs of the stages that read it.

  Args:
    model_dir: the model's folder.

  Returns:
    Its latest checkpoint's name and a hash of its index (which holds a
    checksum of every tensor), so a retrained model differs; '' when it has
    no checkpoint.
  """
  path = tf.train.latest_checkpoint(model_dir)
  if not path:
    return ''
  return f'{os.path.basename(path)}:{content_hash(path + ".index")[:16]}'


def export_record(export_dir: str) -> str:
  """A teacher export, for the inputs of the stages that read it.

  Args:
    export_dir: an export folder (with saved_model/ inside) or the
      SavedModel itself.

  Returns:
    The SavedModel's fingerprint (labeling/provenance.py).
  """
  inner = os.path.join(export_dir, 'saved_model')
  if tf.io.gfile.exists(os.path.join(inner, 'saved_model.pb')):
    export_dir = inner
  return provenance.teacher_fingerprint(export_dir)


class StageRecords:
  """Runs stages under `root/stages/` records (see the module doc)."""

  def __init__(self, root: str, log: Callable[[str], None] = print):
    self.dir = os.path.join(root, 'stages')
    self.log = log
    tf.io.gfile.makedirs(self.dir)

  def path(self, stage: str) -> str:
    """The record file of a stage.

    Args:
      stage: the stage's name (`round_1/teacher`).

    Returns:
      Its path under DIR/stages/.
    """
    return os.path.join(self.dir, stage.replace('/', '.') + '.json')

  def read(self, stage: str) -> Optional[dict]:
    """A stage's record.

    Args:
      stage: the stage's name.

    Returns:
      The record, or None when there is none (or it is unreadable).
    """
    try:
      with tf.io.gfile.GFile(self.path(stage)) as f:
        return json.load(f)
    except (tf.errors.NotFoundError, ValueError):
      return None

  def _write(self, stage: str, record: dict):
    atomic_files.write_json(self.path(stage), record)

  def run(self, stage: str, inputs: Dict[str, object], outputs: List[str],
          fn: Callable[[bool], float],
          earlier_form: Optional[Dict[str, object]] = None) -> dict:
    """Runs a stage unless it was done from these inputs.

    Args:
      stage: the stage's name (`round_1/teacher`).
      inputs: what the stage is made from (JSON-able); a change from the
        recorded ones removes `outputs` and runs the stage again.
      outputs: the paths the stage writes.
      fn: runs the stage: fn(redo) -> seconds; `redo` is True when earlier
        outputs were removed because the inputs changed.
      earlier_form: the same inputs as an earlier version recorded them
        (e.g. a config's bytes' hash); a record of that form counts as these
        inputs and is rewritten in the current one.

    Returns:
      The record: {'state', 'inputs', 'seconds', 'skipped'}.
    """
    inputs = json.loads(json.dumps(inputs))  # As stored (lists, not tuples).
    earlier = self.read(stage)
    if earlier and earlier_form is not None and (
        earlier['inputs'] == json.loads(json.dumps(earlier_form))):
      earlier['inputs'] = inputs
      self._write(stage, earlier)
    present = all(tf.io.gfile.exists(p) for p in outputs)
    if earlier and earlier['inputs'] == inputs and (
        earlier['state'] == DONE and present):
      self.log(f'[{stage}] done earlier from the same inputs: skipped')
      return dict(earlier, skipped=True)
    redo = False
    if earlier and earlier['inputs'] != inputs:
      changed = sorted(k for k in set(inputs) | set(earlier['inputs'])
                       if inputs.get(k) != earlier['inputs'].get(k))
      self.log(f'[{stage}] its inputs changed ({", ".join(changed)}): '
               'removing its earlier outputs and running it again')
      for path in outputs:
        if tf.io.gfile.isdir(path):
          tf.io.gfile.rmtree(path)
        elif tf.io.gfile.exists(path):
          tf.io.gfile.remove(path)
      redo = True
    elif earlier and earlier['state'] == STARTED:
      self.log(f'[{stage}] an earlier run stopped in this stage: resuming')
    self._write(stage, {'state': STARTED, 'inputs': inputs})
    seconds = fn(redo)
    record = {'state': DONE, 'inputs': inputs, 'seconds': seconds}
    self._write(stage, record)
    return dict(record, skipped=False)


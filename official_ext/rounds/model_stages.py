"""A model's stages in a run directory: train, export, and its final
measures, each a child process under a stage record (stage_records.py).

`ModelStages` holds what every stage of a run shares (the run file, the
runner, the records, each stage's seconds and command per round); the
rounds (round_loop.py) put its stages in order.
"""

import os
from typing import Dict, List, Optional

from official_ext.configs import nms
from official_ext.configs import recipes
from official_ext.rounds import evaluations
from official_ext.rounds import run_config
from official_ext.rounds import stage_records
from official_ext.utils import stages
from official_ext.utils import tool_commands


class ModelStages:
  """Trains, exports and measures a run's models under stage records.

  Args (of the constructor):
    run: the run file.
    options: round_loop.Options (output_dir, train_steps, name).
    runner: how a stage's child process runs.
  """

  def __init__(self, run: run_config.RunConfig, options, runner: stages.Runner):
    self.run, self.options, self.runner = run, options, runner
    self.root = options.output_dir
    self.label = f'{options.name}/' if options.name else ''
    self.records = stage_records.StageRecords(
        self.root, log=lambda line: print(  # '[stage] ...' lines.
            line.replace('[', f'[{self.label}', 1), flush=True))
    self.seconds = {}  # Per round, each stage's seconds in this run.
    self.commands = {}  # Per round, each stage's command.
    self.data_inputs = {
        'labeled': stage_records.files_record(run.data.labeled),
        'validation': stage_records.files_record(run.data.validation),
        'annotation_file': stage_records.content_hash(
            run.data.annotation_file)}

  def _dir(self, r: int, name: str) -> str:
    return os.path.join(self.root, f'round_{r}', name)

  def _stage(self, r, name, tool, argv, inputs, outputs,
             earlier_form=None) -> dict:
    stage = f'round_{r}/{name}'
    log = self._dir(r, f'{name}.log')
    os.makedirs(os.path.dirname(log), exist_ok=True)

    def go(redo):
      args = argv + (['--overwrite'] if redo and tool == 'pseudo_label'
                     else [])
      with open(os.path.join(self.root, 'commands.txt'), 'a') as f:
        f.write(f'# {stage}\npython -m official_ext.tools.{tool} '
                f'{" ".join(args)}\n')
      return tool_commands.run_tool(self.runner, self.label + stage, tool,
                                    args, log)

    inputs = dict(inputs, command=[tool] + argv)
    if earlier_form is not None:
      earlier_form = dict(earlier_form, command=[tool] + argv)
    self.commands.setdefault(r, {})[name] = (
        f'python -m official_ext.tools.{tool} {" ".join(argv)}')
    record = self.records.run(stage, inputs, outputs, go, earlier_form)
    self.seconds.setdefault(r, {})[name.split('.')[0]] = (
        0.0 if record['skipped'] else record['seconds'])
    return record

  def _train(self, r, name, model: run_config.ModelConfig, extra, inputs,
             steps: Optional[int] = None):
    model_dir = self._dir(r, name)
    overrides = (list(model.overrides) + list(self.run.runtime_overrides) +
                 list(extra))
    files = run_config.config_files(model)
    argv = tool_commands.train_args(model.experiment, files, model_dir,
                           steps or self.options.train_steps, overrides)
    inputs = dict(inputs, **self.data_inputs)
    fingerprints = lambda fingerprint: {path: fingerprint(path)
                                        for path in files}
    return self._stage(
        r, name, 'train', argv,
        dict(inputs, recipe=fingerprints(stage_records.config_hash)),
        [model_dir],
        # Records before config_hash kept the recipes' bytes' hash.
        earlier_form=dict(inputs,
                          recipe=fingerprints(stage_records.content_hash)))

  def _labeling_nms(self, model: run_config.ModelConfig) -> List[str]:
    """A detector that trained with an NMS a TPU compiles is exported with
    the one that serves fast where the labeler runs (configs/nms.py)."""
    if self.run.task != 'detection':
      return []
    config = run_config.experiment_config(model, self.run.runtime_overrides)
    version = config.task.model.detection_generator.nms_version
    return [] if version == nms.LABELING_NMS else [nms.labeling_override()]

  def _export(self, r, name, model: run_config.ModelConfig, model_dir,
              export_model: str = ''):
    export_dir = self._dir(r, name)
    argv = tool_commands.export_args(model.experiment, model_dir, export_dir,
                            export_model, self._labeling_nms(model))
    inputs = {'checkpoint': stage_records.checkpoint_record(model_dir)}
    self._stage(r, name, 'export_saved_model', argv, inputs, [export_dir])
    return export_dir

  def final_metrics(self, r: int, name: str,
                    experiment: str) -> Dict[str, Dict[str, float]]:
    """A model's final checkpoint, measured.

    Args:
      r: the round.
      name: the model's stage name.
      experiment: its registered experiment.

    Returns:
      evaluations.final_metrics (by split), its stages recorded as round
      r's.
    """
    return evaluations.final_metrics(
        lambda *stage: self._stage(r, *stage), name, self._dir(r, name),
        experiment, self.run)

  def measure(self, r: int, name: str, experiment: str,
               student: bool) -> dict:
    """A trained model's measures.

    Args:
      r: the round.
      name: the model's stage name (`teacher`, `student`, a candidate).
      experiment: its registered experiment (for the eval stages).
      student: whether it is a student (its batch has a pseudo half).

    Returns:
      Its `final_metrics` by split (validation, and test when the run
      file gives one) and, under 'model', its images per step and steps
      (from its params.yaml).
    """
    return dict(self.final_metrics(r, name, experiment),
                model=recipes.model_summary(self._dir(r, name), student))

  @staticmethod
  def _record(result: dict, key: str, measured: dict):
    """result[key] (validation), result[key + '_test'] and
    result[key + '_model'] from `measure`."""
    result[key] = measured[tool_commands.VALIDATION]
    if 'test' in measured:
      result[f'{key}_test'] = measured['test']
    result[f'{key}_model'] = measured['model']

  def _data_overrides(self) -> List[str]:
    items = [f'task.train_data.input_path={self.run.data.labeled}',
             f'task.validation_data.input_path={self.run.data.validation}']
    if self.run.task == 'detection':
      items.append(f'task.annotation_file={self.run.data.annotation_file}')
    return items

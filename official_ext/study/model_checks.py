"""Checks of a study file's models against the registered experiments:
their recipes and overlays exist and apply, a pretrain's backbone restores
into the models', augmentation and study overrides name real fields. Each
failure is a `StudyError` whose one line names the study field."""

from official.core import exp_factory
from official.modeling import hyperparams

from official_ext import registry_imports  # pylint: disable=unused-import
from official_ext.configs import augmentation_presets
from official_ext.configs import recipes


class StudyError(ValueError):
  """A study file that cannot run; the message names the field."""


def check_model(model, where: str, base_dir: str):
  """A study ModelConfig: a registered experiment, its recipe and each of
  its config_files found, and each overlay applies to the experiment; no
  `overrides` of its own (the study's apply to every model of a cell, so
  the cell's models differ only where the study says)."""
  if model.overrides:
    raise StudyError(f'{where}.overrides: a study model takes none of its '
                     "own; put them in the study's `overrides` (every model "
                     'of every cell), or in a config_files overlay')
  try:
    exp_factory.get_exp_config(model.experiment)
  except (LookupError, KeyError):
    raise StudyError(f'{where}.experiment: {model.experiment!r} is not a '
                     'registered experiment') from None
  try:
    recipes.resolve(model.recipe, base_dir)
  except FileNotFoundError:
    raise StudyError(f'{where}.recipe: no file {model.recipe!r} (from '
                     f'{base_dir}) nor a packaged recipe of that name'
                     ) from None
  for i, name in enumerate(model.config_files):
    try:
      path = recipes.resolve(name, base_dir)
    except FileNotFoundError:
      raise StudyError(f'{where}.config_files[{i}]: no file {name!r} (from '
                       f'{base_dir}) nor a packaged recipe of that name'
                       ) from None
    try:
      hyperparams.override_params_dict(
          exp_factory.get_exp_config(model.experiment), path, is_strict=True)
    except (KeyError, ValueError, TypeError) as e:
      raise StudyError(f'{where}.config_files[{i}]: {name!r} does not apply '
                       f'to {model.experiment}: {e}') from None


def _backbone(model, base_dir: str) -> dict:
  """A study model's backbone config (its experiment with its recipe and
  config_files), less its drop rates (which do not change the variables a
  checkpoint holds)."""
  backbone = recipes.config_from(
      model.experiment, *recipes.model_files(model, base_dir)).task.model.backbone
  return {'type': backbone.type,
          **{k: v for k, v in backbone.get().as_dict().items()
             if 'drop_rate' not in k}}


def check_same_backbone(pretrain, model, where: str, base_dir: str):
  """A pretrain's checkpoint restores only into the same backbone.

  Args:
    pretrain: the init's pretrain ModelConfig.
    model: the study's supervised ModelConfig.
    where: the study field of the pretrain, for the message.
    base_dir: the study file's folder.

  Raises:
    StudyError: the backbones differ.
  """
  want, got = _backbone(model, base_dir), _backbone(pretrain, base_dir)
  differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
  if differ:
    raise StudyError(
        f'{where}: {pretrain.experiment!r} (with its recipe and config_files) '
        f'pre-trains a {got["type"]} backbone that differs from the study '
        f"models' ({model.experiment}: {want['type']}) in {differ}; its "
        'checkpoint would not restore into them: pre-train their backbone '
        '(as pretrain_digits_seg does for the digits segmenters, with the '
        'same config_files)')


def check_augmentation(aug, where: str, study):
  """An augmentation entry: a known preset and/or train-data overrides that
  name fields of both models' configs."""
  if not aug.preset and not aug.overrides:
    raise StudyError(f'{where}: set a preset '
                     f'({sorted(augmentation_presets.PRESETS)}) or overrides')
  if aug.preset and aug.preset not in augmentation_presets.PRESETS:
    raise StudyError(f'{where}.preset: {aug.preset!r} is not one of '
                     f'{sorted(augmentation_presets.PRESETS)}')
  for item in aug.overrides:
    if '=' not in item or not item.startswith('task.train_data.'):
      raise StudyError(f'{where}.overrides: {item!r}: use '
                       "'task.train_data.FIELD=VALUE'")
    for role in ('supervised', 'selftrain'):
      _check_applies(item, getattr(study, role).experiment,
                     f'{where}.overrides: {item!r}')


def check_overrides(study):
  """The study's overrides: `task.` items that name a field of every
  model's config (supervised, student, online student)."""
  roles = ['supervised', 'selftrain'] + (
      ['online'] if 'online' in study.method else [])
  for i, item in enumerate(study.overrides):
    if '=' not in item or not item.startswith('task.'):
      raise StudyError(f"overrides[{i}]: {item!r}: use 'task.FIELD=VALUE'")
    for role in roles:
      _check_applies(item, getattr(study, role).experiment,
                     f'overrides[{i}]: {item!r} ({role})')


def _check_applies(item: str, experiment: str, where: str):
  """A `--params_override` item names a field of `experiment`'s config."""
  try:
    hyperparams.override_params_dict(exp_factory.get_exp_config(experiment),
                                     item, is_strict=True)
  except (KeyError, ValueError, TypeError) as e:
    raise StudyError(f'{where}: {e}') from None

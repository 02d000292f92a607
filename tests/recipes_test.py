"""official_ext/digits/recipes.py: each digits experiment resolves with its
own CPU recipe."""

import os

import yaml

from official.modeling import hyperparams

from official_ext.configs import recipes as recipe_lib
from official_ext.digits import recipes


def test_every_experiment_has_its_recipe_applied():
  for task, names in recipes.EXPERIMENTS.items():
    for name in names:
      path = recipes.recipe(name)
      assert os.path.basename(path) == f'{name}_cpu.yaml'
      with open(path) as f:
        raw = yaml.safe_load(f)
      config = recipes.config(name)
      assert config.trainer.train_steps == raw['trainer']['train_steps']
      assert (config.task.train_data.global_batch_size ==
              raw['task']['train_data']['global_batch_size']), (task, name)


def test_students_read_pseudo_labels():
  for teacher, student in recipes.EXPERIMENTS.values():
    assert not hasattr(recipes.config(teacher).task, 'pseudo_data')
    assert recipes.config(student).task.pseudo_data.global_batch_size > 0


def test_the_digits_teachers_train_at_their_students_images_per_step():
  """Equal compute: the run files' teacher sees as many (labeled) images per
  step as its student's 8 labeled + 8 pseudo-labeled, for the same steps."""
  for task, (teacher, student) in recipes.EXPERIMENTS.items():
    model = recipes.run_file(task, {'train': 't', 'val': 'v',
                                    'unlabeled': 'u',
                                    'val_annotations': 'a'})['teacher']
    params = hyperparams.override_params_dict(
        recipes.config(teacher), ','.join(model['overrides']),
        is_strict=True)
    assert recipes.config(teacher).task.train_data.global_batch_size == 8
    assert params.task.train_data.global_batch_size == 16
    assert recipe_lib.student_batch(recipes.config(student)) == (8, 16)
    assert (params.trainer.train_steps ==
            recipes.config(student).trainer.train_steps)
  student = recipes.config('selftrain_digits')
  student.task.pseudo_data.global_batch_size = 24
  assert recipe_lib.student_batch(student) == (8, 32)


def test_online_recipes_match_their_offline_student():
  """The online recipes change the mode (and its own fields) only: the same
  batches and schedule as the offline student they are compared with."""
  for task, online in recipes.ONLINE_RECIPES.items():
    student = recipes.EXPERIMENTS[task][1]
    offline = recipes.config(student)
    config = recipe_lib.config_from(student, recipe_lib.recipe_path(online))
    st = config.task.self_training
    assert (st.mode, offline.task.self_training.mode) == ('online', 'offline')
    assert 0 < st.burn_in_steps < config.trainer.train_steps
    assert 0.9 <= st.ema_decay < 1
    assert st.score_threshold == offline.task.self_training.score_threshold
    assert config.trainer.train_steps == offline.trainer.train_steps
    for data in ('train_data', 'pseudo_data'):
      assert (getattr(config.task, data).global_batch_size ==
              getattr(offline.task, data).global_batch_size), (task, data)


def test_the_default_segmenter_and_the_demos():
  """The segmentation experiments build SpineNet-Mobile-49XS (the default
  the built-in sets' validation splits chose); the demo lays its ResNet
  overlay over teacher and student alike, in its configs and its run file."""
  from official.core import exp_factory  # pylint: disable=g-import-not-at-top
  for name in recipes.EXPERIMENTS['segmentation']:
    default = exp_factory.get_exp_config(name).task.model
    assert default.backbone.type == 'spinenet_mobile'
    assert default.backbone.spinenet_mobile.model_id == '49XS'
    assert default.norm_activation.activation == 'swish'
    demo = recipes.config(name).task.model
    assert (demo.backbone.type, demo.backbone.resnet.model_id,
            demo.backbone.resnet.depth_multiplier,
            demo.norm_activation.activation) == ('resnet', 18, 0.25, 'relu')
    assert recipes.recipe_files(name)[1:] == recipes.overlay_files(name)
  for name in recipes.EXPERIMENTS['detection']:
    assert recipes.recipe_files(name) == [recipes.recipe(name)]
  run = recipes.run_file('segmentation', {'train': 't', 'val': 'v',
                                          'unlabeled': 'u'})
  assert (run['teacher']['config_files'] == run['student']['config_files'] ==
          ['supervised_digits_seg_resnet_cpu.yaml'])

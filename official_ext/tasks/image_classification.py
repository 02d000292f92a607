"""Image classification task (the digits models' pre-training): Model
Garden's, with `task.seed` making a run repeatable."""

from official.core import task_factory
from official.vision.tasks import image_classification as mg_ic

from official_ext.configs import image_classification as exp_cfg
from official_ext.tasks import inputs
from official_ext.tasks import seeding


@task_factory.register_task_cls(exp_cfg.ImageClassificationTask)
class ImageClassificationTask(seeding.SeededTask, inputs.ExtendedInputs,
                              mg_ic.ImageClassificationTask):
  """Model Garden's ImageClassificationTask, seeded by `task.seed`."""

"""Importing this module registers every official_ext experiment and task.

It also imports Model Garden's vision registrations, so a driver needs only
this import.
"""

# pylint: disable=unused-import
from official.vision import registry_imports as _mg_registry_imports
from official_ext.configs import image_classification as _ic_configs
from official_ext.configs import retinanet as _retinanet_configs
from official_ext.configs import selftrain_retinanet as _st_retinanet_configs
from official_ext.configs import selftrain_segmentation as _st_seg_configs
from official_ext.configs import semantic_segmentation as _seg_configs
from official_ext.tasks import image_classification as _ic_task
from official_ext.tasks import retinanet as _retinanet_task
from official_ext.tasks import selftrain_retinanet as _st_retinanet_task
from official_ext.tasks import selftrain_segmentation as _st_seg_task
from official_ext.tasks import semantic_segmentation as _seg_task

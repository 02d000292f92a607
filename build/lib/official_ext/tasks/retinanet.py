"""RetinaNet task: Model Garden's, with augmentation presets and subsets."""

from typing import Optional

from absl import logging
import tensorflow as tf

from official.core import task_factory
from official.vision.dataloaders import retinanet_input
from official.vision.dataloaders import tf_example_decoder
from official.vision.dataloaders import tf_example_label_map_decoder
from official.vision.tasks import retinanet as mg_retinanet

from official_ext.configs import augmentation_presets
from official_ext.configs import retinanet as exp_cfg
from official_ext.dataloaders import reader


def build_decoder(params):
  decoder_cfg = params.decoder.get()
  if params.decoder.type == 'simple_decoder':
    return tf_example_decoder.TfExampleDecoder(
        regenerate_source_id=decoder_cfg.regenerate_source_id,
        attribute_names=decoder_cfg.attribute_names)
  if params.decoder.type == 'label_map_decoder':
    return tf_example_label_map_decoder.TfExampleDecoderLabelMap(
        label_map=decoder_cfg.label_map,
        regenerate_source_id=decoder_cfg.regenerate_source_id)
  raise ValueError(f'decoder.type={params.decoder.type!r} is not supported; '
                   "use 'simple_decoder' or 'label_map_decoder'.")


def build_parser(model_config, params) -> retinanet_input.Parser:
  """Model Garden's RetinaNet parser from a model and a data config."""
  p = params.parser
  return retinanet_input.Parser(
      output_size=model_config.input_size[:2],
      min_level=model_config.min_level,
      max_level=model_config.max_level,
      num_scales=model_config.anchor.num_scales,
      aspect_ratios=model_config.anchor.aspect_ratios,
      anchor_size=model_config.anchor.anchor_size,
      dtype=params.dtype,
      match_threshold=p.match_threshold,
      unmatched_threshold=p.unmatched_threshold,
      box_coder_weights=model_config.detection_generator.box_coder_weights,
      aug_type=p.aug_type,
      aug_rand_hflip=p.aug_rand_hflip,
      aug_rand_jpeg=p.aug_rand_jpeg,
      aug_scale_min=p.aug_scale_min,
      aug_scale_max=p.aug_scale_max,
      skip_crowd_during_training=p.skip_crowd_during_training,
      max_num_instances=p.max_num_instances,
      pad=p.pad,
      keep_aspect_ratio=p.keep_aspect_ratio)


@task_factory.register_task_cls(exp_cfg.RetinaNetTask)
class RetinaNetTask(mg_retinanet.RetinaNetTask):
  """Model Garden's RetinaNetTask; inputs honor presets and subsets."""

  def resolve_data_config(self, params):
    """The data config with its augmentation preset applied."""
    params = augmentation_presets.apply_detection_preset(params)
    if params.get('augmentation_preset'):
      logging.info('Preset %s -> parser %s', params.augmentation_preset,
                   params.parser.as_dict())
    return params

  def build_inputs(self, params,
                   input_context: Optional[tf.distribute.InputContext] = None):
    if params.tfds_name:
      return super().build_inputs(params, input_context)
    params = self.resolve_data_config(params)
    decoder = build_decoder(params)
    parser = build_parser(self.task_config.model, params)
    return reader.read(params, decoder.decode,
                       self.make_parse_fn(parser, params), input_context)

  def make_parse_fn(self, parser, params):
    """The parser's function; subclasses may add labels."""
    return parser.parse_fn(params.is_training)

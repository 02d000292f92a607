"""The dry run's sizing and its printed report: what a recipe's global batch
needs per replica on its target devices, from one measured run, and the
lines a person reads (official_ext/benchmarks/dry_run.py runs the recipe)."""

from typing import Any, Dict, Optional

from official.core import config_definitions as cfg

GIB = 2.0**30
# Memory one replica has on the recipe's target devices (GiB): a TPU v3
# core, a v4 chip (one replica per chip), the GPUs of common 8-GPU hosts.
DEVICE_MEMORY_GIB = {
    'TPU v3 core': 16, 'TPU v4 chip': 32, 'TPU v5e chip': 16,
    'V100 16GB': 16, 'A100 40GB': 40, 'A100/H100 80GB': 80,
}
# Bytes of float32 state per trainable parameter in a step: the weight, its
# gradient and the SGD momentum (Model Garden's recipes' optimizer).
STATE_BYTES_PER_PARAMETER = 12


def target_replicas(params: cfg.ExperimentConfig) -> Optional[int]:
  """Replicas of the recipe's target devices where the recipe says (GPUs);
  None for a TPU (the slice is chosen at launch)."""
  runtime = params.runtime
  if runtime.distribution_strategy == 'tpu':
    return None
  return max(1, runtime.num_gpus)


def recipe_batch(params: cfg.ExperimentConfig) -> int:
  """Images per step of the recipe (both halves of a student's)."""
  task = params.task
  return task.train_data.global_batch_size + (
      task.pseudo_data.global_batch_size if task.get('pseudo_data') else 0)


def memory_needs(params: cfg.ExperimentConfig, global_batch: int,
                 num_parameters: int, measured_peak: float, baseline: float,
                 images_per_replica: int) -> Dict[str, Any]:
  """What the recipe's global batch needs per replica on its targets: an
  estimate from one measurement, linear in the images (state: weights,
  gradients and momentum in float32; the rest of the measured growth is
  taken as activations per image: on a CPU, where it is the process's
  resident memory with the traced graphs in it, an upper bound)."""
  state = STATE_BYTES_PER_PARAMETER * num_parameters
  per_image = max(measured_peak - baseline - state, 0.0) / images_per_replica
  replicas = target_replicas(params)
  tpu = replicas is None
  choices = ({f'v3-{n} ({n} cores)': n for n in (8, 32, 128)} if tpu else
             {f'{replicas} replica(s)': replicas})
  needs = {}
  for name, count in choices.items():
    images = global_batch / count
    gib = (state + per_image * images) / GIB
    needs[name] = {'images_per_replica': images, 'estimated_gib': gib,
                   'fits': {device: gib <= memory for device, memory
                            in DEVICE_MEMORY_GIB.items()
                            if device.startswith('TPU') == tpu}}
  return {'state_gib': state / GIB, 'activations_gib_per_image':
          per_image / GIB, 'targets': needs}


def summary(report: Dict[str, Any]) -> str:
  """The report as lines a person reads."""
  size = f"{report['image_size'][0]}x{report['image_size'][1]}"
  lines = [
      f"target {report['target']}, {report['precision']}, {size}, "
      f"XLA {'on' if report['xla'] else 'off'}"
      + (f", NMS {report['nms_version']}" if report['nms_version'] else ''),
      f"devices here: {report['replicas']} replica(s) "
      f"({', '.join(report['devices'])}), "
      f"{report['images_per_replica_per_step']} image(s) per replica/step",
      f"trainable parameters {report['parameters'] / 1e6:.2f} M"
      + (f", {report['flops'] / 1e9:.1f} GFLOPs per image (forward, no NMS)"
         if 'flops' in report else ''),
      f"first step {report['first_step_seconds']:.1f} s (trace"
      f"{' + compile' if report['xla'] else ''}), then "
      + (f"{report['seconds_per_step']:.2f} s/step"
         if report['seconds_per_step'] is not None else '(one step only)')
      + f", loss {report['loss']:.3f}",
      'peak memory per replica: ' + ', '.join(
          f'{k} {v:.2f} GiB'
          for k, v in report['peak_memory_gib_per_replica'].items()),
  ]
  if 'validation_step_seconds' in report:
    lines.append(f"validation step {report['validation_step_seconds']:.1f} "
                 f"s (its loss {report['validation_loss']:.3g} is not "
                 'meaningful before training)')
  if 'export_dir' in report:
    lines.append(f"export {report['export_seconds']:.1f} s -> "
                 f"{report['export_dir']}")
  if 'images_labeled' in report:
    lines.append(f"labeled {report['images_labeled']} images in "
                 f"{report['labeling_seconds']:.1f} s")
  needs = report['memory_needs']
  lines.append(
      f"the recipe's batch per replica at {size} (estimate: state "
      f"{needs['state_gib']:.2f} GiB + "
      f"{needs['activations_gib_per_image']:.3f} GiB per image"
      + ('; on a CPU an upper bound' if report['devices'][0].endswith(
          'CPU:0') else '') + '):')
  for name, need in needs['targets'].items():
    fits = [d for d, ok in need['fits'].items() if ok]
    lines.append(
        f"  {name}: {need['images_per_replica']:g} images, "
        f"~{need['estimated_gib']:.1f} GiB; fits: "
        f"{', '.join(fits) if fits else 'none of ' + ', '.join(need['fits'])}")
  return '\n'.join(lines)

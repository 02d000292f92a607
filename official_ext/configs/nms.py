"""Which detection-generator NMS runs where.

Model Garden's RetinaNet picks its NMS with
`task.model.detection_generator.nms_version`. The choice decides where a
step can run:

  * `v2` (Model Garden's default) is built from ops XLA compiles, so it runs
    inside a TPU step (validation, the online teacher) and in any step
    compiled with `jit_compile=True`.
  * `batched` is TensorFlow's `CombinedNonMaxSuppression`, which has a CPU
    kernel only: no XLA kernel (a TPU cannot compile a step holding it) and
    no GPU kernel (on a GPU it runs on the host). It serves a teacher export
    ~70x faster on a CPU than `v2` (docs/results/2026-11-25-benchmarks.md).

So the COCO and PASCAL experiments and their recipes train and validate with
`v2`; a teacher exported to label on CPU (or on a GPU host) is exported with
`batched` (`LABELING_NMS`, laid over the config at export); the CPU-only
digits experiments keep `batched` and, should one run on a TPU, the task
swaps in `XLA_NMS` (tasks/retinanet.py).
"""

# Versions with no XLA kernel: a step holding them does not compile.
NO_XLA_KERNEL = ('batched',)
# What a compiled step uses in their place.
XLA_NMS = 'v2'
# What a teacher exported to label on a CPU (or a GPU's host) uses.
LABELING_NMS = 'batched'
FIELD = 'task.model.detection_generator.nms_version'


def compiles(version: str) -> bool:
  """Whether a step holding this NMS version compiles with XLA."""
  return version not in NO_XLA_KERNEL


def for_compiled_step(version: str) -> str:
  """The NMS version a compiled (TPU, jit) step uses for `version`."""
  return version if compiles(version) else XLA_NMS


def labeling_override(version: str = LABELING_NMS) -> str:
  """The export's params_override that sets the teacher's NMS."""
  return f'{FIELD}={version}'

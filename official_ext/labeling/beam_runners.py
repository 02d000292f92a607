"""Which Beam runner labels, and its options.

Beam knows most runners by name; DaskRunner only by its class path, and its
`--dask_*` options exist only once its module is imported. On Dask each
shard is its own partition unless the user partitions otherwise.
DaskRunner collects no metrics (`counters` returns None there).
"""

from typing import List, Optional, Sequence

import apache_beam as beam
from apache_beam.options import pipeline_options as beam_options


DASK_RUNNER = 'DaskRunner'
# Beam knows its other runners by name; this one only by its class path.
_RUNNER_CLASSES = {
    DASK_RUNNER: 'apache_beam.runners.dask.dask_runner.DaskRunner'}


def register_runner_options(runner: str):
  """Imports what defines a runner's pipeline options that Beam does not
  register by itself (DaskRunner's --dask_*).

  Args:
    runner: the runner's name.

  Raises:
    ValueError: the runner's packages are missing.
  """
  if runner != DASK_RUNNER:
    return
  try:
    from apache_beam.runners.dask import dask_runner  # pylint: disable=g-import-not-at-top,unused-import
    import distributed  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError as e:
    raise ValueError(f'--runner={runner} needs dask and distributed: pip '
                     f'install "official_ext[dask]" ({e})') from None


def runner_args(runner: str, beam_args: Sequence[str]) -> List[str]:
  """Beam's args for a runner, with our defaults.

  Args:
    runner: the runner's name.
    beam_args: the args the user gave.

  Returns:
    The args; on Dask with one shard per partition unless the user set the
    partitioning (the runner's own default puts 128 elements in one, so
    every shard would run as one task on one worker).
  """
  args = list(beam_args)
  partitioning = ('--dask_npartitions', '--dask_partition_size')
  if runner == DASK_RUNNER and not any(
      a.split('=', 1)[0] in partitioning for a in args):
    args.append('--dask_partition_size=1')
  return args

def pipeline_options(runner: str, beam_args: Sequence[str]
                     ) -> beam_options.PipelineOptions:
  """Beam's PipelineOptions for a runner.

  Args:
    runner: the runner's name (--runner).
    beam_args: the Beam args the user gave.

  Returns:
    The options, with `runner_args`' defaults and the runner's class.

  Raises:
    ValueError: the runner's packages are missing.
  """
  register_runner_options(runner)
  return beam_options.PipelineOptions(
      runner_args(runner, beam_args),
      runner=_RUNNER_CLASSES.get(runner, runner))


def counters(result, namespace: str) -> Optional[dict]:
  """A finished pipeline's counters.

  Args:
    result: the finished PipelineResult.
    namespace: the counters' namespace.

  Returns:
    {name: value} (committed, else attempted); None where the runner
    collects none (DaskRunner).
  """
  try:
    metrics = result.metrics()
  except NotImplementedError:
    return None
  query = metrics.query(
      beam.metrics.MetricsFilter().with_namespace(namespace))
  out = {}
  for c in query['counters']:
    value = c.committed if c.committed is not None else c.attempted
    out[c.key.metric.name] = out.get(c.key.metric.name, 0) + value
  return dict(sorted(out.items()))

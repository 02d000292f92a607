"""labeling/beam_runners: a runner's options, without running a pipeline."""

from official_ext.labeling import beam_runners


def test_dask_gets_one_shard_per_partition_unless_partitioned_by_the_user():
  assert beam_runners.runner_args('DaskRunner', []) == [
      '--dask_partition_size=1']
  for given in (['--dask_npartitions=4'], ['--dask_partition_size=3']):
    assert beam_runners.runner_args('DaskRunner', given) == given
  assert beam_runners.runner_args('DirectRunner', ['--x=1']) == ['--x=1']


def test_pipeline_options_name_the_runner_and_keep_the_dask_options():
  options = beam_runners.pipeline_options(
      'DaskRunner', ['--dask_client_address=127.0.0.1:8786']).get_all_options()
  assert options['runner'].endswith('dask_runner.DaskRunner')
  assert options['address'] == '127.0.0.1:8786'  # DaskOptions' dest names.
  assert options['partition_size'] == 1
  direct = beam_runners.pipeline_options('DirectRunner', []).get_all_options()
  assert direct['runner'] == 'DirectRunner'

"""official_ext/utils/stages.py: stages as child processes, lanes side by
side, the first failure stops the rest."""

import os
import time

import pytest

from official_ext.utils import stages


def _py(code):
  return ['-c', code]


def test_lane_threads():
  assert stages.lane_threads(1) == {}
  assert stages.lane_threads(2, cpus=2) == {
      'TF_NUM_INTRAOP_THREADS': '1', 'TF_NUM_INTEROP_THREADS': '2'}
  assert stages.lane_threads(2, cpus=16) == {
      'TF_NUM_INTRAOP_THREADS': '8', 'TF_NUM_INTEROP_THREADS': '8'}
  assert stages.lane_threads(3, cpus=2)['TF_NUM_INTRAOP_THREADS'] == '1'


def test_run_logs_everything_echoes_progress(tmp_path, capsys):
  runner = stages.Runner(['step'], env={'STAGE_TEST': 'x'})
  log = tmp_path / 'a.log'
  seconds = runner.run('a', _py(
      'import os\n'
      'print("I1122 23:58:59.371453 1403 controller.py:278] train | step: 5")\n'
      'print("noise")\n'
      'print("env", os.environ["STAGE_TEST"])'), str(log))
  assert seconds > 0
  assert log.read_text().splitlines()[1:] == ['noise', 'env x']
  out = capsys.readouterr().out.splitlines()
  # Only the progress line is echoed, without absl's prefix.
  assert [l for l in out if l.startswith('  [a]')] == ['  [a] train | step: 5']
  assert out[-1].startswith('[a] done in')


def test_failed_stage_names_its_log(tmp_path):
  runner = stages.Runner([])
  log = tmp_path / 'bad.log'
  with pytest.raises(stages.StageFailed, match=r'\[bad\] failed \(exit 3\); '
                     f'see {log}'):
    runner.run('bad', _py('print("why"); raise SystemExit(3)'), str(log))
  assert 'why' in log.read_text()


def test_lanes_return_in_order_with_their_env(tmp_path):
  runner = stages.Runner([], env=stages.lane_threads(2, cpus=2))

  def lane(name):
    def run():
      log = tmp_path / f'{name}.log'
      runner.run(name, _py(
          'import os; print(os.environ["TF_NUM_INTRAOP_THREADS"])'), str(log))
      return name, log.read_text().strip()
    return run

  results = stages.run_lanes(runner, {'b': lane('b'), 'a': lane('a')})
  assert list(results) == ['b', 'a']
  assert results == {'b': ('b', '1'), 'a': ('a', '1')}


def test_first_failure_stops_the_other_lane(tmp_path):
  runner = stages.Runner([])
  pid_file = tmp_path / 'slow.pid'
  never = tmp_path / 'never'

  def failing():
    time.sleep(1)  # Let the other lane's stage start.
    runner.run('fails', _py('raise SystemExit(2)'), str(tmp_path / 'f.log'))

  def slow():
    runner.run('slow', _py(
        f'import os, time\nopen({str(pid_file)!r}, "w").write(str(os.getpid()))'
        '\ntime.sleep(120)'), str(tmp_path / 's.log'))
    runner.run('next', _py(f'open({str(never)!r}, "w")'),
               str(tmp_path / 'n.log'))

  start = time.time()
  with pytest.raises(stages.StageFailed, match=r'\[fails\] failed \(exit 2\)'):
    stages.run_lanes(runner, {'slow': slow, 'failing': failing})
  assert time.time() - start < 60
  pid = int(pid_file.read_text())
  with pytest.raises(ProcessLookupError):
    os.kill(pid, 0)  # The slow stage's process is gone ...
  assert not never.exists()  # ... and its lane started nothing after it.
  with pytest.raises(stages.StageFailed, match='not started'):
    runner.run('late', _py('pass'), str(tmp_path / 'late.log'))

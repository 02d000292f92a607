"""rounds/workers: what a worker of a K-worker run waits for."""

from official_ext.labeling import labeling_report
from official_ext.rounds import stage_records
from official_ext.rounds import workers


def test_labels_complete_only_when_the_report_lists_no_missing_shard(
    tmp_path):
  prefix = str(tmp_path / 'pseudo')
  assert not workers.labels_complete(prefix)  # No report yet.
  labeling_report.write_report(prefix, {'num_shards': 4,
                                        'shards_missing': [2, 3]})
  assert not workers.labels_complete(prefix)
  labeling_report.write_report(prefix, {'num_shards': 4,
                                        'shards_missing': []})
  assert workers.labels_complete(prefix)


def test_stage_done_reads_the_stage_record(tmp_path):
  records = stage_records.StageRecords(str(tmp_path), log=lambda line: None)
  assert not workers.stage_done(records, 'round_1/teacher_export')
  records.run('round_1/teacher_export', {'x': 1}, [], lambda redo: 0.0)
  assert workers.stage_done(records, 'round_1/teacher_export')


def test_wait_polls_until_ready(capsys):
  calls = []

  def ready():
    calls.append(1)
    return len(calls) == 3

  workers.wait('the teacher', ready, worker_index=1, poll_seconds=0.01)
  assert len(calls) == 3
  assert capsys.readouterr().out == ''  # Under a minute: no log line.

"""official_ext/rounds/results.py: the run's table says when round 1 is not
an equal-compute comparison."""

from official_ext.rounds import results

STUDENT = {'images_per_step': 16, 'labeled_images_per_step': 8,
           'train_steps': 20}


def _round(teacher_model):
  return {'round': 1, 'teacher': {'AP': 0.5}, 'student': {'AP': 0.6},
          'teacher_model': teacher_model, 'student_model': STUDENT,
          'pseudo_labels': {'images_labeled': 32}}


def test_equal_compute_rounds_print_the_table_only():
  teacher = {'images_per_step': 16, 'labeled_images_per_step': 16,
             'train_steps': 20}
  lines = results.table([_round(teacher)]).splitlines()
  assert len(lines) == 3
  assert lines[2].split(' | ') == ['1', '0.500', '0.600', '+0.100',
                                   '16 (8)', '20', '32']


def test_a_smaller_batch_or_fewer_steps_is_named():
  for teacher in ({'images_per_step': 8, 'labeled_images_per_step': 8,
                   'train_steps': 20},
                  {'images_per_step': 16, 'labeled_images_per_step': 16,
                   'train_steps': 10}):
    lines = results.table([_round(teacher)]).splitlines()
    assert lines[-1] == f'round 1: {results.NOT_EQUAL}'


def test_a_given_teacher_is_not_compared():
  """A teacher SavedModel given in the run file has no model to compare."""
  r = _round(None)
  del r['teacher_model']
  assert results.NOT_EQUAL not in results.table([r])

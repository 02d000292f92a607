"""official_ext/patches.py: the two Model Garden functions we swap, each
restored, one swap at a time; and the Model Garden behaviour each relies
on (these fail when Model Garden changes it)."""

import inspect
import threading
import time

import pytest

from official.core import export_base
from official.core import task_factory
from official.vision.dataloaders import input_reader_factory
from official.vision.serving import export_saved_model_lib
from official_ext import patches
from official_ext.digits import recipes


@pytest.mark.parametrize('task', ['detection', 'segmentation'])
def test_model_garden_tasks_read_through_the_reader_factory(task,
                                                            digits_data):
  """Model Garden's tasks build their reader with the factory we swap,
  passing the dataset_fn and parser_fn we wrap."""
  config = recipes.config(recipes.EXPERIMENTS[task][0])
  config.task.train_data.input_path = digits_data['train']
  seen = []

  def wrap(original):
    def generator(params, **kwargs):
      seen.append(sorted(kwargs))
      return original(params, **kwargs)
    return generator

  original = input_reader_factory.input_reader_generator
  model_garden_task = task_factory.get_task(config.task)
  with patches.input_reader(wrap):
    assert input_reader_factory.input_reader_generator is not original
    dataset = model_garden_task.build_inputs(config.task.train_data)
  assert input_reader_factory.input_reader_generator is original
  assert len(seen) == 1 and {'dataset_fn', 'parser_fn'} <= set(seen[0])
  images, _ = next(iter(dataset))
  assert images.shape[0] == config.task.train_data.global_batch_size


def test_model_garden_exports_through_export_base_with_save_options():
  """Model Garden's export_inference_graph saves through
  export_base.export and passes it save_options, which we change."""
  assert 'save_options' in inspect.signature(export_base.export).parameters
  source = inspect.getsource(export_saved_model_lib.export_inference_graph)
  assert 'export_base.export(' in source and 'save_options=' in source


def test_export_save_options_changes_the_options_and_restores():
  original = export_base.export
  calls = []
  export_base.export = lambda *a, save_options=None, **k: calls.append(
      save_options)
  try:
    with patches.export_save_options(lambda o: ('changed', o)):
      export_base.export('module', save_options='mg')
    assert calls == [('changed', 'mg')]
  finally:
    export_base.export = original


def test_a_swap_is_one_thread_at_a_time_and_undone_on_error():
  original = input_reader_factory.input_reader_generator
  inside, order = threading.Event(), []

  def first():
    with patches.input_reader(lambda f: 'first'):
      inside.set()
      time.sleep(0.3)
      order.append(('first', input_reader_factory.input_reader_generator))

  def second():
    inside.wait()
    with patches.input_reader(lambda f: 'second'):
      order.append(('second', input_reader_factory.input_reader_generator))

  threads = [threading.Thread(target=first), threading.Thread(target=second)]
  for t in threads:
    t.start()
  for t in threads:
    t.join()
  # The second waited for the first to end; each saw only its own swap.
  assert order == [('first', 'first'), ('second', 'second')]
  with pytest.raises(RuntimeError):
    with patches.input_reader(lambda f: 'broken'):
      raise RuntimeError
  assert input_reader_factory.input_reader_generator is original

"""The SpineNet-190 self-training recipe's dry run (tests/paper_recipes.py):
at 128x128 with the recipe's graph and precision, one step (its supervised
recipe's model, the same graph, is built in tests/dry_run_test.py)."""

import pytest

import paper_recipes


@pytest.mark.parametrize('recipe', [r for r in paper_recipes.STUDENTS
                                    if 'spinenet190' in r])
def test_paper_recipe_dry_runs(recipe, tmp_path):
  paper_recipes.check_dry_run(recipe, tmp_path)

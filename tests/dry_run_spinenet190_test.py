"""The SpineNet-190 paper recipes' dry runs (tests/paper_recipes.py): the
supervised and the self-training recipe, each at 128x128 with the recipe's
graph, precision and (for the TPU) XLA setting."""

import pytest

import paper_recipes


@pytest.mark.parametrize('recipe', [r for r in paper_recipes.PAPER_RECIPES
                                    if 'spinenet190' in r])
def test_paper_recipe_dry_runs(recipe, tmp_path):
  paper_recipes.check_dry_run(recipe, tmp_path)

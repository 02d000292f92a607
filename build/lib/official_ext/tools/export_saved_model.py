"""`python -m official_ext.tools.export_saved_model`: the export tool.

The code is official_ext/serving/export_saved_model.py, where Model Garden
keeps its own (official/vision/serving/).
"""

from official_ext.serving.export_saved_model import main, run  # pylint: disable=unused-import

if __name__ == '__main__':
  run()

"""The ratios tools/benchmark.py prints (train step, input, labeling)."""

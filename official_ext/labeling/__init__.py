"""The offline pseudo-labeling pipeline: teacher SavedModel -> labeled shards."""

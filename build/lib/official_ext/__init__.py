"""Self-training for the TensorFlow Model Garden (Zoph et al., NeurIPS 2020)."""

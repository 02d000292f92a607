"""Pseudo-label quality: calibration on held-out labels, thresholds, warnings."""

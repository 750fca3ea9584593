"""Benchmarks: `make bench` (python -m bench [name …]) prints figures as ratios to a baseline."""

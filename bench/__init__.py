"""Benchmarks: `python -m bench` (see bench/__main__.py). Figures are ratios measured in one run."""

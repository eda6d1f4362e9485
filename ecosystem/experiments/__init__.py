"""Experiments on many runs: compare, sweep, validation, reports and their figures."""

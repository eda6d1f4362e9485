"""Runs: results on disk, the run store, the runner and the execution backends."""

"""Measurement: metric functions and the catalogue of every series a run writes."""

"""The rows a simulated step writes, before they become the tidy series of a run.

Core object: :data:`StepRows`, one ``(generation, scope, metric, value)`` tuple per series.
"""

from __future__ import annotations

__all__ = ["StepRows"]

StepRows = list[tuple[int, str, str, float]]
"""One step's measurements: ``(generation, scope, metric, value)`` per series."""

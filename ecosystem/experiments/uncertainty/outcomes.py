"""Outcomes: one number per run from a catalogued series, a window of last steps and a statistic.

Core objects: :func:`outcome_value` (the statistic of one run's series) and
:func:`outcome_values` (every outcome of a study for one run directory).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ecosystem.experiments.uncertainty.study import Outcome
from ecosystem.runs.results import read_timeseries

__all__ = ["outcome_value", "outcome_values", "window_description"]


def outcome_value(frame: pd.DataFrame, outcome: Outcome) -> float:
    """``outcome`` of a run's tidy series (NaN when the run has no such series).

    The window is the last ``window`` steps after step 0 (the initial state), clipped to the
    run; ``window = 0`` is every step after step 0. ``auc`` is the trapezoidal area over the
    window's steps; ``final`` the value at its last step.
    """
    rows = frame[(frame["scope"] == outcome.scope) & (frame["metric"] == outcome.metric)]
    rows = rows.dropna(subset=["value"]).sort_values("step")
    if rows.empty:
        return float("nan")
    steps = rows["step"].to_numpy()
    values = rows["value"].to_numpy(dtype=float)
    counted = steps >= 1 if (steps >= 1).any() else np.ones_like(steps, dtype=bool)
    steps, values = steps[counted], values[counted]
    if outcome.window:
        steps, values = steps[-outcome.window :], values[-outcome.window :]
    if outcome.statistic == "mean":
        return float(values.mean())
    if outcome.statistic == "min":
        return float(values.min())
    if outcome.statistic == "max":
        return float(values.max())
    if outcome.statistic == "final":
        return float(values[-1])
    if len(values) == 1:
        return float(values[0])
    return float(np.trapezoid(values, steps))


def outcome_values(directory: str | Path, outcomes: Mapping[str, Outcome]) -> dict[str, float]:
    """Every outcome of the run in ``directory``, by name."""
    frame = read_timeseries(directory)
    return {name: outcome_value(frame, outcome) for name, outcome in outcomes.items()}


def window_description(outcome: Outcome) -> str:
    """``mean of the last 12 steps``, ``minimum over the whole run``, ..."""
    what = {
        "mean": "mean",
        "min": "minimum",
        "max": "maximum",
        "final": "value at the end",
        "auc": "area under the curve",
    }[outcome.statistic]
    if outcome.statistic == "final":
        return what
    span = f"the last {outcome.window} steps" if outcome.window else "the whole run"
    return f"{what} over {span}"

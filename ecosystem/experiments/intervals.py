"""Statistics across seeds: the end-of-run value of each run, the mean with its 95% t-interval,
and Welch's test between scenarios.

Core objects: :func:`end_of_run` (per run and series, the mean over its last steps),
:func:`mean_interval` (one sample of per-seed values), :func:`interval_table` (the same for
every group of a tidy frame) and :func:`welch_p_value` (do two scenarios differ?). Shared by
the comparison table, the reports, the app and the figures, so all report the same values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

__all__ = [
    "CONFIDENCE",
    "DEFAULT_WINDOW",
    "Interval",
    "end_of_run",
    "interval_table",
    "mean_interval",
    "welch_p_value",
]

CONFIDENCE = 0.95
"""Coverage of every interval (two-sided)."""
DEFAULT_WINDOW = 12
"""Steps at the end of a run whose mean is its end-of-run value."""


def end_of_run(frame: pd.DataFrame, window: int = DEFAULT_WINDOW) -> pd.DataFrame:
    """Per run (scenario, seed) and series (scope, metric): the mean over its last ``window`` steps.

    The window is clipped to the run length and leaves out step 0 (the initial
    state) when the run has later steps. Columns: ``scenario, seed, scope,
    metric, value, first_step, last_step, steps``.
    """
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    pieces = []
    for (scenario, seed), rows in frame.groupby(["scenario", "seed"], sort=False):
        steps = np.unique(rows["step"].to_numpy())
        counted = steps[steps >= 1] if (steps >= 1).any() else steps
        kept = counted[-window:]
        means = (
            rows[rows["step"].isin(kept)]
            .groupby(["scope", "metric"], sort=False)["value"]
            .mean()
            .reset_index()
        )
        pieces.append(
            means.assign(
                scenario=scenario,
                seed=seed,
                first_step=int(kept[0]),
                last_step=int(kept[-1]),
                steps=len(kept),
            )
        )
    columns = ["scenario", "seed", "scope", "metric", "value", "first_step", "last_step", "steps"]
    if not pieces:
        return pd.DataFrame(columns=columns)
    return pd.concat(pieces, ignore_index=True)[columns]


class Interval(NamedTuple):
    """The mean of ``n`` values with its t-interval (``low = high = mean`` when n == 1)."""

    n: int
    mean: float
    low: float
    high: float


def mean_interval(values: Sequence[float] | np.ndarray) -> Interval:
    """Mean and 95% t-interval of ``values`` (NaN values are left out; all NaN when none remain)."""
    x = _finite(values)
    n = len(x)
    if n == 0:
        return Interval(0, float("nan"), float("nan"), float("nan"))
    mean = float(x.mean())
    half = float(_half_width(n, float(x.std(ddof=1)) if n > 1 else 0.0))
    return Interval(n, mean, mean - half, mean + half)


def interval_table(frame: pd.DataFrame, keys: Sequence[str], value: str = "value") -> pd.DataFrame:
    """One row per group of ``keys``: the keys, then ``n, mean, low, high`` of ``value``.

    NaN values are left out; groups keep the order in which they first appear.
    """
    keys = list(keys)
    rows = frame.loc[frame[value].notna(), [*keys, value]]
    grouped = rows.groupby(keys, sort=False)[value]
    out = grouped.agg(n="count", mean="mean", sd="std").reset_index()
    half = _half_width(out["n"].to_numpy(), out["sd"].to_numpy())
    out["low"] = out["mean"] - half
    out["high"] = out["mean"] + half
    out["n"] = out["n"].astype(int)
    return out[[*keys, "n", "mean", "low", "high"]]


def welch_p_value(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Two-sided p-value of Welch's t-test for equal means (NaN values left out).

    NaN when either side has fewer than two values or both are constant: the test
    is then undefined, and a constant difference is not evidence across seeds.
    """
    x, y = _finite(a), _finite(b)
    if len(x) < 2 or len(y) < 2 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return float("nan")
    with warnings.catch_warnings():
        # one constant side is fine for Welch; scipy warns about its (zero) variance
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        return float(stats.ttest_ind(x, y, equal_var=False).pvalue)


def _finite(values) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[~np.isnan(x)]


def _half_width(n, sd):
    """Half-width of the t-interval; 0 for a single value (its sd is undefined)."""
    n = np.asarray(n, dtype=np.float64)
    sd = np.asarray(sd, dtype=np.float64)
    several = n > 1
    dof = np.where(several, n - 1, 1.0)
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, dof)
    return np.where(several, t * np.nan_to_num(sd) / np.sqrt(np.maximum(n, 1.0)), 0.0)

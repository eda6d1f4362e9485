"""Calendar time of an ecosystem run: months, steps and dated schedules.

Core objects: :func:`month_of_step` and :func:`step_of_month` (step 1 is the
scenario's ``start`` month, step 0 the month before it) and :func:`schedule_at`
(a value that is either a constant or a table of dated anchors, interpolated
linearly between anchors and held constant beyond them). Schedules let a
scenario follow a measured history, e.g. the share of searches that show an
AI answer: ``{"2024-04" = 0.0, "2025-03" = 0.18, "2030-07" = 0.5}``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["Schedule", "month_of_step", "schedule_at", "step_of_month"]

Schedule = float | Mapping[str, float]
"""A constant, or ``{"YYYY-MM": value}`` anchors interpolated linearly in time."""


def _months(month: str) -> int:
    """Months since year 0 of a ``YYYY-MM`` string."""
    year, _, number = month.partition("-")
    if not (len(year) == 4 and year.isdigit() and number.isdigit() and 1 <= int(number) <= 12):
        raise ValueError(f"month must look like YYYY-MM, got {month!r}")
    return 12 * int(year) + int(number) - 1


def step_of_month(start: str, month: str) -> int:
    """The step that simulates ``month`` in a run whose step 1 is ``start``."""
    return _months(month) - _months(start) + 1


def month_of_step(start: str, step: int) -> str:
    """The calendar month ``YYYY-MM`` simulated by ``step`` (step 1 is ``start``)."""
    months = _months(start) + step - 1
    return f"{months // 12:04d}-{months % 12 + 1:02d}"


def schedule_at(schedule: Schedule, start: str, step: int) -> float:
    """The value of ``schedule`` at ``step``: constant, or interpolated between dated anchors."""
    if not isinstance(schedule, Mapping):
        return float(schedule)
    steps = np.array([step_of_month(start, month) for month in schedule], dtype=np.float64)
    values = np.array(list(schedule.values()), dtype=np.float64)
    order = np.argsort(steps, kind="stable")
    return float(np.interp(step, steps[order], values[order]))

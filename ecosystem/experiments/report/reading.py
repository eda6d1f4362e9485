"""What a report reads from a results directory, each failure as a one-line ``ValueError``.

Core objects: :func:`read_run_series` (a run's tidy series), :func:`read_run_manifest`
(its manifest, empty when there is none), :func:`check_complete` (refuse a run that is
not complete), :func:`read_record` (compare.json, sweep.json, validated) and
:func:`report_series` (the key series the runs hold).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ecosystem.experiments.compare import KEY_METRICS, LAB_KEY_METRICS, key_metrics
from ecosystem.runs import records
from ecosystem.runs.records import CompareRecord, SweepRecord
from ecosystem.runs.results import read_manifest, read_timeseries, run_status

__all__ = [
    "Series",
    "check_complete",
    "read_record",
    "read_run_manifest",
    "read_run_series",
    "report_series",
]

Series = tuple[str, str]
"""A key series: ``(scope, metric)``."""


def report_series(frame: pd.DataFrame, path: Path) -> list[Series]:
    """The key series present in ``frame``; none at all is an error."""
    metrics = key_metrics(frame)
    if not metrics:
        wanted = ", ".join(f"{s}/{m}" for s, m in (*KEY_METRICS, *LAB_KEY_METRICS))
        raise ValueError(f"{path}: the runs hold none of the key series ({wanted})")
    return metrics


def read_run_series(path: Path, allow_incomplete: bool = False) -> pd.DataFrame:
    """The tidy series of the run directory ``path``; a run without a completed step is an
    error, and so is a run that is not complete unless ``allow_incomplete``."""
    if not allow_incomplete:
        check_complete(path)
    try:
        frame = read_timeseries(path)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None
    if frame.empty:
        raise ValueError(f"{path}: the run holds no completed step")
    return frame


def check_complete(path: Path) -> None:
    """Refuse, in one line, a run directory that is not complete and whole."""
    try:
        state = run_status(path)
    except FileNotFoundError:
        raise ValueError(
            f"run {path} has no manifest.json; pass --allow-incomplete to report its steps"
        ) from None
    if not state.complete:
        raise ValueError(state.refusal(path))


def read_run_manifest(path: Path) -> dict:
    """The manifest of the run directory ``path``, or ``{}`` when it has none."""
    try:
        return read_manifest(path)
    except FileNotFoundError:
        return {}


def read_record(path: Path, kind: type[CompareRecord] | type[SweepRecord]) -> dict:
    """A compare.json or sweep.json, validated against its schema."""
    try:
        return records.read_record(path, kind).model_dump(mode="json")
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None

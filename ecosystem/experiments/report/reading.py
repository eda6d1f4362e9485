"""What a report reads from a results directory, each failure as a one-line ``ValueError``.

Core objects: :func:`read_run_series` (a run's tidy series), :func:`read_run_manifest`
(its manifest, empty when there is none), :func:`read_record` (compare.json, sweep.json)
and :func:`report_series` (the key series the runs hold).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ecosystem.experiments.compare import KEY_METRICS, LAB_KEY_METRICS, key_metrics
from ecosystem.runs.results import read_manifest, read_timeseries

__all__ = ["Series", "read_record", "read_run_manifest", "read_run_series", "report_series"]

Series = tuple[str, str]
"""A key series: ``(scope, metric)``."""


def report_series(frame: pd.DataFrame, path: Path) -> list[Series]:
    """The key series present in ``frame``; none at all is an error."""
    metrics = key_metrics(frame)
    if not metrics:
        wanted = ", ".join(f"{s}/{m}" for s, m in (*KEY_METRICS, *LAB_KEY_METRICS))
        raise ValueError(f"{path}: the runs hold none of the key series ({wanted})")
    return metrics


def read_run_series(path: Path) -> pd.DataFrame:
    """The tidy series of the run directory ``path``; a run without a completed step is an error."""
    try:
        frame = read_timeseries(path)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None
    if frame.empty:
        raise ValueError(f"{path}: the run holds no completed step")
    return frame


def read_run_manifest(path: Path) -> dict:
    """The manifest of the run directory ``path``, or ``{}`` when it has none."""
    try:
        return read_manifest(path)
    except FileNotFoundError:
        return {}
    except ValueError:
        raise ValueError(f"{path}: manifest.json is not valid JSON") from None


def read_record(path: Path) -> dict:
    """A JSON object from the file ``path`` (compare.json, sweep.json)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise ValueError(f"{path}: not valid JSON") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: not a JSON object")
    return record

"""Results of a run: tidy time series streamed to disk, a manifest and a summary.

Core objects: :class:`RunWriter` (streams each completed step to its own
atomically written Parquet part, so a killed run keeps every completed step;
on close it consolidates ``timeseries.parquet`` and ``timeseries.csv`` and
writes ``manifest.json`` and ``summary.json``), :func:`read_timeseries` (reads
a finished or interrupted run), :func:`atomic_write_text`.

The series is tidy and long: one row per
``(scenario, seed, step, generation, scope, metric, value)``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ecosystem.measure.rows import StepRows
from ecosystem.runs.store import (
    MANIFEST,
    PARTS,
    RESULT_MARKERS,
    SUMMARY,
    TIMESERIES,
    TIMESERIES_CSV,
    code_version,
    git_commit,
    package_version,
)
from ecosystem.scenario import Scenario, scenario_hash

__all__ = [
    "COLUMNS",
    "RunInterrupted",
    "RunWriter",
    "StepRows",
    "atomic_write_text",
    "is_run_directory",
    "read_manifest",
    "read_status",
    "read_timeseries",
    "summarise",
]

COLUMNS = ("scenario", "seed", "step", "generation", "scope", "metric", "value")
SCHEMA = pa.schema(
    [
        ("scenario", pa.string()),
        ("seed", pa.int64()),
        ("step", pa.int64()),
        ("generation", pa.int64()),
        ("scope", pa.string()),
        ("metric", pa.string()),
        ("value", pa.float64()),
    ]
)
TRACKED_PACKAGES = ("web-ecosystem", "numpy", "torch", "mesa", "networkx", "pydantic", "pyarrow")


class RunInterrupted(Exception):
    """Raised inside a run when the process is asked to stop (SIGTERM)."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Text flavour of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _atomic_write_table(path: Path, table: pa.Table, writer) -> None:
    sink = pa.BufferOutputStream()
    writer(table, sink)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())


class RunWriter:
    """Writes one run directory; use as a context manager around the run.

    ``write_step`` streams the rows of a completed step to ``parts/``; leaving
    the context consolidates the series, the summary and the manifest, with
    status ``complete``, ``interrupted`` (Ctrl-C / SIGTERM) or ``failed``.
    """

    def __init__(self, directory: str | Path, scenario: Scenario, *, command: str = "") -> None:
        self.directory = Path(directory)
        self.scenario = scenario
        self.command = command
        self.steps_completed = 0
        self.frame: pd.DataFrame | None = None
        self._started = time.time()
        self._started_at = _now()

    def __enter__(self) -> RunWriter:
        if (self.directory / TIMESERIES).exists() or (self.directory / PARTS).exists():
            raise FileExistsError(f"run directory {self.directory} already holds results")
        (self.directory / PARTS).mkdir(parents=True, exist_ok=True)
        self._write_manifest("running")
        return self

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        if exc_type is None:
            status = "complete"
        elif issubclass(exc_type, KeyboardInterrupt | RunInterrupted):
            status = "interrupted"
        else:
            status = "failed"
        self.close(status, error=None if exc is None else f"{exc_type.__name__}: {exc}")
        return False

    def write_step(self, step: int, rows: Iterable[tuple[int, str, str, float]]) -> None:
        """Persist one completed step: rows of ``(generation, scope, metric, value)``."""
        generations, scopes, metrics, values = [], [], [], []
        for generation, scope, metric, value in rows:
            generations.append(int(generation))
            scopes.append(scope)
            metrics.append(metric)
            values.append(float(value))
        n = len(values)
        table = pa.table(
            {
                "scenario": pa.array([self.scenario.name] * n, pa.string()),
                "seed": pa.array([self.scenario.seed] * n, pa.int64()),
                "step": pa.array([int(step)] * n, pa.int64()),
                "generation": pa.array(generations, pa.int64()),
                "scope": pa.array(scopes, pa.string()),
                "metric": pa.array(metrics, pa.string()),
                "value": pa.array(values, pa.float64()),
            },
            schema=SCHEMA,
        )
        _atomic_write_table(
            self.directory / PARTS / f"step-{step:06d}.parquet", table, pq.write_table
        )
        self.steps_completed += 1

    def close(self, status: str = "complete", error: str | None = None) -> pd.DataFrame:
        """Consolidate parts into the final files and record the outcome."""
        table = _read_parts(self.directory)
        _atomic_write_table(self.directory / TIMESERIES, table, pq.write_table)
        _atomic_write_table(self.directory / TIMESERIES_CSV, table, pa_csv.write_csv)
        frame = table.to_pandas()
        self.frame = frame
        atomic_write_text(self.directory / SUMMARY, json.dumps(summarise(frame), indent=2))
        self._write_manifest(status, error=error)
        for part in (self.directory / PARTS).glob("*.parquet"):
            part.unlink()
        with contextlib.suppress(OSError):
            (self.directory / PARTS).rmdir()
        return frame

    def _write_manifest(self, status: str, error: str | None = None) -> None:
        manifest = {
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "scenario_hash": scenario_hash(self.scenario),
            "status": status,
            "steps_completed": self.steps_completed,
            "steps_planned": self.scenario.steps,
            "started_at": self._started_at,
            "finished_at": None if status == "running" else _now(),
            "wall_time_s": round(time.time() - self._started, 3),
            "command": self.command,
            "error": error,
            "package_version": package_version(),
            "code_version": code_version(),
            "versions": package_versions(),
            "git_commit": git_commit(),
            "resolved_scenario": self.scenario.model_dump(mode="json"),
        }
        atomic_write_text(self.directory / MANIFEST, json.dumps(manifest, indent=2))


def summarise(frame: pd.DataFrame) -> dict:
    """Final, peak and lowest value of every (scope, metric) series."""
    if frame.empty:
        return {"final_step": None, "metrics": {}}
    ordered = frame.sort_values("step", kind="stable")
    grouped = ordered.groupby(["scope", "metric"], sort=True)["value"]
    stats = pd.DataFrame({"final": grouped.last(), "max": grouped.max(), "min": grouped.min()})
    out: dict[str, dict] = {}
    for (scope, metric), row in stats.iterrows():
        out.setdefault(scope, {})[metric] = {k: _json_float(v) for k, v in row.items()}
    return {"final_step": int(ordered["step"].max()), "metrics": out}


def read_timeseries(directory: str | Path) -> pd.DataFrame:
    """The tidy series of a run directory, finished or interrupted (from its parts)."""
    directory = Path(directory)
    final = directory / TIMESERIES
    if final.exists():
        return pq.read_table(final).to_pandas()
    if (directory / PARTS).exists():
        return _read_parts(directory).to_pandas()
    raise FileNotFoundError(f"{directory} holds no time series (no timeseries.parquet or parts/)")


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a run directory."""
    return json.loads((Path(directory) / MANIFEST).read_text(encoding="utf-8"))


def is_run_directory(path: str | Path) -> bool:
    """Whether ``path`` is a run directory: it holds a manifest, step parts or a series."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in RESULT_MARKERS)


def read_status(directory: str | Path) -> str | None:
    """The status in a run directory's manifest (``complete``, ``running``, ...), or None
    when it has no readable manifest."""
    try:
        return read_manifest(directory).get("status")
    except (OSError, ValueError):
        return None


def _read_parts(directory: Path) -> pa.Table:
    parts = sorted((directory / PARTS).glob("step-*.parquet"))
    tables = [pq.read_table(part) for part in parts]
    if (directory / TIMESERIES).exists() and not tables:
        return pq.read_table(directory / TIMESERIES)
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()


def package_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages that shape the numbers."""
    versions = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in TRACKED_PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def _json_float(value: float) -> float | None:
    value = float(value)
    return None if value != value else value


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

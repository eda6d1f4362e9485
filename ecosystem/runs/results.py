"""Results of a run: tidy time series streamed to disk, a manifest and a summary.

Core objects: :class:`RunWriter` (streams each completed step to its own
atomically written Parquet part and updates ``manifest.json`` after it, so a killed
run keeps every completed step and says how many; saves checkpoints; on close it
consolidates ``timeseries.parquet`` and ``timeseries.csv``, writes ``summary.json`` and
records the checksums of the final files), :func:`run_status` (what a directory holds
now: complete and whole, running, interrupted, failed or corrupt),
:func:`read_timeseries` (reads a finished or interrupted run, checking checksums),
:func:`read_manifest` (validated) and :func:`atomic_write_bytes`.

The series is tidy and long: one row per
``(scenario, seed, step, generation, scope, metric, value)``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ecosystem.measure.excerpts import EXCERPT_SCHEMA, picture_grid
from ecosystem.measure.rows import StepRows
from ecosystem.runs.locks import LOCK, DirectoryBusy, describe_writer, held_here, live_writer
from ecosystem.runs.records import CorruptRun, Manifest, ResultFileError, read_record
from ecosystem.runs.store import (
    CHECKPOINT,
    EXCERPTS,
    MANIFEST,
    NETWORK_LINKS,
    NETWORK_NODES,
    PARTS,
    PICTURES,
    RESULT_MARKERS,
    SUMMARY,
    TIMESERIES,
    TIMESERIES_CSV,
    RunIdentity,
    code_version,
    git_commit,
    package_version,
)
from ecosystem.scenario import Scenario, ScenarioError, scenario_hash

__all__ = [
    "COLUMNS",
    "CorruptRun",
    "ResultFileError",
    "Resumed",
    "RunInterrupted",
    "RunStatus",
    "RunWriter",
    "StepRows",
    "atomic_write_bytes",
    "atomic_write_text",
    "clear_run_directory",
    "file_mode",
    "is_run_directory",
    "read_excerpts",
    "read_manifest",
    "read_status",
    "read_timeseries",
    "run_state",
    "run_status",
    "summarise",
    "write_excerpts",
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


def file_mode() -> int:
    """The mode new result files get: ``0o666`` less this process's umask."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_guard:
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


_umask_guard = threading.Lock()


def atomic_write_bytes(path: Path, data: bytes) -> str:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never half;
    return its sha256 (hex).

    The file gets the usual mode for new files (the umask is respected). A failed write (a
    full disk, a read-only folder) raises ``OSError`` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(exc.filename or path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), file_mode())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise
    return hashlib.sha256(data).hexdigest()


def atomic_write_text(path: Path, text: str) -> str:
    """Text flavour of :func:`atomic_write_bytes` (UTF-8)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _table_bytes(table: pa.Table, writer) -> bytes:
    sink = pa.BufferOutputStream()
    writer(table, sink)
    return sink.getvalue().to_pybytes()


def file_sha256(path: Path) -> str:
    """sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class RunWriter:
    """Writes one run directory; use as a context manager around the run.

    ``write_step`` streams the rows of a completed step to ``parts/`` and then updates the
    manifest (status ``running``, the steps completed and the rows of each), both atomically;
    ``write_checkpoint`` saves the state a run can resume from; leaving the context
    consolidates the series and the summary and records their checksums, with status
    ``complete``, ``interrupted`` (Ctrl-C / SIGTERM) or ``failed``. The parts and the
    checkpoint are kept until the run is complete, so an interrupted run can resume.

    The caller holds the directory's writer lock (:mod:`ecosystem.runs.locks`).
    ``resume`` continues the run recorded in ``resume.manifest`` after its checkpoint step.
    """

    def __init__(
        self,
        directory: str | Path,
        scenario: Scenario,
        *,
        command: str = "",
        resume: Resumed | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.scenario = scenario
        self.command = command
        self.frame: pd.DataFrame | None = None
        self.rows_per_step: dict[int, int] = {}
        self.checkpoint: dict | None = None
        self.resume = resume
        self._started = time.time()
        self._started_at = _now()
        self._earlier_seconds = 0.0
        self._versions = package_versions()
        self._resolved = scenario.model_dump(mode="json")
        self._hash = scenario_hash(scenario)
        self._commands = [command]
        if resume is not None:
            manifest = resume.manifest
            self.rows_per_step = {
                step: rows for step, rows in manifest.rows_per_step.items() if step <= resume.step
            }
            self.checkpoint = (
                None if manifest.checkpoint is None else manifest.checkpoint.model_dump()
            )
            self._started_at = manifest.started_at or self._started_at
            self._earlier_seconds = manifest.wall_time_s or 0.0
            earlier = manifest.model_extra.get("commands") if manifest.model_extra else None
            earlier = earlier if isinstance(earlier, list) else [manifest.command]
            self._commands = [*earlier, command]

    @property
    def steps_completed(self) -> int:
        """Steps whose rows are on disk."""
        return len(self.rows_per_step)

    def __enter__(self) -> RunWriter:
        if self.resume is None:
            if (self.directory / TIMESERIES).exists() or (self.directory / PARTS).exists():
                raise FileExistsError(f"run directory {self.directory} already holds results")
        else:
            self._drop_after(self.resume.step)
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
        with _signals_held():
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
        atomic_write_bytes(_part(self.directory, step), _table_bytes(table, pq.write_table))
        self.rows_per_step[int(step)] = n
        self._write_manifest("running")

    def write_checkpoint(self, step: int, state: bytes) -> None:
        """Save ``state`` (the pickled simulation after ``step``) as the run's checkpoint."""
        digest = atomic_write_bytes(self.directory / CHECKPOINT, state)
        self.checkpoint = {"step": int(step), "file": CHECKPOINT, "sha256": digest}
        self._write_manifest("running")

    def close(self, status: str = "complete", error: str | None = None) -> pd.DataFrame:
        """Consolidate parts into the final files, record their checksums and the outcome."""
        table = _read_parts(self.directory)
        checksums = {
            TIMESERIES: atomic_write_bytes(
                self.directory / TIMESERIES, _table_bytes(table, pq.write_table)
            ),
            TIMESERIES_CSV: atomic_write_bytes(
                self.directory / TIMESERIES_CSV, _table_bytes(table, pa_csv.write_csv)
            ),
        }
        frame = table.to_pandas()
        self.frame = frame
        checksums[SUMMARY] = atomic_write_text(
            self.directory / SUMMARY, json.dumps(summarise(frame), indent=2)
        )
        for name in (NETWORK_NODES, NETWORK_LINKS, EXCERPTS, PICTURES):
            if (self.directory / name).exists():
                checksums[name] = file_sha256(self.directory / name)
        if status == "complete":
            self.checkpoint = None
        self._write_manifest(status, error=error, checksums=checksums)
        if status == "complete":
            _drop_leftovers(self.directory)
        return frame

    def _drop_after(self, step: int) -> None:
        """Remove what a resumed run will write again: the parts after ``step``, final files."""
        finals = (TIMESERIES, TIMESERIES_CSV, SUMMARY, NETWORK_NODES, NETWORK_LINKS, EXCERPTS)
        for name in (*finals, PICTURES):
            with contextlib.suppress(FileNotFoundError):
                (self.directory / name).unlink()
        for part in (self.directory / PARTS).glob("step-*.parquet"):
            if _part_step(part) is None or _part_step(part) > step:  # type: ignore[operator]
                part.unlink()

    def _write_manifest(
        self, status: str, error: str | None = None, checksums: dict | None = None
    ) -> None:
        steps = sorted(self.rows_per_step)
        manifest = {
            "scenario": self.scenario.name,
            "seed": self.scenario.seed,
            "scenario_hash": self._hash,
            "status": status,
            "steps_completed": len(steps),
            "steps_planned": self.scenario.steps,
            "last_step": steps[-1] if steps else None,
            "started_at": self._started_at,
            "finished_at": None if status == "running" else _now(),
            "wall_time_s": round(self._earlier_seconds + time.time() - self._started, 3),
            "command": self.command,
            "commands": self._commands,
            "error": error,
            "package_version": package_version(),
            "code_version": code_version(),
            "versions": self._versions,
            "git_commit": git_commit(),
            "rows_per_step": {str(step): self.rows_per_step[step] for step in steps},
            "checksums": checksums or {},
            "checkpoint": self.checkpoint,
            "resolved_scenario": self._resolved,
        }
        atomic_write_text(self.directory / MANIFEST, json.dumps(manifest, indent=2))


@dataclass(frozen=True)
class Resumed:
    """Where a resumed run continues: its manifest and the step of its checkpoint (-1: none,
    the run starts again from its first step)."""

    manifest: Manifest
    step: int


@contextlib.contextmanager
def _signals_held():
    """Within the block (main thread only), SIGINT and SIGTERM wait: a second signal while a
    run records its outcome would leave a stale manifest."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = {}
    for number in (signal.SIGINT, signal.SIGTERM):
        previous[number] = signal.signal(number, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


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
    """The tidy series of a run directory, finished or interrupted (from its parts).

    The step parts, while a run not complete keeps them, else the final series (parts a
    complete run left behind are ignored), checked against the checksum its manifest
    records; a file that does not match or cannot be read raises :class:`CorruptRun`, one
    line naming it.
    """
    directory = Path(directory)
    final = directory / TIMESERIES
    try:
        manifest = read_manifest(directory)
    except FileNotFoundError:
        manifest = None
    except ResultFileError:
        if not _has_parts(directory):
            raise
        manifest = None
    complete = manifest is not None and manifest.get("status") == "complete"
    # a writer killed while removing the parts of a complete run leaves some behind
    if not (complete and final.exists()) and (
        _has_parts(directory) or (not final.exists() and (directory / PARTS).exists())
    ):
        return _read_parts(directory).to_pandas()
    if final.exists():
        problem = None if manifest is None else _sum_problem(directory, manifest, (TIMESERIES,))
        if problem is not None:
            raise CorruptRun(f"run {directory} is corrupt: {problem}")
        return _read_table(directory, final).to_pandas()
    raise FileNotFoundError(f"{directory} holds no time series (no timeseries.parquet or parts/)")


def write_excerpts(directory: str | Path, table: pa.Table, *, step_label: str = "step") -> None:
    """Write a run's excerpts (:class:`ecosystem.measure.excerpts.Excerpts`), atomically,
    and the grid of its pictures (``pictures.png``) when it kept any."""
    atomic_write_bytes(Path(directory) / EXCERPTS, _table_bytes(table, pq.write_table))
    frame = table.to_pandas()
    if len(frame) and (frame["pixels"].map(len) > 0).any():
        grid = picture_grid(frame, step_label=step_label)
        atomic_write_bytes(Path(directory) / PICTURES, grid)


_DOCUMENTS_ONLY = pa.schema(list(EXCERPT_SCHEMA)[:5])
"""The columns of ``excerpts.parquet`` before pictures were kept (text runs)."""


def read_excerpts(directory: str | Path) -> pd.DataFrame | None:
    """The documents or pictures a run kept (the columns of
    :data:`~ecosystem.measure.excerpts.EXCERPT_SCHEMA`), or None when it kept none; checked
    against the manifest's checksum (:class:`CorruptRun`)."""
    directory = Path(directory)
    path = directory / EXCERPTS
    if not path.exists():
        return None
    try:
        manifest = read_manifest(directory)
    except FileNotFoundError:
        manifest = None
    if manifest is not None and EXCERPTS in (manifest.get("checksums") or {}):
        problem = _sum_problem(directory, manifest, (EXCERPTS,))
        if problem is not None:
            raise CorruptRun(f"run {directory} is corrupt: {problem}")
    try:
        return _read_table(directory, path, EXCERPT_SCHEMA).to_pandas()
    except CorruptRun:
        # documents written before pictures were kept: the first five columns only
        frame = _read_table(directory, path, _DOCUMENTS_ONLY).to_pandas()
        return frame.assign(height=0, width=0, pixels=[b""] * len(frame))


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a run directory, validated (:class:`ecosystem.runs.records.Manifest`).

    Raises ``FileNotFoundError`` without one, :class:`ResultFileError` (one line) when it
    is not a valid manifest.
    """
    directory = Path(directory)
    record = read_record(directory / MANIFEST, Manifest, f"run {directory}")
    return record.model_dump(mode="json")


def is_run_directory(path: str | Path) -> bool:
    """Whether ``path`` is a run directory: it holds a manifest, step parts or a series."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in RESULT_MARKERS)


def read_status(directory: str | Path) -> str | None:
    """The status of a run directory (:func:`run_status`), or None when it has no readable
    manifest."""
    try:
        return run_status(directory).status
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class RunStatus:
    """What a run directory holds now, as a reader sees it.

    ``status``: ``complete`` (every step, files matching their checksums), ``running`` (its
    writer is alive), ``interrupted`` (stopped, or its writer is gone: killed, out of disk),
    ``failed`` or ``corrupt`` (files that do not match the manifest; ``problem`` says which).
    ``steps_completed`` counts the steps whose rows are on disk.
    """

    status: str
    steps_completed: int
    steps_planned: int
    manifest: dict
    problem: str | None = None
    writer: dict | None = None

    @property
    def complete(self) -> bool:
        """Whether the run is complete and its files are whole."""
        return self.status == "complete"

    def describe(self, directory: str | Path) -> str:
        """One line: ``run DIR is interrupted (12 of 120 steps)``."""
        if self.status == "corrupt":
            return f"run {directory} is corrupt: {self.problem}"
        steps = f"{self.steps_completed} of {self.steps_planned + 1} steps"
        if self.status == "running" and self.writer:
            return (
                f"run {directory} is running ({steps}, written by {describe_writer(self.writer)})"
            )
        return f"run {directory} is {self.status} ({steps})"

    def refusal(self, directory: str | Path) -> str:
        """Why a reader refuses this run and what to do, in one line."""
        if self.status == "corrupt":
            return f"{self.describe(directory)}; run it again"
        if self.status == "running":
            return f"{self.describe(directory)}; wait for it, or pass --allow-incomplete"
        return (
            f"{self.describe(directory)}; finish it with 'ecosystem run --resume {directory}', "
            "or pass --allow-incomplete"
        )


def run_status(directory: str | Path) -> RunStatus:
    """The status of the run in ``directory`` (:class:`RunStatus`), checking the writer's
    lock, the checksums of the final files and the rows of every step.

    Raises ``FileNotFoundError`` without a manifest and :class:`ResultFileError` when the
    manifest is not valid.
    """
    directory = Path(directory)
    manifest = read_manifest(directory)
    planned = int(manifest["steps_planned"])
    status = manifest["status"]
    steps = max(int(manifest["steps_completed"]), _count_parts(directory))
    writer = None
    if status == "running":
        writer = live_writer(directory)
        if writer is None:
            status = "interrupted"
    if status != "complete":
        return RunStatus(status, steps, planned, manifest, writer=writer)
    problem = _complete_problem(directory, manifest)
    if problem is not None:
        return RunStatus("corrupt", steps, planned, manifest, problem=problem)
    return RunStatus("complete", int(manifest["steps_completed"]), planned, manifest)


RunState = Literal["complete", "partial", "missing"]


def run_state(directory: str | Path, identity: RunIdentity) -> RunState:
    """``complete`` when ``directory`` holds the complete, whole run ``identity``; ``missing``
    when it holds no results; ``partial`` when it holds that run cut short, a corrupt run or
    anything else that is not a complete run (to be resumed or cleared and run again).

    A complete run of other settings or other code there raises :class:`ScenarioError` (its
    results are never deleted); a complete run's leftover step parts and checkpoint are
    removed when this process holds its writer lock; a run being written by a live process raises
    :class:`ecosystem.runs.locks.DirectoryBusy`.
    """
    directory = Path(directory)
    if not any((directory / name).exists() for name in RESULT_MARKERS):
        return "missing"
    try:
        state = run_status(directory)
    except (OSError, ValueError):
        return "partial"
    if state.status == "running" and held_here(directory):
        return "partial"  # this process holds the lock and has not started writing yet
    if state.status == "running":
        raise DirectoryBusy(f"{state.describe(directory)}; wait for it or choose another directory")
    manifest = state.manifest
    if manifest["status"] == "complete" and not identity.matches(manifest):
        raise ScenarioError(
            f"run directory {directory} holds a complete run of other settings or code "
            f"({manifest.get('scenario')!r} seed {manifest.get('seed')}); remove it or choose "
            "another directory"
        )
    if state.complete and held_here(directory):
        _drop_leftovers(directory)
    return "complete" if state.complete else "partial"


def _drop_leftovers(directory: Path) -> None:
    """Remove the step parts and checkpoint that a writer killed while tidying a complete run
    left behind (the run's own files are whole: its manifest says so)."""
    for part in (directory / PARTS).glob("*.parquet"):
        part.unlink()
    with contextlib.suppress(OSError):
        (directory / PARTS).rmdir()
    with contextlib.suppress(FileNotFoundError):
        (directory / CHECKPOINT).unlink()


def clear_run_directory(directory: str | Path) -> None:
    """Remove what a run cut short left in ``directory`` but its writer lock (the caller holds
    it; call after :func:`run_state` said ``partial``)."""
    directory = Path(directory)
    if not directory.exists():
        return
    for entry in directory.iterdir():
        if entry.name == LOCK:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _complete_problem(directory: Path, manifest: dict) -> str | None:
    """Why a run whose manifest says complete is not whole, or None."""
    checksums = manifest.get("checksums") or {}
    if TIMESERIES not in checksums:
        return f"{MANIFEST} records no checksum of {TIMESERIES}"
    problem = _sum_problem(directory, manifest, tuple(checksums))
    if problem is not None:
        return problem
    per_step = {int(k): int(v) for k, v in (manifest.get("rows_per_step") or {}).items()}
    try:
        steps = pq.read_table(directory / TIMESERIES, columns=["step"]).column("step")
    except (OSError, pa.ArrowException):
        return f"{TIMESERIES} cannot be read"
    counts = dict(zip(*np.unique(steps.to_numpy(), return_counts=True), strict=True))
    found = {int(k): int(v) for k, v in counts.items()}
    if found != per_step:
        return f"the rows of each step in {TIMESERIES} do not match {MANIFEST}"
    if len(per_step) != int(manifest["steps_completed"]):
        return f"{MANIFEST} counts {manifest['steps_completed']} steps but records {len(per_step)}"
    return None


def _sum_problem(directory: Path, manifest: dict, names: Iterable[str]) -> str | None:
    """The first of the files ``names`` that does not match the checksum the manifest
    records for it, as a problem (None: all that have one match)."""
    recorded = manifest.get("checksums") or {}
    for name in names:
        if name not in recorded:
            continue
        try:
            digest = file_sha256(directory / name)
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror})"
        if digest != recorded[name]:
            return f"{name} does not match its checksum"
    return None


def _read_table(directory: Path, path: Path, schema: pa.Schema = SCHEMA) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException):
        raise CorruptRun(
            f"run {directory} is corrupt: {path.relative_to(directory)} is not a readable "
            "Parquet file"
        ) from None
    if table.schema != schema:
        raise CorruptRun(
            f"run {directory} is corrupt: {path.relative_to(directory)} does not hold the "
            f"columns {', '.join(schema.names)}"
        )
    return table


def _part(directory: Path, step: int) -> Path:
    return directory / PARTS / f"step-{step:06d}.parquet"


def _part_step(path: Path) -> int | None:
    digits = path.stem.removeprefix("step-")
    return int(digits) if digits.isdigit() else None


def _has_parts(directory: Path) -> bool:
    return any((directory / PARTS).glob("step-*.parquet"))


def _count_parts(directory: Path) -> int:
    return sum(1 for _ in (directory / PARTS).glob("step-*.parquet"))


def _read_parts(directory: Path) -> pa.Table:
    parts = sorted((directory / PARTS).glob("step-*.parquet"))
    tables = [_read_table(directory, part) for part in parts]
    if (directory / TIMESERIES).exists() and not tables:
        return _read_table(directory, directory / TIMESERIES)
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table()


def package_versions() -> dict[str, str]:
    """Versions of Python, the platform and the packages that shape the numbers (read once
    per process: reading package metadata costs milliseconds, a short run's whole budget)."""
    return dict(_package_versions())


@functools.cache
def _package_versions() -> dict[str, str]:
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

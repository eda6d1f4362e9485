"""Parameter sweeps: one scenario over a grid, a Latin hypercube sample and seeds, run on Dask.

Core objects: :func:`plan_sweep` (turns grid and sample specifications into a
:class:`SweepPlan` of :class:`SweepRun` s, every run's scenario validated and
every run already complete in the output directory found, before anything
runs or is written), :func:`run_sweep` (runs what is missing on a backend of
:mod:`ecosystem.runs.backends`, each run streaming into its own run directory,
and keeps ``sweep.json`` current), :func:`estimate_wall_time` and
:func:`read_sweep` (every complete run as one tidy table). :func:`sweep_backend`
is :func:`ecosystem.runs.backends.open_backend`.

The unit of work is one run: the resolved scenario with one point of the
parameter space and one seed. Its identity (:mod:`ecosystem.runs.store`: the
resolved scenario, seed included, and the code version) names its directory
``runs/<scenario>-s<seed>-<hash prefix>``, so running a sweep again reuses every
complete run made by the same code and a changed grid reuses the runs it shares
with the old one.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ecosystem.randomness import Streams
from ecosystem.runs.backends import Backend, one_line
from ecosystem.runs.backends import open_backend as sweep_backend
from ecosystem.runs.locks import DirectoryBusy, describe_writer, held_here, live_writer, writer_lock
from ecosystem.runs.records import SweepRecord, read_record
from ecosystem.runs.results import (
    atomic_write_text,
    package_versions,
    read_manifest,
    read_timeseries,
    run_state,
)
from ecosystem.runs.runner import run_scenario
from ecosystem.runs.store import (
    MANIFEST,
    RUNS,
    SWEEP_RECORD,
    RunIdentity,
    code_version,
    git_commit,
    package_version,
    run_identity,
)
from ecosystem.scenario import Scenario, ScenarioError, load_scenario, value_at

__all__ = [
    "SweepPlan",
    "SweepPoint",
    "SweepRun",
    "estimate_wall_time",
    "plan_points",
    "plan_sweep",
    "read_sweep",
    "run_sweep",
    "sweep_backend",
]

RECORD = SWEEP_RECORD
SAMPLE_METHODS = ("lhs",)
SERIES_COLUMNS = ("step", "generation", "scope", "metric", "value")
RECORD_INTERVAL = 1.0
"""Seconds between rewrites of ``sweep.json`` while runs finish (each rewrite is O(runs))."""
MAX_SAMPLE_POINTS = 100_000
"""The most points of a ``--sample lhs:N``."""
MAX_RUNS = 100_000
"""The most runs a sweep plans (grid points x sample points x seeds)."""
TIMING_STEPS = 3
"""Steps of the short run timed for the estimate (fewer when the runs are shorter)."""
TIMING_ATTEMPTS = 3
"""Pending runs tried in turn for the timing run while none is complete."""


@dataclass(frozen=True)
class SweepPoint:
    """A run to plan: the scenario to load, its overrides (``key=value``) and seed, and the
    parameters recorded for it (None: the resolved values of the fields in ``keys``)."""

    source: str
    overrides: tuple[str, ...]
    seed: int
    keys: tuple[str, ...] = ()
    parameters: dict[str, Any] | None = None


@dataclass
class SweepRun:
    """One run of a sweep: a point of the parameter space and a seed, and where it is."""

    id: str
    parameters: dict[str, Any]
    seed: int
    identity: RunIdentity
    directory: Path
    scenario: Scenario
    status: str = "pending"
    error: str | None = None
    seconds: float | None = None

    @property
    def hash(self) -> str:
        """The run's identity hash (resolved scenario and code version)."""
        return self.identity.key

    def record(self) -> dict:
        """The run's entry in ``sweep.json``."""
        return {
            "id": self.id,
            "directory": f"{RUNS}/{self.id}",
            "parameters": self.parameters,
            "seed": self.seed,
            "hash": self.hash,
            "status": self.status,
            "error": self.error,
            "seconds": self.seconds,
        }


@dataclass
class SweepPlan:
    """A validated sweep: what it varies and every run, with what is already complete.

    ``duplicates`` counts parameter points that resolved to a run already
    planned (e.g. integer sample values that round alike); ``dropped`` lists the
    runs of an earlier sweep in the same directory that this one does not
    contain (their directories are kept; ``sweep.json`` describes this sweep);
    ``replaced`` is that earlier sweep's record, kept as ``sweep-<created>.json``
    when this sweep starts.
    """

    out: Path
    source: str
    scenario: str
    overrides: list[str]
    grid: dict[str, list[Any]]
    sample: dict | None
    seeds: int
    parameters: list[str]
    runs: list[SweepRun]
    created: str
    code_version: dict = field(default_factory=dict)
    duplicates: int = 0
    dropped: list[str] = field(default_factory=list)
    replaced: dict | None = None

    @property
    def pending(self) -> list[SweepRun]:
        """The runs still to do."""
        return [run for run in self.runs if run.status != "complete"]

    @property
    def complete(self) -> list[SweepRun]:
        """The runs whose complete results are in their directories."""
        return [run for run in self.runs if run.status == "complete"]

    def record(self) -> dict:
        """The contents of ``sweep.json``."""
        return {
            "kind": "sweep",
            "scenario": self.scenario,
            "source": self.source,
            "overrides": self.overrides,
            "grid": self.grid,
            "sample": self.sample,
            "seeds": self.seeds,
            "parameters": self.parameters,
            "code_version": self.code_version,
            "runs": [run.record() for run in self.runs],
            "created": self.created,
            "updated": _now(),
        }

    def write(self) -> None:
        """Write ``sweep.json`` atomically."""
        atomic_write_text(self.out / RECORD, json.dumps(self.record(), indent=2))


def plan_sweep(
    source: str,
    *,
    out: str | Path,
    grid: Sequence[str] = (),
    sample: str | None = None,
    ranges: Sequence[str] = (),
    seeds: int = 1,
    steps: int | None = None,
    overrides: Sequence[str] = (),
) -> SweepPlan:
    """The runs of a sweep of ``source``, checked before anything runs or is written.

    ``grid``: ``key=v1,v2,...`` specifications (values parsed like ``--set``);
    ``sample``: ``lhs:N`` with ``ranges`` ``key=lo:hi``, a Latin hypercube of N
    points seeded from the scenario's seed (integer fields are rounded). The runs
    are the cartesian product grid points x sample points x ``seeds`` seeds (the
    scenario's seed, +1, ...), at most ``MAX_RUNS`` of them (N at most
    ``MAX_SAMPLE_POINTS``). Raises :class:`ScenarioError` (one line) on bad input.
    """
    if seeds < 1:
        raise ScenarioError(f"--seeds must be >= 1, got {seeds}")
    fixed = [*overrides, *([f"steps={steps}"] if steps is not None else [])]
    base = load_scenario(source, fixed)
    grid_raw = _parse_grid(grid)
    ranges_parsed = _parse_ranges(ranges, sample)
    _check_keys([*grid_raw, *ranges_parsed], fixed)
    _check_size(grid_raw, sample, seeds)
    grid_values = {
        key: [value_at(load_scenario(source, [*fixed, f"{key}={text}"]), key) for text in texts]
        for key, texts in grid_raw.items()
    }
    sample_points, sample_spec = _sample(source, fixed, base, sample, ranges_parsed)
    points = [
        SweepPoint(
            str(source),
            (*fixed, *(f"{k}={v}" for k, v in [*grid_point, *sample_point])),
            base.seed + offset,
            keys=tuple(key for key, _ in [*grid_point, *sample_point]),
        )
        for grid_point in (
            list(zip(grid_raw, texts, strict=True))
            for texts in itertools.product(*grid_raw.values())
        )
        for sample_point in sample_points
        for offset in range(seeds)
    ]
    plan, _ = plan_points(
        points,
        out=out,
        source=str(source),
        scenario=base.name,
        overrides=fixed,
        grid=grid_values,
        sample=sample_spec,
        seeds=seeds,
        parameters=[*grid_raw, *ranges_parsed],
    )
    return plan


def plan_points(
    points: Sequence[SweepPoint],
    *,
    out: str | Path,
    source: str,
    scenario: str,
    overrides: Sequence[str],
    grid: dict[str, list[Any]],
    sample: dict | None,
    seeds: int,
    parameters: Sequence[str],
) -> tuple[SweepPlan, list[str]]:
    """The sweep of the runs of ``points``, and the id of each point's run (in order).

    Points that resolve to the same scenario share one run (``duplicates`` counts them).
    ``source``, ``scenario``, ``overrides``, ``grid``, ``sample`` and ``seeds`` describe
    the sweep in ``sweep.json``; every point records the ``parameters``. Nothing is written.
    """
    out = Path(out)
    previous = _previous_record(out)
    runs: dict[str, SweepRun] = {}
    ids = []
    duplicates = 0
    for point in points:
        run = _plan_run(point, out)
        if run.hash in runs:
            duplicates += 1
        else:
            runs[run.hash] = run
        ids.append(runs[run.hash].id)
    plan = SweepPlan(
        out=out,
        source=source,
        scenario=scenario,
        overrides=list(overrides),
        grid=grid,
        sample=sample,
        seeds=seeds,
        parameters=list(parameters),
        runs=list(runs.values()),
        created=_now(),
        code_version={
            "package": package_version(),
            "code": code_version(),
            "packages": package_versions(),
            "git_commit": git_commit(),
        },
        duplicates=duplicates,
    )
    if previous is not None:
        same = all(previous.get(k) == v for k, v in _specification(plan).items())
        plan.created = previous.get("created", plan.created) if same else plan.created
        plan.replaced = None if same else previous
        planned = {run.id for run in plan.runs}
        plan.dropped = [r["id"] for r in previous.get("runs", []) if r.get("id") not in planned]
    return plan, ids


def estimate_wall_time(
    plan: SweepPlan,
    slots: int,
    *,
    startup: float = 0.0,
    parallel: int | None = None,
) -> tuple[float | None, str]:
    """Seconds the sweep should take on ``slots`` workers, from the start of its backend, and
    what the estimate is based on.

    ``startup``: the seconds the backend took to start (measured: a local cluster with its
    workers' imports); ``parallel``: how many runs really go at once (default ``slots``; a
    local cluster has at most one per core). A run's time comes from the runs already
    complete (scaled by steps), else from timing one whole short run of the sweep in this
    process (set-up, steps, and writing its results), which adds its own seconds. The work is
    divided over ``min(parallel, runs)`` and is at least the longest run.
    """
    pending = plan.pending
    if not pending:
        return 0.0, "nothing to run"
    spent = 0.0
    timed = [(run.seconds, run.scenario.steps) for run in plan.complete if run.seconds]
    if timed:
        total = sum(run_seconds for run_seconds, _ in timed)
        per_step = total / sum(run_steps for _, run_steps in timed)
        seconds = [per_step * run.scenario.steps for run in pending]
        basis = f"the {len(timed)} runs already complete"
    else:
        timing = _time_short_run(pending[:TIMING_ATTEMPTS])
        if isinstance(timing, str):
            return None, f"no estimate: the timing run raised {timing}"
        setup, per_step, finish, measured, spent = timing
        seconds = [setup + per_step * run.scenario.steps + finish for run in pending]
        basis = (
            f"a whole {measured}-step run timed in this process, {spent:.1f} s, set-up and "
            "writing included; later steps can cost more"
        )
    at_once = max(1, min(parallel or slots, slots, len(seconds)))
    work = max(sum(seconds) / at_once, max(seconds))
    mean = sum(seconds) / len(seconds)
    count = len(seconds)
    note = (
        f"{count} run{'' if count == 1 else 's'} of ~{mean:.1f} s each, {at_once} at a time "
        f"(from {basis})"
    )
    if startup:
        note = f"start-up {startup:.1f} s (measured) + {note}"
    return startup + spent + work, note


def run_sweep(
    plan: SweepPlan,
    backend: Backend,
    *,
    progress: Callable[[SweepRun], None] | None = None,
    command: str = "",
) -> SweepPlan:
    """Run the plan's pending runs on ``backend``, updating ``sweep.json`` as each finishes.

    The sweep directory's writer lock is held throughout, so a second sweep into the same
    directory is refused at once (each run's directory has its own lock too). A run that
    raises is recorded as ``failed`` with its error and the others go on. ``sweep.json``
    is rewritten at most every ``RECORD_INTERVAL`` seconds while
    runs finish, and once at the end; if interrupted it is left consistent
    (unfinished runs ``pending``) and the interruption propagates.
    """
    with writer_lock(plan.out, "sweep directory"):
        return _run_sweep(plan, backend, progress, command)


def _run_sweep(
    plan: SweepPlan,
    backend: Backend,
    progress: Callable[[SweepRun], None] | None,
    command: str,
) -> SweepPlan:
    plan.out.mkdir(parents=True, exist_ok=True)
    if plan.replaced is not None:
        stamp = "".join(c for c in str(plan.replaced.get("created", "")) if c.isalnum())
        archive = plan.out / f"sweep-{stamp or 'earlier'}.json"
        atomic_write_text(archive, json.dumps(plan.replaced, indent=2))
    plan.write()
    written = time.monotonic()
    try:
        for run, outcome in backend.run(plan.pending, command):
            run.status, run.error, run.seconds = (
                outcome["status"],
                outcome["error"],
                outcome["seconds"],
            )
            if run.status == "complete" and not _visible(run):
                run.status = "failed"
                run.error = (
                    f"the worker finished, but {run.directory} holds no complete run here: "
                    "is OUT on a file system that the workers share?"
                )
            if time.monotonic() - written >= RECORD_INTERVAL:
                plan.write()
                written = time.monotonic()
            if progress is not None:
                progress(run)
    finally:
        _record_finished_on_disk(plan)
        plan.write()
    return plan


def _record_finished_on_disk(plan: SweepPlan) -> None:
    """Mark complete the pending runs whose directories already hold a complete run.

    A worker can finish a run just before an interruption stops the results arriving
    here; the run's own manifest and checksums are the truth, so the record says so.
    """
    for run in plan.pending:
        if run.status == "pending" and _visible(run):
            run.status = "complete"


def read_sweep(directory: str | Path) -> pd.DataFrame:
    """Every complete run of the sweep in ``directory`` as one tidy table.

    Columns: ``run``, ``seed``, one per swept parameter (in sweep order, typed as
    resolved), then ``step``, ``generation``, ``scope``, ``metric``, ``value``.
    """
    directory = Path(directory)
    record = _read_record(directory)
    if record is None:
        raise FileNotFoundError(f"{directory} holds no {RECORD}")
    parameters = list(record["parameters"])
    columns = ["run", "seed", *parameters, *SERIES_COLUMNS]
    frames = []
    for run in record["runs"]:
        if run["status"] != "complete":
            continue
        frame = read_timeseries(directory / run["directory"])[list(SERIES_COLUMNS)]
        constants = {"run": run["id"], "seed": run["seed"], **run["parameters"]}
        frames.append(frame.assign(**constants)[columns])
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in columns})
    return pd.concat(frames, ignore_index=True)


# --- planning ---------------------------------------------------------------------------


def _parse_grid(specs: Sequence[str]) -> dict[str, list[str]]:
    grid: dict[str, list[str]] = {}
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip()
        values = [value.strip() for value in text.split(",")]
        if not sep or not key or not all(values):
            raise ScenarioError(f"--grid {spec!r} must look like section.key=value1,value2,...")
        if key in grid:
            raise ScenarioError(f"--grid {key} is given twice; list all its values in one --grid")
        grid[key] = values
    return grid


def _parse_ranges(specs: Sequence[str], sample: str | None) -> dict[str, tuple[float, float]]:
    if sample is None:
        if specs:
            raise ScenarioError("--range needs --sample lhs:N (the number of sample points)")
        return {}
    method, _, count = sample.partition(":")
    if method not in SAMPLE_METHODS:
        allowed = ", ".join(f"{m}:N" for m in SAMPLE_METHODS)
        raise ScenarioError(f"--sample {sample!r}: unknown method {method!r}; allowed: {allowed}")
    shown = sample if len(sample) <= 40 else f"{sample[:37]}..."
    if not (count.isascii() and count.isdigit()) or not count.strip("0"):
        raise ScenarioError(f"--sample {shown!r}: N must be an integer >= 1, as in lhs:20")
    if len(count.lstrip("0")) > len(str(MAX_SAMPLE_POINTS)) or int(count) > MAX_SAMPLE_POINTS:
        raise ScenarioError(
            f"--sample {shown!r}: N must be at most {MAX_SAMPLE_POINTS} sample points"
        )
    if not specs:
        raise ScenarioError(f"--sample {sample} needs at least one --range key=lo:hi")
    ranges: dict[str, tuple[float, float]] = {}
    for spec in specs:
        key, sep, text = spec.partition("=")
        key = key.strip()
        lo_text, colon, hi_text = text.partition(":")
        try:
            lo, hi = float(lo_text), float(hi_text)
        except ValueError:
            lo = hi = math.nan
        if not (sep and key and colon) or not (math.isfinite(lo) and math.isfinite(hi)):
            raise ScenarioError(f"--range {spec!r} must look like section.key=low:high (numbers)")
        if not lo < hi:
            raise ScenarioError(f"--range {key}: low must be below high, got {lo_text}:{hi_text}")
        if key in ranges:
            raise ScenarioError(f"--range {key} is given twice")
        ranges[key] = (lo, hi)
    return ranges


def _check_size(grid: dict[str, list[str]], sample: str | None, seeds: int) -> None:
    """Refuse a sweep of more than ``MAX_RUNS`` runs before any is planned."""
    points = math.prod(len(values) for values in grid.values())
    samples = int(sample.partition(":")[2]) if sample is not None else 1
    total = points * samples * seeds
    if total > MAX_RUNS:
        shape = [f"{points} grid points"] if grid else []
        shape += [f"{samples} sample points"] if sample is not None else []
        raise ScenarioError(
            f"the sweep would be {total} runs ({' x '.join([*shape, f'{seeds} seed(s)'])}); "
            f"allowed: at most {MAX_RUNS} runs (fewer --grid values, a smaller --sample N or "
            "fewer --seeds)"
        )


def _check_keys(keys: list[str], fixed: Sequence[str]) -> None:
    fixed_keys = {override.partition("=")[0].strip() for override in fixed}
    seen: set[str] = set()
    for key in keys:
        if key == "seed":
            raise ScenarioError("seed cannot be swept with --grid or --range; use --seeds N")
        if key in fixed_keys:
            raise ScenarioError(f"{key} is both swept and fixed by --set/--steps; choose one")
        if key in seen:
            raise ScenarioError(f"{key} is in both --grid and --range; choose one")
        seen.add(key)


def _sample(
    source: str,
    fixed: list[str],
    base: Scenario,
    sample: str | None,
    ranges: dict[str, tuple[float, float]],
) -> tuple[list[list[tuple[str, str]]], dict | None]:
    """The sample points as override pairs (``[[]]`` without a sample) and their record."""
    if sample is None:
        return [[]], None
    from scipy.stats import qmc

    n = int(sample.partition(":")[2])
    kinds = {key: _numeric_kind(source, fixed, key, bounds) for key, bounds in ranges.items()}
    rng = Streams(base.seed).numpy("sweep-lhs")
    unit = qmc.LatinHypercube(d=len(ranges), rng=rng).random(n)
    lows = np.array([lo for lo, _ in ranges.values()])
    highs = np.array([hi for _, hi in ranges.values()])
    values = lows + unit * (highs - lows)
    points = []
    for row in values:
        point = []
        for (key, kind), value in zip(kinds.items(), row, strict=True):
            point.append((key, str(int(np.rint(value))) if kind is int else repr(float(value))))
        points.append(point)
    spec = {
        "method": "lhs",
        "n": n,
        "ranges": {
            key: [_number(lo, kinds[key]), _number(hi, kinds[key])]
            for key, (lo, hi) in ranges.items()
        },
        "seed": base.seed,
    }
    return points, spec


def _numeric_kind(source: str, fixed: list[str], key: str, bounds: tuple[float, float]) -> type:
    """``int`` or ``float``: the type of the field ``key`` (both bounds must be valid values)."""
    kinds = set()
    for bound in bounds:
        text = str(int(bound)) if float(bound).is_integer() else repr(bound)
        value = value_at(load_scenario(source, [*fixed, f"{key}={text}"]), key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ScenarioError(
                f"--range {key}: the field is not numeric (value {value!r}); use --grid"
            )
        kinds.add(type(value))
    return int if kinds == {int} else float


def _number(value: float, kind: type) -> int | float:
    return round(value) if kind is int else float(value)


def _plan_run(point: SweepPoint, out: Path) -> SweepRun:
    scenario = load_scenario(point.source, [*point.overrides, f"seed={point.seed}"])
    identity = run_identity(scenario)
    directory = out / RUNS / identity.name
    parameters = point.parameters
    if parameters is None:
        parameters = {key: value_at(scenario, key) for key in point.keys}
    run = SweepRun(
        id=identity.name,
        parameters=dict(parameters),
        seed=point.seed,
        identity=identity,
        directory=directory,
        scenario=scenario,
    )
    if run_state(directory, identity) == "complete":
        run.status, run.seconds = "complete", read_manifest(directory).get("wall_time_s")
    return run


def _visible(run: SweepRun) -> bool:
    """Whether this process sees the complete run that a worker reported."""
    try:
        return run_state(run.directory, run.identity) == "complete"
    except ScenarioError:
        return False


def _specification(plan: SweepPlan) -> dict:
    """What makes two sweeps the same sweep (compared with an earlier ``sweep.json``)."""
    keys = ("scenario", "source", "overrides", "grid", "sample", "seeds", "parameters")
    record = plan.record()
    return json.loads(json.dumps({key: record[key] for key in keys}))


def _previous_record(out: Path) -> dict | None:
    writer = live_writer(out)
    if writer is not None and not held_here(out):
        raise DirectoryBusy(
            f"sweep directory {out} is being written by {describe_writer(writer)}; wait for it "
            "to finish or choose another directory"
        )
    if (out / MANIFEST).exists():
        raise ScenarioError(f"--out {out} is a run directory; choose a directory for the sweep")
    return _read_record(out)


def _read_record(directory: Path) -> dict | None:
    """``sweep.json`` of ``directory``, validated (None when there is none)."""
    path = directory / RECORD
    if not path.exists():
        return None
    return read_record(path, SweepRecord, f"sweep {directory}").model_dump(mode="json")


def _time_short_run(runs: Sequence[SweepRun]) -> tuple[float, float, float, int, float] | str:
    """Set-up seconds (to step 0), seconds per step, seconds to write the results, steps timed
    and the seconds all that took, from a whole run of at most ``TIMING_STEPS`` steps of the first
    of ``runs`` that does not raise, into a temporary directory (else the last error, as
    one line)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    error = ""
    try:
        for run in runs:
            steps = min(TIMING_STEPS, run.scenario.steps)
            scenario = run.scenario.model_copy(update={"steps": steps})
            times: list[float] = []
            stamp = functools.partial(_stamp, times)
            started = time.perf_counter()
            try:
                with tempfile.TemporaryDirectory(prefix="ecosystem-timing-") as directory:
                    run_scenario(
                        scenario,
                        Path(directory) / "run",
                        progress=stamp,
                    )
                    ended = time.perf_counter()
            except Exception as exc:
                error = one_line(exc)
                continue
            if not times:
                return ended - started, 0.0, 0.0, 0, ended - started
            # the first report is the state at step 0, after the set-up
            per_step = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else 0.0
            setup = times[0] - started
            return setup, per_step, ended - times[-1], len(times) - 1, ended - started
    finally:
        torch.set_num_threads(threads)
    return error


def _stamp(times: list[float], step: int, rows: object) -> None:
    times.append(time.perf_counter())


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")

"""Comparing scenarios across seeds: end-of-run statistics, a table and figures.

Core objects: :func:`plan_runs` (turns sources, i.e. packaged scenario names,
TOML paths or existing run directories, into the runs a comparison needs,
reusing the complete runs of the same identity: resolved scenario and code
version, :mod:`ecosystem.runs.store`), :func:`run_comparison` (runs what is
missing on a backend of :mod:`ecosystem.runs.backends`, computes the statistics
and writes ``compare.csv``, ``.md``, ``.json``, ``.png`` and ``.html``),
:func:`end_of_run` and :func:`compare_metrics` (the statistics) and
:func:`compare` (all of it in one call). The first scenario is the reference.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pandas as pd

from ecosystem.experiments.figures import XAxis, series_figure_html, series_figure_png, x_axis
from ecosystem.experiments.intervals import (
    CONFIDENCE,
    DEFAULT_WINDOW,
    end_of_run,
    mean_interval,
    welch_p_value,
)
from ecosystem.measure import catalogue
from ecosystem.runs import backends
from ecosystem.runs.backends import Backend, InProcess
from ecosystem.runs.locks import DirectoryBusy, describe_writer, held_here, live_writer, writer_lock
from ecosystem.runs.results import (
    atomic_write_text,
    is_run_directory,
    read_manifest,
    read_status,
    read_timeseries,
    run_state,
    run_status,
)
from ecosystem.runs.store import (
    COMPARE_RECORD,
    RUNS,
    RunIdentity,
    code_version,
    run_identity,
)
from ecosystem.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "KEY_METRICS",
    "LAB_KEY_METRICS",
    "Comparison",
    "PlannedRun",
    "RunFailed",
    "ScenarioRuns",
    "assemble_comparison",
    "compare",
    "compare_metrics",
    "end_of_run",
    "format_number",
    "key_metrics",
    "plan_runs",
    "run_comparison",
    "series_label",
]

KEY_METRICS: tuple[tuple[str, str], ...] = catalogue.key_outcomes("ecosystem")
"""The compared ``(scope, metric)`` series of ecosystem runs, in table order: the catalogue's
key outcomes (:mod:`ecosystem.measure.catalogue`)."""

LAB_KEY_METRICS: tuple[tuple[str, str], ...] = catalogue.key_outcomes("lab")
"""The same for lab runs, whose scopes are ``model`` and ``training``."""

SIGNIFICANCE = 0.05
FILES = ("compare.csv", "compare.md", COMPARE_RECORD, "compare.png", "compare.html")

Action = Literal["run", "reuse", "read"]
RunProgress = Callable[["PlannedRun", int | None], None]
"""Called with ``(run, step)`` after each simulated step and ``(run, None)`` when a run is done."""


@dataclass(frozen=True)
class PlannedRun:
    """One seed of a compared scenario and where its results are.

    ``action``: ``run`` (simulate ``scenario`` into ``directory``), ``reuse``
    (the directory already holds this exact run, complete) or ``read`` (a run
    directory given as a source).
    """

    name: str
    seed: int | None
    directory: Path
    action: Action
    scenario: Scenario | None = None
    scenario_hash: str | None = None
    status: str | None = None
    identity: RunIdentity | None = None


class RunFailed(RuntimeError):
    """Raised by a comparison when some of its runs failed (the others are kept)."""


@dataclass(frozen=True)
class ScenarioRuns:
    """A compared scenario: its name, the arguments it came from and its runs (one per seed)."""

    name: str
    sources: tuple[str, ...]
    runs: tuple[PlannedRun, ...]
    axis: XAxis


@dataclass
class Comparison:
    """The outcome of a comparison: the data, the statistics and the files written."""

    scenarios: list[ScenarioRuns]
    frame: pd.DataFrame
    end: pd.DataFrame
    statistics: pd.DataFrame
    metrics: list[tuple[str, str]]
    window: int
    description: str
    out: Path
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        """Name of the reference (first) scenario."""
        return self.scenarios[0].name

    @property
    def axis(self) -> XAxis | dict[str, XAxis]:
        """The x axis of the figures: one per scenario when all share a kind, else steps."""
        return _figure_axis(self.scenarios)

    @property
    def incomplete(self) -> list[PlannedRun]:
        """Runs read although not complete (``--allow-incomplete``)."""
        return [
            run
            for group in self.scenarios
            for run in group.runs
            if run.action == "read" and run.status != "complete"
        ]

    @property
    def legend(self) -> str:
        """What the parenthesised differences and the ``*`` in the table mean."""
        return _legend(self.reference)

    def table(self) -> pd.DataFrame:
        """The table as text: one row per key series, one column per scenario (with its seed
        count); cells ``mean [low, high]`` and, against the reference, ``(±difference*)``."""
        names = [group.name for group in self.scenarios]
        seeds = self.statistics.groupby("scenario", sort=False)["n"].max()
        counts = [int(seeds.get(name, 0)) for name in names]
        headers = [
            f"{name} ({'reference, ' if i == 0 else ''}{n} seed{'' if n == 1 else 's'})"
            for i, (name, n) in enumerate(zip(names, counts, strict=True))
        ]
        cells = {
            (row["scenario"], row["scope"], row["metric"]): _cell(row)
            for row in self.statistics.to_dict("records")
        }
        return pd.DataFrame(
            [[cells[(name, scope, metric)] for name in names] for scope, metric in self.metrics],
            index=pd.Index([series_label(*key) for key in self.metrics], name="series"),
            columns=headers,
        )


def compare(
    sources: Sequence[str],
    *,
    out: str | Path,
    seeds: int = 3,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    window: int = DEFAULT_WINDOW,
    progress: RunProgress | None = None,
    command: str = "",
    backend: Backend | None = None,
) -> Comparison:
    """Plan, run (or reuse) and compare ``sources`` over ``seeds`` seeds; write the files.

    The missing runs go to ``backend`` (default: this process, one after another)."""
    planned = plan_runs(sources, out=out, seeds=seeds, steps=steps, overrides=overrides)
    return run_comparison(
        planned, out=out, window=window, progress=progress, command=command, backend=backend
    )


def plan_runs(
    sources: Sequence[str],
    *,
    out: str | Path,
    seeds: int = 3,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    allow_incomplete: bool = False,
) -> list[ScenarioRuns]:
    """The runs that comparing ``sources`` needs, checked before anything runs or is written.

    A scenario source (packaged name or .toml path, with ``steps`` and
    ``overrides`` applied) runs seeds ``seed + i`` for i < ``seeds`` into
    ``out/runs/<name>-s<seed>-<hash>/`` (the run store's name: resolved scenario and code
    version); a complete run there is reused, a run cut short is done again. Run
    directories (holding ``manifest.json`` or ``parts/``) of one scenario name are its
    seeds; one that is not complete (running, interrupted, failed, corrupt) is refused
    unless ``allow_incomplete``, and then flagged in the table and ``compare.json``.
    """
    if seeds < 1:
        raise ScenarioError(f"--seeds must be >= 1, got {seeds}")
    if not sources:
        raise ScenarioError("compare needs at least one scenario or run directory")
    writer = live_writer(out)
    if writer is not None and not held_here(out):
        raise DirectoryBusy(
            f"compare directory {out} is being written by {describe_writer(writer)}; wait for "
            "it to finish or choose another directory"
        )
    extra = [*overrides, *([f"steps={steps}"] if steps is not None else [])]
    scenarios: dict[str, ScenarioRuns] = {}
    for source in sources:
        path = Path(source)
        if is_run_directory(path):
            _add_run_directory(scenarios, source, path, allow_incomplete)
        elif path.is_dir():
            raise ScenarioError(
                f"{source}: a directory without results (no manifest.json or parts/)"
            )
        else:
            group = _scenario_runs(source, extra, seeds, Path(out))
            _check_new_name(scenarios, group.name, source)
            scenarios[group.name] = group
    return list(scenarios.values())


def run_comparison(
    scenarios: Sequence[ScenarioRuns],
    *,
    out: str | Path,
    window: int = DEFAULT_WINDOW,
    progress: RunProgress | None = None,
    command: str = "",
    backend: Backend | None = None,
) -> Comparison:
    """Run the planned runs that are missing, compare the end of run, write the five files.

    The output directory's writer lock is held throughout: a second comparison into the same
    directory is refused at once."""
    with writer_lock(out, "compare directory"):
        comparison = assemble_comparison(
            scenarios, out=out, window=window, progress=progress, command=command, backend=backend
        )
        _write_outputs(comparison)
    return comparison


def assemble_comparison(
    scenarios: Sequence[ScenarioRuns],
    *,
    out: str | Path,
    window: int = DEFAULT_WINDOW,
    progress: RunProgress | None = None,
    command: str = "",
    backend: Backend | None = None,
) -> Comparison:
    """Run the planned runs that are missing on ``backend`` (default: this process) and
    compare the end of run, writing no files (``out`` is where they would go).

    Raises :class:`RunFailed` when a run fails, after the other runs have finished."""
    if window < 1:
        raise ValueError(f"--window must be >= 1, got {window}")
    if not scenarios:
        raise ValueError("nothing to compare")
    out = Path(out)
    _run_missing(scenarios, backend or InProcess(), progress, command)
    frames = [
        read_timeseries(run.directory).assign(scenario=group.name)
        for group in scenarios
        for run in group.runs
    ]
    frame = pd.concat(frames, ignore_index=True)
    metrics = key_metrics(frame)
    if not metrics:
        wanted = ", ".join(f"{s}/{m}" for s, m in (*KEY_METRICS, *LAB_KEY_METRICS))
        raise ValueError(f"the runs hold none of the key series ({wanted})")
    end = end_of_run(frame, window)
    names = [group.name for group in scenarios]
    statistics = compare_metrics(end, names, metrics)
    comparison = Comparison(
        scenarios=list(scenarios),
        frame=frame,
        end=end,
        statistics=statistics,
        metrics=metrics,
        window=window,
        description=_window_text(end, window, scenarios),
        out=out,
    )
    return comparison


def key_metrics(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The key ``(scope, metric)`` series present in ``frame``: ecosystem ones, then lab ones."""
    present = set(zip(frame["scope"], frame["metric"], strict=True))
    return [key for key in catalogue.key_outcomes() if key in present]


def compare_metrics(
    end: pd.DataFrame, scenarios: Sequence[str], metrics: Sequence[tuple[str, str]]
) -> pd.DataFrame:
    """The tidy comparison table: per scenario and key series, ``n`` seeds, ``mean`` and 95%
    t-interval ``low, high``; against the reference (first) scenario the ``difference`` of
    means, Welch's ``p_value`` and ``significant`` (p < 0.05). The reference's own rows
    have NaN difference and p-value."""
    reference = scenarios[0]
    values = {
        key: group["value"].to_numpy()
        for key, group in end.groupby(["scenario", "scope", "metric"], sort=False)
    }
    empty = np.array([], dtype=np.float64)
    rows = []
    for name in scenarios:
        for scope, metric in metrics:
            mine = values.get((name, scope, metric), empty)
            theirs = values.get((reference, scope, metric), empty)
            interval = mean_interval(mine)
            if name == reference:
                difference = p_value = float("nan")
            else:
                difference = interval.mean - mean_interval(theirs).mean
                p_value = welch_p_value(mine, theirs)
            rows.append(
                {
                    "scenario": name,
                    "scope": scope,
                    "metric": metric,
                    "n": interval.n,
                    "mean": interval.mean,
                    "low": interval.low,
                    "high": interval.high,
                    "reference": reference,
                    "difference": difference,
                    "p_value": p_value,
                    "significant": bool(p_value < SIGNIFICANCE),
                }
            )
    return pd.DataFrame(rows)


def format_number(value: float) -> str:
    """A number for the table: 3 decimals below 10, fewer for larger values, '–' for NaN."""
    if value is None or math.isnan(value):
        return "–"
    size = abs(value)
    if size >= 1000:
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.1f}"
    if size >= 10:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _cell(row: dict) -> str:
    """``mean [low, high]``, then for a compared scenario ``(±difference)`` with ``*`` when
    significant."""
    if row["n"] == 0:
        return "–"
    text = (
        f"{format_number(row['mean'])} [{format_number(row['low'])}, {format_number(row['high'])}]"
    )
    difference = row["difference"]
    if difference is not None and not math.isnan(difference):
        sign = "+" if difference >= 0 else "−"
        star = "*" if row["significant"] else ""
        text += f" ({sign}{format_number(abs(difference))}{star})"
    return text


def series_label(scope: str, metric: str) -> str:
    """How a key series is named in tables: ``web precision``."""
    return f"{scope} {metric.replace('_', ' ')}"


def _scenario_runs(source: str, extra: list[str], seeds: int, out: Path) -> ScenarioRuns:
    base = load_scenario(source, extra)
    runs = []
    for offset in range(seeds):
        scenario = load_scenario(source, [*extra, f"seed={base.seed + offset}"])
        identity = run_identity(scenario)
        directory = out / RUNS / identity.name
        action: Action = "reuse" if run_state(directory, identity) == "complete" else "run"
        runs.append(
            PlannedRun(
                name=scenario.name,
                seed=scenario.seed,
                directory=directory,
                action=action,
                scenario=scenario,
                scenario_hash=identity.scenario_hash,
                status="complete" if action == "reuse" else None,
                identity=identity,
            )
        )
    return ScenarioRuns(base.name, (source,), tuple(runs), x_axis(base))


def _add_run_directory(
    scenarios: dict[str, ScenarioRuns], source: str, path: Path, allow_incomplete: bool
) -> None:
    """Add a run directory given as a source to its scenario's group (one seed each)."""
    try:
        state = run_status(path)
    except FileNotFoundError:
        state = None
    manifest = None if state is None else state.manifest
    if state is not None and not state.complete and not allow_incomplete:
        raise ScenarioError(state.refusal(path))
    if state is not None:
        assert manifest is not None
        name, seed = manifest["scenario"], manifest["seed"]
        run = PlannedRun(
            name, seed, path, "read", None, manifest.get("scenario_hash"), state.status
        )
    else:
        if not allow_incomplete:
            raise ScenarioError(
                f"run {path} has no manifest.json (a run cut short before its first step was "
                "recorded); pass --allow-incomplete to read its steps"
            )
        frame = read_timeseries(path)
        if frame.empty:
            raise ScenarioError(f"run directory {path} holds no completed step")
        name, seed = str(frame["scenario"].iloc[0]), int(frame["seed"].iloc[0])
        run = PlannedRun(name, seed, path, "read", status="no manifest")
    group = scenarios.get(name)
    if group is None:
        axis = x_axis(manifest) if manifest is not None else XAxis()
        scenarios[name] = ScenarioRuns(name, (source,), (run,), axis)
        return
    if any(r.action != "read" for r in group.runs):
        _check_new_name(scenarios, name, source)
    for other in group.runs:
        if other.directory.resolve() == path.resolve():
            return  # the same directory named twice
        if other.seed == seed:
            raise ScenarioError(
                f"run directories {other.directory} and {path} are both {name!r} seed {seed}; "
                "pass each seed once"
            )
        if manifest is not None and other.scenario_hash is not None:
            mine = _without_seed(manifest)
            theirs = _without_seed(read_manifest(other.directory))
            if mine != theirs:
                raise ScenarioError(
                    f"run directories {other.directory} and {path} are both {name!r} but differ "
                    "in more than the seed; compare them under different names"
                )
    scenarios[name] = ScenarioRuns(name, (*group.sources, source), (*group.runs, run), group.axis)


def _without_seed(manifest: dict) -> dict:
    resolved = dict(manifest.get("resolved_scenario", {}))
    resolved.pop("seed", None)
    return resolved


def _check_new_name(scenarios: dict[str, ScenarioRuns], name: str, source: str) -> None:
    if name in scenarios:
        earlier = ", ".join(scenarios[name].sources)
        raise ScenarioError(
            f"{source}: scenario {name!r} is already compared (from {earlier}); "
            "give each scenario once"
        )


def _run_missing(
    scenarios: Sequence[ScenarioRuns],
    backend: Backend,
    progress: RunProgress | None,
    command: str,
) -> None:
    """Run the planned ``run`` actions on ``backend``; the other runs only report progress."""
    runs = [run for group in scenarios for run in group.runs]
    pending = [run for run in runs if run.action == "run"]
    if progress is not None:
        for run in runs:
            if run.action != "run":
                progress(run, None)
    # a run to simulate is planned with its scenario and identity (never None), as a backend needs
    simulated = cast("list[backends.PlannedRun]", pending)
    failed = []
    for run, outcome in backend.run(simulated, command, progress):
        if outcome["status"] != "complete":
            failed.append(f"{run.directory}: {outcome['error']}")
        if progress is not None:
            progress(run, None)
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise RunFailed(f"{len(failed)} of {len(pending)} runs failed: {failed[0]}{more}")


def _window_text(end: pd.DataFrame, window: int, scenarios: Sequence[ScenarioRuns]) -> str:
    units = {group.axis.unit for group in scenarios}
    unit = units.pop() if len(units) == 1 else "steps"
    used = sorted(set(end["steps"])) if len(end) else [window]
    text = f"end of run = mean over the last {window} {unit} of each seed"
    if used != [window]:
        counts = f"{used[0]}" if len(used) == 1 else f"{used[0]}–{used[-1]}"
        text += f" (clipped to the run length: {counts} {unit})"
    return text


def _write_outputs(comparison: Comparison) -> None:
    out = comparison.out
    files = {name: out / name for name in FILES}
    statistics = comparison.statistics
    atomic_write_text(files["compare.csv"], statistics.to_csv(index=False))
    atomic_write_text(files["compare.md"], _markdown(comparison))
    atomic_write_text(files[COMPARE_RECORD], json.dumps(_record(comparison), indent=2))
    axis = comparison.axis
    title = (
        f"{' vs '.join(g.name for g in comparison.scenarios)}: mean across seeds "
        f"with {CONFIDENCE:.0%} t-interval"
    )
    panels = comparison.metrics
    series_figure_png(comparison.frame, panels, files["compare.png"], x=axis, title=title)
    series_figure_html(comparison.frame, panels, files["compare.html"], x=axis, title=title)
    comparison.files = files


def _manifest_field(directory: Path, key: str):
    try:
        return read_manifest(directory).get(key)
    except (OSError, ValueError):
        return None


def _figure_axis(scenarios: Sequence[ScenarioRuns]) -> XAxis | dict[str, XAxis]:
    """One axis per scenario when all share a kind (calendar months may start apart), else steps."""
    kinds = {(group.axis.label, group.axis.is_calendar) for group in scenarios}
    if len(kinds) > 1:
        return XAxis()
    return {group.name: group.axis for group in scenarios}


def _markdown(comparison: Comparison) -> str:
    table = comparison.table()
    names = [group.name for group in comparison.scenarios]
    description = comparison.description
    lines = [
        f"# Comparison: {' vs '.join(names)}",
        "",
        f"{description[0].upper()}{description[1:]}; each cell is the mean across seeds "
        f"with its {CONFIDENCE:.0%} t-interval.",
        "",
        "| series | " + " | ".join(table.columns) + " |",
        "|---|" + "---|" * len(table.columns),
    ]
    for label, row in table.iterrows():
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    lines += ["", comparison.legend, ""]
    return "\n".join(lines)


def _legend(reference: str) -> str:
    return (
        f"(±d): difference of means from the reference {reference}; *: significant, "
        f"Welch's t-test p < {SIGNIFICANCE} (no test with fewer than 2 seeds a side or when "
        "both sides are constant across seeds)."
    )


def _record(comparison: Comparison) -> dict:
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "sources": [source for group in comparison.scenarios for source in group.sources],
        "reference": comparison.reference,
        "seeds": {group.name: len(group.runs) for group in comparison.scenarios},
        "window": comparison.window,
        "description": comparison.description,
        "key_metrics": [list(key) for key in comparison.metrics],
        "files": list(FILES),
        "code_version": code_version(),
        "scenarios": [
            {
                "name": group.name,
                "sources": list(group.sources),
                "seeds": [run.seed for run in group.runs],
                "runs": [
                    {
                        "directory": str(run.directory),
                        "seed": run.seed,
                        "scenario_hash": run.scenario_hash,
                        "code_version": _manifest_field(run.directory, "code_version"),
                        "action": run.action,
                        "status": read_status(run.directory),
                    }
                    for run in group.runs
                ],
            }
            for group in comparison.scenarios
        ],
    }

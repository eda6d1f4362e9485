"""Reports: one self-contained HTML page on a run, a comparison or a sweep directory.

Core objects: :func:`write_report` (reads a results directory and writes the page
with its PNG figures), :func:`report_kind` (which kind of directory it is),
:func:`report_paths` (where the page and the figures go) and :class:`Report`
(what was written). The figures are embedded as base64 PNG data URIs and the CSS
is inline, so the page opens without a network and prints as it shows; the same
PNGs are also written to a folder next to it.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ecosystem.calendar import month_of_step
from ecosystem.experiments.compare import (
    DEFAULT_WINDOW,
    KEY_METRICS,
    LAB_KEY_METRICS,
    Comparison,
    assemble_comparison,
    end_of_run,
    format_number,
    key_metrics,
    plan_runs,
    series_label,
)
from ecosystem.experiments.figures import (
    PALETTE,
    XAxis,
    legend_columns,
    metric_unit,
    series_figure_png,
    x_axis,
)
from ecosystem.experiments.intervals import CONFIDENCE, interval_table
from ecosystem.experiments.sweep import read_sweep
from ecosystem.runs.results import (
    atomic_write_bytes,
    atomic_write_text,
    is_run_directory,
    read_manifest,
    read_timeseries,
)
from ecosystem.scenario import describe_fields

__all__ = ["Report", "report_kind", "report_paths", "write_report"]

Kind = Literal["run", "compare", "sweep"]
Series = tuple[str, str]
"""A key series: ``(scope, metric)``."""

MAX_SETTINGS = 8
"""At most this many parameter settings get a line each in a sweep's series figure."""
MAX_GROUPS = 6
"""At most this many combinations of the other parameters get a line each in an effect panel."""
COLUMNS = 3
BAND = f"mean across seeds with {CONFIDENCE:.0%} t-interval"
ALL_RUNS = "all runs"
"""The one setting of a sweep over seeds only."""
NO_INTERVAL = "An interval of – means a single seed (no interval)."


@dataclass
class Report:
    """A written report: the directory it describes, its kind, the page and the figure files."""

    source: Path
    kind: Kind
    page: Path
    figures: list[Path] = field(default_factory=list)


@dataclass
class _Section:
    anchor: str
    title: str
    blocks: list[str]


@dataclass
class _Content:
    title: str
    facts: list[tuple[str, str]]
    sections: list[_Section]
    figures: list[Path]


def report_kind(path: str | Path) -> Kind:
    """``sweep`` (sweep.json), ``compare`` (compare.json) or ``run`` (manifest.json or parts/);
    any other path is a one-line ``ValueError``."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path}: no such directory")
    if not path.is_dir():
        raise ValueError(f"{path}: not a directory; give a run, compare or sweep directory")
    if (path / "sweep.json").is_file():
        return "sweep"
    if (path / "compare.json").is_file():
        return "compare"
    if is_run_directory(path):
        return "run"
    raise ValueError(
        f"{path}: not a results directory (no manifest.json, compare.json or sweep.json)"
    )


def report_paths(path: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """The page and the figure folder: ``PATH/report.html`` and ``PATH/report/`` by default;
    ``out`` is the page itself when it ends in ``.html``, else the directory to hold it."""
    if out is None:
        page = Path(path) / "report.html"
    else:
        out = Path(out)
        page = out if out.suffix.lower() in (".html", ".htm") else out / "report.html"
    return page, page.with_suffix("")


def write_report(
    path: str | Path, out: str | Path | None = None, *, window: int | None = None
) -> Report:
    """Read the run, compare or sweep directory ``path`` and write its report.

    ``window``: end of run = the mean over this many last steps (default: the
    comparison's own window, else 12). Nothing is written when ``path`` is not a
    readable results directory.
    """
    if window is not None and window < 1:
        raise ValueError(f"--window must be >= 1, got {window}")
    path = Path(path)
    kind = report_kind(path)
    page, folder = report_paths(path, out)
    build = {"run": _run_content, "compare": _compare_content, "sweep": _sweep_content}[kind]
    content = build(path, folder, window)
    atomic_write_text(page, _page(content, path, kind))
    return Report(path, kind, page, content.figures)


# --- run directories ---------------------------------------------------------------------


def _run_content(path: Path, folder: Path, window: int | None) -> _Content:
    manifest = _manifest(path)
    frame = _series_of(path)
    metrics = _key_metrics(frame, path)
    window = window or DEFAULT_WINDOW
    name = manifest.get("scenario") or str(frame["scenario"].iloc[0])
    seed = manifest.get("seed", int(frame["seed"].iloc[0]))
    axis = x_axis(manifest) if manifest.get("resolved_scenario") else XAxis()
    end = end_of_run(frame, window)

    figure = series_figure_png(
        frame, metrics, folder / "series.png", x=axis, title=f"{name}, seed {seed}: key series"
    )
    last = frame[frame["step"] == frame["step"].max()]
    finals = last.groupby(["scope", "metric"])["value"].mean()
    ends = end.set_index(["scope", "metric"])["value"]
    table = pd.DataFrame(
        [
            {
                "series": series_label(scope, metric),
                "unit": metric_unit(metric),
                "end of run": format_number(ends.get((scope, metric), math.nan)),
                "final step": format_number(finals.get((scope, metric), math.nan)),
            }
            for scope, metric in metrics
        ]
    )
    window_text = _window_text(end, window, axis)
    status = manifest.get("status", "unknown (no manifest.json)")
    sections = [
        _Section(
            "series",
            "Key series",
            [
                _figure(
                    figure,
                    f"The key series of {name} seed {seed}, one panel per series.",
                    metrics,
                    [f"{name} seed {seed}"],
                )
            ],
        ),
        _Section(
            "end",
            "End of run",
            [
                _table(table.set_index(["series", "unit"]), index=True),
                _note(f"End of run: {window_text}. Final step: the value at {_step(axis, end)}."),
            ],
        ),
        _Section("provenance", "Provenance", _provenance({_run_label(name, seed): manifest})),
    ]
    facts = [
        ("directory", str(path)),
        ("scenario", name),
        ("seed", str(seed)),
        ("status", status),
        ("steps", _steps_text(manifest, frame)),
        ("wall time", f"{_seconds(manifest.get('wall_time_s')) or 'unknown'} s"),
        ("scenario hash", manifest.get("scenario_hash", "unknown")),
        ("end of run", window_text),
    ]
    return _Content(f"Run report: {name}, seed {seed}", facts, sections, [figure])


def _steps_text(manifest: Mapping, frame: pd.DataFrame) -> str:
    done, planned = manifest.get("steps_completed"), manifest.get("steps_planned")
    if done is None:
        return f"{frame['step'].nunique()} recorded"
    return f"{done} of {planned} completed"


def _step(axis: XAxis, end: pd.DataFrame) -> str:
    last = int(end["last_step"].max())
    if axis.is_calendar:
        return f"step {last} ({month_of_step(axis.start, last)})"
    return f"{axis.label} {last}"


# --- compare directories -----------------------------------------------------------------


def _compare_content(path: Path, folder: Path, window: int | None) -> _Content:
    record = _read_json(path / "compare.json")
    directories = _compare_run_directories(path, record)
    scenarios = plan_runs([str(directory) for directory in directories], out=path)
    window = window or int(record.get("window") or DEFAULT_WINDOW)
    comparison = assemble_comparison(scenarios, out=path, window=window)
    names = [group.name for group in comparison.scenarios]

    figure = series_figure_png(
        comparison.frame,
        comparison.metrics,
        folder / "series.png",
        x=comparison.axis,
        title=f"{' vs '.join(names)}: {BAND}",
    )
    manifests = {
        _run_label(group.name, run.seed): _manifest(run.directory)
        for group in comparison.scenarios
        for run in group.runs
    }
    seeds = ", ".join(f"{group.name} {len(group.runs)}" for group in comparison.scenarios)
    sections = [
        _Section(
            "series",
            "Key series",
            [
                _figure(
                    figure,
                    f"The key series of each scenario: the {BAND} (shaded) across its seeds.",
                    comparison.metrics,
                    names,
                )
            ],
        ),
        _Section(
            "end",
            "End of run",
            [
                _note(
                    f"{_capital(comparison.description)}. Each row: the mean of the per-seed "
                    f"values with its {CONFIDENCE:.0%} t-interval and the number of seeds n."
                ),
                _table(_comparison_table(comparison), index=True),
                _note(_comparison_legend(comparison)),
            ],
        ),
        _Section("runs", "Runs", [_table(_runs_table(comparison, path, manifests), text=True)]),
        _Section(
            "provenance",
            "Provenance",
            [
                _facts(
                    [
                        ("compared", record.get("created_at", "unknown")),
                        ("sources", " ".join(record.get("sources", []))),
                        ("reference", comparison.reference),
                        ("window in compare.json", str(record.get("window", "unknown"))),
                    ]
                ),
                *_provenance(manifests, compare_to_first=True),
            ],
        ),
    ]
    facts = [
        ("directory", str(path)),
        ("scenarios", ", ".join(names)),
        ("reference", comparison.reference),
        ("seeds", seeds),
        ("end of run", comparison.description.removeprefix("end of run = ")),
    ]
    return _Content(f"Comparison report: {' vs '.join(names)}", facts, sections, [figure])


def _compare_run_directories(path: Path, record: Mapping) -> list[Path]:
    """The run directories compare.json lists, found under ``path/runs`` when they moved."""
    found = []
    for group in record.get("scenarios", []):
        for run in group.get("runs", []):
            listed = Path(run["directory"])
            moved = path / "runs" / listed.name
            candidates = [listed, moved] if listed.is_absolute() else [moved, listed]
            here = next((c for c in candidates if is_run_directory(c)), None)
            if here is None:
                raise ValueError(
                    f"{path}: compare.json lists the run directory {listed}, which holds no results"
                )
            found.append(here)
    if not found:
        raise ValueError(f"{path}: compare.json lists no runs")
    return found


def _comparison_table(comparison: Comparison) -> pd.DataFrame:
    """One row per key series and scenario (series first, so each series reads as a block)."""
    rank = {key: i for i, key in enumerate(comparison.metrics)}
    statistics = comparison.statistics
    order = np.argsort(
        [rank[key] for key in zip(statistics["scope"], statistics["metric"], strict=True)],
        kind="stable",
    )
    rows = []
    for row in statistics.iloc[order].to_dict("records"):
        reference = row["scenario"] == comparison.reference
        cells = {
            "series": series_label(row["scope"], row["metric"]),
            "unit": metric_unit(row["metric"]),
            "scenario": row["scenario"] + (" (reference)" if reference else ""),
            "n": row["n"],
            "mean": format_number(row["mean"]),
            f"{CONFIDENCE:.0%} interval": _interval(row["low"], row["high"], row["n"]),
        }
        if len(comparison.scenarios) > 1:
            cells["difference"] = "" if reference else _signed(row["difference"])
            cells["Welch p"] = "" if reference else _p_text(row["p_value"])
        rows.append(cells)
    return pd.DataFrame(rows).set_index(["series", "unit", "scenario"])


def _comparison_legend(comparison: Comparison) -> str:
    if len(comparison.scenarios) == 1:
        return NO_INTERVAL
    return (
        f"Difference: the scenario's mean minus that of the reference {comparison.reference}. "
        "Welch p: two-sided Welch's t-test of the per-seed values against the reference; "
        "* p < 0.05; – no test (fewer than 2 seeds a side, or both sides constant across "
        f"seeds). {NO_INTERVAL}"
    )


def _runs_table(comparison: Comparison, path: Path, manifests: Mapping) -> pd.DataFrame:
    rows = []
    for group in comparison.scenarios:
        for run in group.runs:
            manifest = manifests[_run_label(group.name, run.seed)]
            rows.append(
                {
                    "scenario": group.name,
                    "seed": run.seed,
                    "status": manifest.get("status", ""),
                    "steps": manifest.get("steps_completed", ""),
                    "seconds": _seconds(manifest.get("wall_time_s")),
                    "scenario hash": manifest.get("scenario_hash", ""),
                    "directory": _relative(run.directory, path),
                }
            )
    return pd.DataFrame(rows)


# --- sweep directories -------------------------------------------------------------------


def _sweep_content(path: Path, folder: Path, window: int | None) -> _Content:
    record = _read_json(path / "sweep.json")
    parameters = list(record.get("parameters") or [])
    runs = list(record.get("runs") or [])
    complete = [run for run in runs if run.get("status") == "complete"]
    counts = pd.Series([run.get("status", "unknown") for run in runs]).value_counts()
    if not complete:
        tally = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no runs"
        raise ValueError(f"{path}: the sweep has no complete run ({tally})")
    sample = record.get("sample") or {}
    sampled = set((sample.get("ranges") or {}).keys())
    window = window or DEFAULT_WINDOW

    table = _sweep_runs(path, complete, parameters)
    frame = _sweep_series(path, table)
    metrics = _key_metrics(frame, path)
    manifests = {run: _manifest(directory) for run, directory in table["directory"].items()}
    first = next(iter(manifests.values()))
    axis = x_axis(first) if first.get("resolved_scenario") else XAxis()
    scenario = record.get("scenario") or first.get("scenario", "")
    swept = ", ".join(parameters) or "seeds only"

    # end_of_run and bands count one value per (scenario, seed): here the unit is the run
    per_run = frame.assign(scenario=frame["run"], seed=frame["run"])
    end = end_of_run(per_run, window).rename(columns={"scenario": "run"}).drop(columns="seed")
    window_text = _window_text(end, window, axis)
    # a swept parameter may be called like end_of_run's bookkeeping columns (steps)
    end = end.drop(columns=["first_step", "last_step", "steps"])
    end = end.join(table[[*parameters, "setting"]], on="run")

    groups, grouping = _series_groups(table, parameters, sampled)
    by_group = per_run.assign(group=per_run["run"].map(groups))
    figures = [
        series_figure_png(
            by_group,
            metrics,
            folder / "series.png",
            x=axis,
            title=f"{scenario} sweep over {swept}: mean across runs "
            f"with {CONFIDENCE:.0%} t-interval",
            by="group",
        )
    ]
    blocks = [_figure(figures[0], grouping, metrics, list(pd.unique(groups)))]

    effect_blocks = []
    for parameter in parameters:
        figure, caption, lines = _effect_figure(
            end,
            parameter,
            metrics,
            folder / f"effect-{_slug(parameter)}.png",
            parameters=parameters,
            sampled=sampled,
            order=list((record.get("grid") or {}).get(parameter, [])),
            window_text=window_text,
        )
        figures.append(figure)
        effect_blocks.append(_figure(figure, caption, metrics, lines))

    failed = [run for run in runs if run.get("status") == "failed"]
    run_blocks = [_table(_sweep_run_rows(runs, parameters), text=True)]
    if failed:
        run_blocks.insert(
            0,
            _note(f"{len(failed)} run{'s' if len(failed) > 1 else ''} failed:")
            + _table(_sweep_run_rows(failed, parameters, errors=True), text=True),
        )
    sections = [
        _Section("series", "Key series", blocks),
        _Section(
            "end",
            "End of run",
            [
                _note(
                    f"End of run: {window_text}. One row per parameter setting: the mean of "
                    f"the per-run values and below it their {CONFIDENCE:.0%} t-interval across "
                    f"the setting's n runs (seeds). {NO_INTERVAL}"
                ),
                _sweep_table(end, metrics, parameters),
            ],
        ),
        _Section("effects", "Effect of each swept parameter", effect_blocks),
        _Section("runs", "Runs", run_blocks),
        _Section(
            "provenance",
            "Provenance",
            [
                _facts(_sweep_facts(record)),
                *_provenance(manifests, varying=set(parameters)),
            ],
        ),
    ]
    sections = [section for section in sections if section.blocks]  # no effects without a grid
    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    facts = [
        ("directory", str(path)),
        ("scenario", scenario),
        ("parameters", _design_text(record)),
        ("seeds per setting", str(record.get("seeds", "unknown"))),
        ("runs", f"{len(runs)}: {tally}"),
        ("end of run", window_text),
    ]
    title = f"Sweep report: {scenario} over {swept}"
    return _Content(title, facts, sections, figures)


def _sweep_runs(path: Path, complete: Sequence[Mapping], parameters: Sequence[str]) -> pd.DataFrame:
    """One row per complete run, indexed by id: seed, parameter values, setting, directory."""
    rows = []
    for run in complete:
        values = run.get("parameters") or {}
        directory = Path(run.get("directory") or Path("runs") / run["id"])
        directory = directory if directory.is_absolute() else path / directory
        if not (directory / "timeseries.parquet").is_file():
            raise ValueError(
                f"{path}: sweep.json lists the complete run {directory}, which holds no "
                "timeseries.parquet"
            )
        rows.append(
            {
                "run": str(run["id"]),
                "seed": run.get("seed"),
                **{key: _scalar(values.get(key)) for key in parameters},
                "setting": _setting(values, parameters) or ALL_RUNS,
                "directory": directory,
            }
        )
    table = pd.DataFrame(rows).set_index("run")
    with contextlib.suppress(TypeError):  # a parameter whose values do not order (mixed types)
        table = table.sort_values([*parameters, "seed"], kind="stable")
    return table


def _sweep_series(path: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """The tidy series of the complete runs (:func:`read_sweep`), in the order of ``runs``."""
    frame = read_sweep(path)
    if frame.empty:
        raise ValueError(f"{path}: the complete runs hold no completed step")
    rank = frame["run"].map({run: i for i, run in enumerate(runs.index)})
    return frame.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)


def _series_groups(
    runs: pd.DataFrame, parameters: Sequence[str], sampled: set[str]
) -> tuple[pd.Series, str]:
    """Each run's line in the series figure, and a caption saying how the lines were chosen:
    one per setting when there are few, else one per value (or quartile) of the first parameter."""
    settings = pd.unique(runs["setting"])
    if len(settings) <= MAX_SETTINGS:
        return runs["setting"], (
            f"The key series of each parameter setting: the mean across its runs (seeds) with "
            f"the {CONFIDENCE:.0%} t-interval (shaded)."
        )
    first = parameters[0]
    values = runs[first]
    pooled = ", pooled over the other parameters" if len(parameters) > 1 else ""
    if _is_numeric(values) and (first in sampled or values.nunique() > MAX_SETTINGS):
        bins = pd.qcut(values.astype(float), 4, duplicates="drop")
        labels = bins.map(lambda b: f"{first} in ({b.left:.3g}, {b.right:.3g}]").astype(str)
        what = f"quartile of {first}"
    else:
        labels = values.map(lambda v: f"{first}={_value_text(v)}")
        what = f"value of {first}"
    return labels, (
        f"The key series by {what}{pooled}: the mean across the runs of each {what} with the "
        f"{CONFIDENCE:.0%} t-interval (shaded)."
    )


def _sweep_table(end: pd.DataFrame, metrics: Sequence[Series], parameters: list[str]) -> str:
    """One row per setting: its parameter values, n runs and each key series' mean with
    its interval below it."""
    wanted = set(metrics)
    keyed = end[[key in wanted for key in zip(end["scope"], end["metric"], strict=True)]]
    stats = interval_table(keyed, ["setting", "scope", "metric"])
    cells = {(row["setting"], row["scope"], row["metric"]): row for row in stats.to_dict("records")}
    seeds = end.groupby("setting")["run"].nunique()
    columns = [("n", "runs"), *((series_label(*key), metric_unit(key[1])) for key in metrics)]
    levels = parameters or ["setting"]
    index, rows = [], []
    for setting in end.drop_duplicates("setting").to_dict("records"):
        label = setting["setting"]
        index.append(tuple(_esc(_value_text(setting[key])) for key in levels))
        row = [int(seeds[label])]
        for scope, metric in metrics:
            row.append(_two_line_cell(cells.get((label, scope, metric))))
        rows.append(row)
    frame = pd.DataFrame(
        rows,
        index=pd.MultiIndex.from_tuples(index, names=[_esc(key) for key in levels]),
        columns=pd.MultiIndex.from_tuples([(_esc(a), _esc(b)) for a, b in columns]),
    )
    return frame.to_html(escape=False, border=0, na_rep="–")


def _two_line_cell(row: Mapping | None) -> str:
    """The mean, and below it the interval (none for a single run)."""
    if row is None or row["n"] == 0:
        return "–"
    if row["n"] < 2:
        return format_number(row["mean"])
    interval = _interval(row["low"], row["high"], row["n"])
    return f'{format_number(row["mean"])}<br><span class="interval">{interval}</span>'


def _sweep_run_rows(
    runs: Sequence[Mapping], parameters: Sequence[str], *, errors: bool = False
) -> pd.DataFrame:
    rows = []
    for run in runs:
        values = run.get("parameters") or {}
        row = {"run": run.get("id", ""), "seed": run.get("seed", "")}
        row.update({key: _value_text(values.get(key)) for key in parameters})
        row["status"] = run.get("status", "")
        if errors:
            row["error"] = run.get("error") or ""
        else:
            row["seconds"] = _seconds(run.get("seconds"))
            row["scenario hash"] = run.get("hash", "")
        rows.append(row)
    return pd.DataFrame(rows)


def _sweep_facts(record: Mapping) -> list[tuple[str, str]]:
    facts = [
        ("scenario", str(record.get("scenario", ""))),
        ("source", str(record.get("source", ""))),
        ("overrides", " ".join(record.get("overrides") or []) or "none"),
        ("design", _design_text(record)),
        ("seeds per setting", str(record.get("seeds", ""))),
        ("created", str(record.get("created", ""))),
        ("updated", str(record.get("updated", ""))),
    ]
    for key, value in (record.get("code_version") or {}).items():
        if isinstance(value, Mapping):
            value = "\n".join(f"{name}: {_json_text(item)}" for name, item in value.items())
        facts.append((f"code version: {key}", _json_text(value)))
    return facts


def _design_text(record: Mapping) -> str:
    parts = [
        f"{key} in {{{', '.join(_value_text(v) for v in values)}}}"
        for key, values in (record.get("grid") or {}).items()
    ]
    sample = record.get("sample")
    if sample:
        ranges = ", ".join(
            f"{key} in [{_value_text(lo)}, {_value_text(hi)}]"
            for key, (lo, hi) in (sample.get("ranges") or {}).items()
        )
        parts.append(
            f"{sample.get('n')} {str(sample.get('method', '')).upper()} points with {ranges} "
            f"(sampling seed {sample.get('seed')})"
        )
    return "; ".join(parts) or ", ".join(record.get("parameters") or [])


def _effect_figure(
    end: pd.DataFrame,
    parameter: str,
    metrics: Sequence[Series],
    path: Path,
    *,
    parameters: Sequence[str],
    sampled: set[str],
    order: list,
    window_text: str,
) -> tuple[Path, str, list[str]]:
    """One panel per key outcome: its end-of-run value against ``parameter``; returns the
    file, a caption and the legend's labels.

    Grid values show the mean across runs with its t-interval; sampled values each run and
    a least-squares line. One line per combination of the other grid parameters when there
    are few, else pooled over them; sampled parameters always vary within a line.
    """
    others = [key for key in parameters if key != parameter and key not in sampled]
    end = end.copy()
    end["group"] = [_setting(row, others) for row in end[list(others)].to_dict("records")]
    pooled = bool(others) and len(pd.unique(end["group"])) > MAX_GROUPS
    if pooled or not others:
        end["group"] = ""
    groups = list(pd.unique(end["group"]))
    scale = _Scale.of(end[parameter], sampled=parameter in sampled, order=order, lines=len(groups))

    cols = min(COLUMNS, len(metrics))
    rows = -(-len(metrics) // cols)
    figure = Figure(figsize=(4.6 * cols, 3.3 * rows + 1.1), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for ax, (scope, metric) in zip(axes, metrics, strict=False):
        panel = end[(end["scope"] == scope) & (end["metric"] == metric)].dropna(subset=["value"])
        for slot, group in enumerate(groups):
            rows_of = panel[panel["group"] == group]
            if rows_of.empty:
                continue
            if scale.scatter:
                prefix = f"{group}: " if group else ""
                _draw_runs(ax, rows_of, parameter, prefix, PALETTE[slot % len(PALETTE)])
            else:
                label = group or f"mean across runs with {CONFIDENCE:.0%} t-interval"
                _draw_means(ax, rows_of, parameter, scale, (slot, len(groups)), label)
        ax.set_title(f"{scope}: {metric.replace('_', ' ')}", fontsize=10)
        ax.set_xlabel(_parameter_label(parameter))
        ax.set_ylabel(metric_unit(metric))
        ax.grid(alpha=0.3)
        scale.ticks(ax)
    for ax in axes[len(metrics) :]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    if labels:
        columns = legend_columns(labels, figure.get_figwidth())
        figure.legend(handles, labels, loc="outside lower center", ncols=columns)
    kind = " (sampled)" if scale.scatter else ""
    figure.suptitle(f"Effect of {parameter}{kind} on the end-of-run key series", fontsize=11)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    atomic_write_bytes(path, buffer.getvalue())

    if scale.scatter:
        what = "Each point is one run's end-of-run value; the dashed line is the least-squares fit"
    else:
        what = (
            "Each point is the mean of the end-of-run values of the runs with that value, with "
            f"its {CONFIDENCE:.0%} t-interval"
        )
    if others and not pooled:
        what += f"; one colour per value of {', '.join(others)}"
    varying = [key for key in parameters if key != parameter and (key in sampled or pooled)]
    if varying:
        what += f"; {', '.join(varying)} vary within each {'fit' if scale.scatter else 'point'}"
    return path, f"{what}. End of run: {window_text}.", labels


@dataclass(frozen=True)
class _Scale:
    """Where a parameter's values go on the x axis of an effect panel."""

    numeric: bool
    scatter: bool
    log: bool
    values: tuple
    dodge: float

    @classmethod
    def of(cls, values: pd.Series, *, sampled: bool, order: list, lines: int) -> _Scale:
        if not _is_numeric(values):
            seen = [v for v in pd.unique(values) if v not in order]
            return cls(False, False, False, tuple(_value_text(v) for v in [*order, *seen]), 0.06)
        grid = np.unique(values.to_numpy(dtype=float))
        log = not sampled and grid[0] > 0 and grid[-1] / grid[0] >= 100
        span = float(np.log(grid[-1] / grid[0]) if log else grid[-1] - grid[0])
        dodge = 0.012 * (span or 1.0) if lines > 1 else 0.0
        return cls(True, sampled, bool(log), tuple(grid), dodge)

    def x(self, values: pd.Series, slot: int, lines: int) -> np.ndarray:
        """x of each value for the ``slot``-th of ``lines`` lines, moved aside a little so
        the intervals of different lines do not hide each other."""
        if self.numeric:
            x = values.to_numpy(dtype=float)
        else:
            x = np.array([self.values.index(_value_text(v)) for v in values], dtype=float)
        offset = self.dodge * (slot - (lines - 1) / 2)
        return x * np.exp(offset) if self.log else x + offset

    def ticks(self, ax) -> None:
        if not self.numeric:
            ax.set_xticks(range(len(self.values)), list(self.values))
            return
        if self.log:
            ax.set_xscale("log")
        if not self.scatter and len(self.values) <= 8:
            ax.set_xticks(self.values, [_value_text(v) for v in self.values])
        elif not self.log:
            ax.xaxis.set_major_locator(MaxNLocator(nbins=6))


def _draw_runs(ax, rows: pd.DataFrame, parameter: str, prefix: str, colour: str) -> None:
    """Each run's end-of-run value and the least-squares line through them."""
    x = rows[parameter].to_numpy(dtype=float)
    y = rows["value"].to_numpy()
    ax.scatter(x, y, s=16, alpha=0.8, color=colour, label=f"{prefix}one run")
    if len(np.unique(x)) >= 2:
        slope, intercept = np.polyfit(x, y, 1)
        line = np.array([x.min(), x.max()])
        label = f"{prefix}least-squares line"
        ax.plot(line, intercept + slope * line, "--", color=colour, linewidth=1.4, label=label)


def _draw_means(
    ax, rows: pd.DataFrame, parameter: str, scale: _Scale, slots: tuple[int, int], label: str
) -> None:
    """Per parameter value: the mean across its runs with the t-interval as an error bar;
    ``slots`` is (this line, number of lines)."""
    stats = interval_table(rows, [parameter])
    x = scale.x(stats[parameter], *slots)
    order = np.argsort(x, kind="stable")
    mean = stats["mean"].to_numpy()[order]
    low, high = stats["low"].to_numpy()[order], stats["high"].to_numpy()[order]
    ax.errorbar(
        x[order],
        mean,
        yerr=np.vstack([mean - low, high - mean]),
        marker="o",
        markersize=4,
        linewidth=1.4,
        capsize=3,
        label=label,
        color=PALETTE[slots[0] % len(PALETTE)],
    )


# --- shared pieces -----------------------------------------------------------------------


def _key_metrics(frame: pd.DataFrame, path: Path) -> list[Series]:
    metrics = key_metrics(frame)
    if not metrics:
        wanted = ", ".join(f"{s}/{m}" for s, m in (*KEY_METRICS, *LAB_KEY_METRICS))
        raise ValueError(f"{path}: the runs hold none of the key series ({wanted})")
    return metrics


def _series_of(path: Path) -> pd.DataFrame:
    try:
        frame = read_timeseries(path)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None
    if frame.empty:
        raise ValueError(f"{path}: the run holds no completed step")
    return frame


def _manifest(path: Path) -> dict:
    try:
        return read_manifest(path)
    except FileNotFoundError:
        return {}
    except ValueError:
        raise ValueError(f"{path}: manifest.json is not valid JSON") from None


def _read_json(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise ValueError(f"{path}: not valid JSON") from None
    if not isinstance(record, dict):
        raise ValueError(f"{path}: not a JSON object")
    return record


def _window_text(end: pd.DataFrame, window: int, axis: XAxis) -> str:
    used = sorted(set(end["steps"]))
    text = f"the mean over the last {window} {axis.unit} of each run"
    if used != [window]:
        counts = f"{used[0]}" if len(used) == 1 else f"{used[0]}–{used[-1]}"
        text += f" (clipped to the run length: {counts} {axis.unit})"
    return text


def _provenance(
    manifests: Mapping[str, Mapping],
    *,
    compare_to_first: bool = False,
    varying: set[str] = frozenset(),
) -> list[str]:
    """What produced the runs: commands, code versions, package versions, resolved scenarios."""
    blocks = [
        _facts(
            [
                ("command", _distinct(manifests, "command")),
                ("git commit", _distinct(manifests, "git_commit")),
                ("started", _span(manifests, "started_at")),
                ("finished", _span(manifests, "finished_at")),
            ],
            code=True,
        ),
        "<h3>Versions</h3>",
        _table(_versions_table(manifests), index=True, text=True),
    ]
    resolved = {label: m.get("resolved_scenario") for label, m in manifests.items()}
    resolved = {label: tree for label, tree in resolved.items() if tree}
    if not resolved:
        return blocks
    first_label, first = next(iter(resolved.items()))
    if compare_to_first:
        blocks.append(f"<h3>Resolved scenario of {_esc(first_label)}</h3>")
        blocks.append(f"<pre>{_esc(json.dumps(first, indent=2))}</pre>")
        flat_first = _flatten(first)
        seen_names = {first.get("name")}
        for label, tree in resolved.items():
            if tree.get("name") in seen_names:
                continue
            seen_names.add(tree.get("name"))
            flat = _flatten(tree)
            keys = [
                k
                for k in {**flat_first, **flat}
                if k != "seed" and flat.get(k) != flat_first.get(k)
            ]
            rows = [
                {
                    "field": key,
                    first_label: _json_text(flat_first.get(key)),
                    label: _json_text(flat.get(key)),
                }
                for key in keys
            ]
            blocks.append(f"<h3>Resolved scenario of {_esc(label)}: fields that differ</h3>")
            blocks.append(_table(pd.DataFrame(rows), text=True) if rows else _note("none"))
    else:
        flat_first = _flatten(first)
        differing = sorted(
            {
                key
                for tree in resolved.values()
                for key, value in _flatten(tree).items()
                if flat_first.get(key) != value
            }
            - {"seed"}
            - varying
        )
        note = "the seed and the swept parameters vary between runs"
        if differing:
            note += f"; so do {', '.join(differing)}"
        blocks.append(f"<h3>Resolved scenario of {_esc(first_label)}</h3>")
        blocks.append(_note(f"Every run resolves to this scenario except that {note}."))
        blocks.append(f"<pre>{_esc(json.dumps(first, indent=2))}</pre>")
    return blocks


def _versions_table(manifests: Mapping[str, Mapping]) -> pd.DataFrame:
    """Package versions: one column per distinct set, headed by the runs that used it."""
    sets: dict[str, list[str]] = {}
    versions: dict[str, dict] = {}
    for label, manifest in manifests.items():
        found = manifest.get("versions") or {}
        key = json.dumps(found, sort_keys=True)
        sets.setdefault(key, []).append(label)
        versions[key] = found
    columns = {}
    for key, labels in sets.items():
        header = "all runs" if len(sets) == 1 else ", ".join(labels)
        columns[header] = versions[key]
    table = pd.DataFrame(columns).fillna("–")
    table.index.name = "package"
    return table


def _distinct(manifests: Mapping[str, Mapping], key: str) -> str:
    values: dict[str, list[str]] = {}
    for label, manifest in manifests.items():
        values.setdefault(str(manifest.get(key) or "unknown"), []).append(label)
    if len(values) == 1:
        return next(iter(values))
    return "\n".join(f"{value}  ({', '.join(labels)})" for value, labels in values.items())


def _span(manifests: Mapping[str, Mapping], key: str) -> str:
    times = sorted(str(m[key]) for m in manifests.values() if m.get(key))
    if not times:
        return "unknown"
    return times[0] if times[0] == times[-1] else f"{times[0]} to {times[-1]}"


def _flatten(tree: Mapping, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _parameter_label(key: str) -> str:
    """A swept key with its unit from the scenario schema, e.g. ``web.death_rate (1/month)``."""
    parts = key.split(".")
    if parts[0] == "companies" and len(parts) > 2:
        parts[1] = "<name>"
    units = {doc.path: doc.unit for doc in describe_fields()}
    unit = units.get(".".join(parts))
    return f"{key} ({unit})" if unit else key


def _is_numeric(values: pd.Series) -> bool:
    return all(
        isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool | np.bool_)
        for v in values
    )


def _scalar(value):
    """A parameter value that can label and group rows (tables and lists become JSON text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def _value_text(value) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    if value is None:
        return "–"
    return str(value)


def _setting(values: Mapping, keys: Sequence[str]) -> str:
    return ", ".join(f"{key}={_value_text(values.get(key))}" for key in keys)


def _run_label(name: str, seed) -> str:
    return f"{name} seed {seed}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "parameter"


def _interval(low: float, high: float, n: int) -> str:
    return "–" if n < 2 else f"[{format_number(low)}, {format_number(high)}]"


def _signed(value: float) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{'+' if value >= 0 else '−'}{format_number(abs(value))}"


def _p_text(p_value: float) -> str:
    if p_value is None or math.isnan(p_value):
        return "–"
    text = f"{p_value:.3f}" if p_value >= 0.001 else f"{p_value:.1e}"
    return text + ("*" if p_value < 0.05 else "")


def _seconds(value) -> str:
    return "" if value is None else f"{float(value):.1f}"


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path)


def _json_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- HTML --------------------------------------------------------------------------------

CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1a1a1a;
  max-width: 1180px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.55em; margin-bottom: 0.3em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #bbb; padding-bottom: 0.2em; margin-top: 2em;
  break-after: avoid; }
h3 { font-size: 1.02em; margin: 1.4em 0 0.4em; break-after: avoid; }
nav ol { margin: 0.3em 0; padding-left: 1.4em; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0 1em;
  font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #c8c8c8; padding: 0.22em 0.5em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td { text-align: right; white-space: nowrap; }
table.text td { text-align: left; white-space: normal; }
table.facts td { text-align: left; white-space: pre-wrap; word-break: break-word; }
table.facts th { width: 12em; }
span.interval { color: #444; font-size: 0.92em; }
td code { word-break: break-word; white-space: pre-wrap; }
figure { margin: 1em 0 1.6em; break-inside: avoid; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
figcaption { font-size: 0.9em; color: #333; margin-top: 0.3em; }
p.note { font-size: 0.9em; color: #333; }
pre { background: #f6f6f6; border: 1px solid #e0e0e0; padding: 0.6em; font-size: 0.78em;
  white-space: pre-wrap; word-break: break-word; }
footer { margin-top: 3em; font-size: 0.8em; color: #555; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 10pt; }
  nav { display: none; }
  td { white-space: normal; }
}
"""


def _page(content: _Content, path: Path, kind: Kind) -> str:
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    facts = [*content.facts, ("report generated", generated)]
    contents = "".join(
        f'<li><a href="#{section.anchor}">{_esc(section.title)}</a></li>'
        for section in content.sections
    )
    body = "\n".join(
        f'<section id="{section.anchor}">\n<h2>{_esc(section.title)}</h2>\n'
        + "\n".join(section.blocks)
        + "\n</section>"
        for section in content.sections
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(content.title)}</title>
<style>{CSS}</style>
</head>
<body>
<h1>{_esc(content.title)}</h1>
{_facts(facts)}
<nav><strong>Contents</strong><ol>{contents}</ol></nav>
{body}
<footer>Written by <code>ecosystem report {_esc(str(path))}</code> from the {kind} directory
above; the figures are also saved as PNG files in the folder next to this page.</footer>
</body>
</html>
"""


def _figure(path: Path, caption: str, panels: Sequence[Series], lines: Sequence[str]) -> str:
    """The PNG embedded as a data URI, its alt text naming the panels and the lines drawn."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    titles = ", ".join(f"{scope}: {metric.replace('_', ' ')}" for scope, metric in panels)
    alt = f"Panels: {titles}. Lines: {', '.join(map(str, lines))}."
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(alt)}">'
        f"<figcaption>{_esc(caption)} (File: {_esc(path.parent.name)}/{_esc(path.name)}.)"
        "</figcaption></figure>"
    )


def _table(frame: pd.DataFrame, *, index: bool = False, text: bool = False) -> str:
    """A table: the index (row labels) left-aligned, the values right-aligned unless ``text``."""
    classes = ["text"] if text else []
    return frame.to_html(index=index, escape=True, border=0, classes=classes, na_rep="–")


def _facts(rows: Sequence[tuple[str, str]], *, code: bool = False) -> str:
    cells = "".join(
        f"<tr><th>{_esc(label)}</th><td>{_code(value) if code else _esc(value)}</td></tr>"
        for label, value in rows
    )
    return f'<table class="facts">{cells}</table>'


def _code(value: str) -> str:
    return f"<code>{_esc(value)}</code>"


def _note(text: str) -> str:
    return f'<p class="note">{_esc(text)}</p>'


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)

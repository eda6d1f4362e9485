"""The report on a sweep directory: the key series per setting, the end-of-run table, one
effect figure per swept parameter, the runs (failed ones with their errors) and provenance.

Core object: :func:`sweep_content` (the page content of a sweep report).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ecosystem.experiments.compare import DEFAULT_WINDOW, end_of_run, format_number, series_label
from ecosystem.experiments.figures import (
    XAxis,
    effect_figure_png,
    metric_unit,
    series_figure_png,
    x_axis,
)
from ecosystem.experiments.figures.effects import is_numeric, setting_text, value_text
from ecosystem.experiments.intervals import CONFIDENCE, interval_table
from ecosystem.experiments.report.html import (
    NO_INTERVAL,
    PageContent,
    PageSection,
    esc,
    facts_html,
    figure_html,
    interval_text,
    json_text,
    note_html,
    seconds_text,
    table_html,
    window_text,
)
from ecosystem.experiments.report.provenance import provenance_blocks
from ecosystem.experiments.report.reading import (
    Series,
    read_record,
    read_run_manifest,
    report_series,
)
from ecosystem.experiments.sweep import read_sweep
from ecosystem.runs.records import SweepRecord
from ecosystem.runs.store import SWEEP_RECORD, TIMESERIES

__all__ = ["sweep_content"]

MAX_SETTINGS = 8
"""At most this many parameter settings get a line each in a sweep's series figure."""
ALL_RUNS = "all runs"
"""The one setting of a sweep over seeds only."""


def sweep_content(
    path: Path, folder: Path, window: int | None, allow_incomplete: bool = False
) -> PageContent:
    """The report on the sweep directory ``path`` (its complete runs), figures written into
    ``folder``; a sweep without a complete run is an error."""
    record = read_record(path / SWEEP_RECORD, SweepRecord)
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
    metrics = report_series(frame, path)
    manifests = {run: read_run_manifest(directory) for run, directory in table["directory"].items()}
    first = next(iter(manifests.values()))
    axis = x_axis(first) if first.get("resolved_scenario") else XAxis()
    scenario = record.get("scenario") or first.get("scenario", "")
    swept = ", ".join(parameters) or "seeds only"

    # end_of_run and bands count one value per (scenario, seed): here the unit is the run
    per_run = frame.assign(scenario=frame["run"], seed=frame["run"])
    end = end_of_run(per_run, window).rename(columns={"scenario": "run"}).drop(columns="seed")
    window_used = window_text(end, window, axis)
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
    blocks = [figure_html(figures[0], grouping, metrics, list(pd.unique(groups)))]

    effect_blocks = []
    for parameter in parameters:
        figure, caption, lines = effect_figure_png(
            end,
            parameter,
            metrics,
            folder / f"effect-{_slug(parameter)}.png",
            parameters=parameters,
            sampled=sampled,
            order=list((record.get("grid") or {}).get(parameter, [])),
            window_text=window_used,
        )
        figures.append(figure)
        effect_blocks.append(figure_html(figure, caption, metrics, lines))

    failed = [run for run in runs if run.get("status") == "failed"]
    run_blocks = [table_html(_sweep_run_rows(runs, parameters), text=True)]
    if failed:
        run_blocks.insert(
            0,
            note_html(f"{len(failed)} run{'s' if len(failed) > 1 else ''} failed:")
            + table_html(_sweep_run_rows(failed, parameters, errors=True), text=True),
        )
    sections = [
        PageSection("series", "Key series", blocks),
        PageSection(
            "end",
            "End of run",
            [
                note_html(
                    f"End of run: {window_used}. One row per parameter setting: the mean of "
                    f"the per-run values and below it their {CONFIDENCE:.0%} t-interval across "
                    f"the setting's n runs (seeds). {NO_INTERVAL}"
                ),
                _sweep_table(end, metrics, parameters),
            ],
        ),
        PageSection("effects", "Effect of each swept parameter", effect_blocks),
        PageSection("runs", "Runs", run_blocks),
        PageSection(
            "provenance",
            "Provenance",
            [
                facts_html(_sweep_facts(record)),
                *provenance_blocks(manifests, varying=set(parameters)),
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
        ("end of run", window_used),
    ]
    title = f"Sweep report: {scenario} over {swept}"
    return PageContent(title, facts, sections, figures)


def _sweep_runs(path: Path, complete: Sequence[Mapping], parameters: Sequence[str]) -> pd.DataFrame:
    """One row per complete run, indexed by id: seed, parameter values, setting, directory."""
    rows = []
    for run in complete:
        values = run.get("parameters") or {}
        directory = Path(run.get("directory") or Path("runs") / run["id"])
        directory = directory if directory.is_absolute() else path / directory
        if not (directory / TIMESERIES).is_file():
            raise ValueError(
                f"{path}: sweep.json lists the complete run {directory}, which holds no "
                "timeseries.parquet"
            )
        rows.append(
            {
                "run": str(run["id"]),
                "seed": run.get("seed"),
                **{key: _scalar(values.get(key)) for key in parameters},
                "setting": setting_text(values, parameters) or ALL_RUNS,
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
    if is_numeric(values) and (first in sampled or values.nunique() > MAX_SETTINGS):
        bins = pd.qcut(values.astype(float), 4, duplicates="drop")
        labels = bins.map(lambda b: f"{first} in ({b.left:.3g}, {b.right:.3g}]").astype(str)
        what = f"quartile of {first}"
    else:
        labels = values.map(lambda v: f"{first}={value_text(v)}")
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
        index.append(tuple(esc(value_text(setting[key])) for key in levels))
        row: list[int | str] = [int(seeds[label])]
        for scope, metric in metrics:
            row.append(_two_line_cell(cells.get((label, scope, metric))))
        rows.append(row)
    frame = pd.DataFrame(
        rows,
        index=pd.MultiIndex.from_tuples(index, names=[esc(key) for key in levels]),
        columns=pd.MultiIndex.from_tuples([(esc(a), esc(b)) for a, b in columns]),
    )
    return frame.to_html(escape=False, border=0, na_rep="–")


def _two_line_cell(row: Mapping | None) -> str:
    """The mean, and below it the interval (none for a single run)."""
    if row is None or row["n"] == 0:
        return "–"
    if row["n"] < 2:
        return format_number(row["mean"])
    interval = interval_text(row["low"], row["high"], row["n"])
    return f'{format_number(row["mean"])}<br><span class="interval">{interval}</span>'


def _sweep_run_rows(
    runs: Sequence[Mapping], parameters: Sequence[str], *, errors: bool = False
) -> pd.DataFrame:
    rows = []
    for run in runs:
        values = run.get("parameters") or {}
        row = {"run": run.get("id", ""), "seed": run.get("seed", "")}
        row.update({key: value_text(values.get(key)) for key in parameters})
        row["status"] = run.get("status", "")
        if errors:
            row["error"] = run.get("error") or ""
        else:
            row["seconds"] = seconds_text(run.get("seconds"))
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
            value = "\n".join(f"{name}: {json_text(item)}" for name, item in value.items())
        facts.append((f"code version: {key}", json_text(value)))
    return facts


def _design_text(record: Mapping) -> str:
    parts = [
        f"{key} in {{{', '.join(value_text(v) for v in values)}}}"
        for key, values in (record.get("grid") or {}).items()
    ]
    sample = record.get("sample")
    if sample:
        ranges = ", ".join(
            f"{key} in [{value_text(lo)}, {value_text(hi)}]"
            for key, (lo, hi) in (sample.get("ranges") or {}).items()
        )
        parts.append(
            f"{sample.get('n')} {str(sample.get('method', '')).upper()} points with {ranges} "
            f"(sampling seed {sample.get('seed')})"
        )
    return "; ".join(parts) or ", ".join(record.get("parameters") or [])


def _scalar(value):
    """A parameter value that can label and group rows (tables and lists become JSON text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "parameter"

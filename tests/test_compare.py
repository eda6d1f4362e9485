"""Comparing scenarios across seeds: statistics, run reuse, sources, files and the CLI."""

import json
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import ecosystem.runs.backends as backends_module
from ecosystem.experiments.compare import (
    RunFailed,
    compare,
    compare_metrics,
    end_of_run,
    key_metrics,
    plan_runs,
)
from ecosystem.experiments.figures import XAxis, bands, x_axis
from ecosystem.experiments.intervals import mean_interval, welch_p_value
from ecosystem.interfaces.cli import main
from ecosystem.runs.backends import open_backend
from ecosystem.runs.results import read_manifest
from ecosystem.runs.store import MANIFEST, TIMESERIES
from ecosystem.scenario import ScenarioError, load_scenario

SMALL = [
    "culture.topics=6",
    "culture.dim=2",
    "culture.reference_size=200",
    "lab.n_real=200",
    "lab.n_synthetic=200",
    "model.name=gaussian",
    "metrics.samples=200",
]
SMALL_FLAGS = [flag for override in SMALL for flag in ("--set", override)]
LAB = ["mad-fully-synthetic", "mad-fresh-data"]


def _frame(values: dict[str, list[list[float]]], scope="web", metric="precision") -> pd.DataFrame:
    """A tidy frame: values[scenario][seed] is the series over steps 0, 1, ..."""
    rows = [
        (name, seed, step, 0, scope, metric, value)
        for name, seeds in values.items()
        for seed, series in enumerate(seeds)
        for step, value in enumerate(series)
    ]
    columns = ["scenario", "seed", "step", "generation", "scope", "metric", "value"]
    return pd.DataFrame(rows, columns=columns)


@pytest.fixture(scope="module")
def lab_comparison(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    return compare(LAB, out=out, seeds=2, steps=3, overrides=SMALL, window=2)


def test_mean_interval_is_the_t_interval():
    values = [0.70, 0.74, 0.79, 0.81]
    interval = mean_interval([*values, float("nan")])
    half = stats.t.ppf(0.975, 3) * np.std(values, ddof=1) / 2
    assert interval.n == 4
    assert interval.mean == pytest.approx(0.76)
    assert interval.low == pytest.approx(0.76 - half) and interval.high == pytest.approx(
        0.76 + half
    )
    assert half == pytest.approx(0.0785, abs=1e-3)
    assert mean_interval([0.5]) == (1, 0.5, 0.5, 0.5)
    assert mean_interval([]).n == 0 and math.isnan(mean_interval([]).mean)


def test_welch_p_value_and_its_undefined_cases():
    a, b = np.array([1.0, 1.2, 0.9, 1.1]), np.array([1.5, 1.9, 1.4])
    # Welch by hand: t and Welch-Satterthwaite degrees of freedom
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    assert welch_p_value(a, b) == pytest.approx(2 * stats.t.sf(abs(t), dof))
    assert welch_p_value(a, b) == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert math.isnan(welch_p_value([1.0], b))
    assert math.isnan(welch_p_value([0.3, 0.3], [0.5, 0.5]))
    assert 0 <= welch_p_value([0.3, 0.3, 0.3], b) < 0.05


def test_end_of_run_is_the_mean_of_the_last_steps_without_step_zero():
    frame = _frame({"a": [[9.0, 1.0, 2.0, 3.0, 4.0]]})
    last_two = end_of_run(frame, window=2)
    assert last_two["value"].tolist() == [3.5]
    assert (last_two["first_step"].item(), last_two["last_step"].item()) == (3, 4)
    clipped = end_of_run(frame, window=12)
    assert clipped["value"].item() == pytest.approx(2.5) and clipped["steps"].item() == 4
    with pytest.raises(ValueError, match="window"):
        end_of_run(frame, window=0)


def test_compare_metrics_on_known_values():
    # three seeds per scenario, constant over steps 1-3 (step 0 is ignored)
    reference = [0.80, 0.82, 0.84]
    better = [0.90, 0.92, 0.95]
    same = [0.79, 0.83, 0.84]
    frame = _frame(
        {
            name: [[0.0, v, v, v] for v in seeds]
            for name, seeds in (("ref", reference), ("better", better), ("same", same))
        }
    )
    table = compare_metrics(end_of_run(frame, 12), ["ref", "better", "same"], key_metrics(frame))
    assert list(table["scenario"]) == ["ref", "better", "same"]
    row = table.set_index("scenario").loc["better"]
    half = stats.t.ppf(0.975, 2) * np.std(better, ddof=1) / math.sqrt(3)
    assert row["n"] == 3 and row["mean"] == pytest.approx(np.mean(better))
    assert row["low"] == pytest.approx(np.mean(better) - half)
    assert row["high"] == pytest.approx(np.mean(better) + half)
    assert row["difference"] == pytest.approx(np.mean(better) - np.mean(reference))
    expected_p = stats.ttest_ind(better, reference, equal_var=False).pvalue
    assert row["p_value"] == pytest.approx(expected_p) and expected_p < 0.05
    assert bool(row["significant"])
    assert not table.set_index("scenario").loc["same", "significant"]
    ref = table.set_index("scenario").loc["ref"]
    assert math.isnan(ref["difference"]) and math.isnan(ref["p_value"]) and not ref["significant"]


def test_bands_per_step_across_seeds():
    frame = _frame({"a": [[1.0, 2.0], [3.0, 4.0]], "b": [[5.0, 6.0]]})
    table = bands(frame, "web", "precision")
    assert list(table.columns) == ["scenario", "step", "n", "mean", "low", "high"]
    a = table[table["scenario"] == "a"]
    assert a["mean"].tolist() == [2.0, 3.0] and a["n"].tolist() == [2, 2]
    half = stats.t.ppf(0.975, 1) * math.sqrt(2) / math.sqrt(2)
    assert a["high"].tolist() == pytest.approx([2.0 + half, 3.0 + half])
    b = table[table["scenario"] == "b"]
    assert (b["low"] == b["mean"]).all() and (b["high"] == b["mean"]).all()


def test_x_axis_maps_steps_to_calendar_months_or_generations():
    web = load_scenario("tests/data/tiny-web.toml", ["start=2023-11"])
    axis = x_axis(web)
    assert axis.label == "month" and axis.is_calendar
    months = axis.values([0, 1, 2, 3, 14]).astype(str).tolist()
    assert months == ["2023-10-01", "2023-11-01", "2023-12-01", "2024-01-01", "2024-12-01"]
    assert x_axis({"resolved_scenario": {"mode": "lab", "start": "2022-01"}}) == XAxis("generation")
    assert XAxis().values([1, 2]).tolist() == [1, 2]


def test_lab_comparison_uses_the_lab_scopes(lab_comparison):
    statistics = lab_comparison.statistics
    assert lab_comparison.metrics[0] == ("model", "precision")
    assert set(statistics["scope"]) == {"model", "training"}
    assert (statistics["n"] == 2).all()
    seeds = sorted(lab_comparison.end.groupby("scenario")["seed"].unique().map(list).sum())
    assert seeds == [0, 0, 1, 1]
    assert "last 2 generations" in lab_comparison.description
    # fully synthetic training data is all synthetic from generation 2: window {2, 3} gives 1.0
    share = statistics.set_index(["scenario", "metric"]).loc[
        ("mad-fully-synthetic", "synthetic_share")
    ]
    assert share["mean"] == pytest.approx(1.0) and share["low"] == share["high"]


def _directories(comparison, name: str) -> list:
    """The run directories of scenario ``name`` in a comparison, by seed."""
    (group,) = [group for group in comparison.scenarios if group.name == name]
    return [run.directory for run in group.runs]


def test_second_call_reuses_the_runs(lab_comparison, monkeypatch):
    out = lab_comparison.out
    parquet = _directories(lab_comparison, "mad-fresh-data")[1] / TIMESERIES
    assert parquet.parent.name.startswith("mad-fresh-data-s1-")
    before = parquet.stat().st_mtime_ns

    def no_run(*args, **kwargs):
        raise AssertionError("an existing run was simulated again")

    monkeypatch.setattr(backends_module, "run_scenario", no_run)
    again = compare(LAB, out=out, seeds=2, steps=3, overrides=SMALL, window=2)
    assert parquet.stat().st_mtime_ns == before
    assert {run.action for group in again.scenarios for run in group.runs} == {"reuse"}
    pd.testing.assert_frame_equal(again.statistics, lab_comparison.statistics)


def test_other_settings_are_other_runs_and_a_run_cut_short_is_done_again(lab_comparison, tmp_path):
    out = lab_comparison.out
    shorter = plan_runs(LAB, out=out, seeds=1, steps=2, overrides=SMALL)
    run = shorter[0].runs[0]
    assert run.action == "run" and run.directory not in _directories(lab_comparison, LAB[0])
    # a run cut short in its directory is run again, never reused
    source = _directories(lab_comparison, LAB[0])[0]
    partial = tmp_path / "runs" / source.name
    partial.mkdir(parents=True)
    manifest = read_manifest(source) | {"status": "interrupted"}
    (partial / MANIFEST).write_text(json.dumps(manifest))
    (partial / TIMESERIES).write_bytes((source / TIMESERIES).read_bytes())
    planned = plan_runs(LAB[:1], out=tmp_path, seeds=1, steps=3, overrides=SMALL)
    assert [run.action for run in planned[0].runs] == ["run"]
    again = compare(LAB[:1], out=tmp_path, seeds=1, steps=3, overrides=SMALL, window=2)
    assert read_manifest(partial)["status"] == "complete"
    expected = lab_comparison.end[lab_comparison.end["seed"] == 0]
    expected = expected[expected["scenario"] == LAB[0]].reset_index(drop=True)
    pd.testing.assert_frame_equal(again.end, expected)
    # a complete run of other settings under a run's name is an error, and is kept
    other = _directories(lab_comparison, LAB[1])[0]
    for name in (MANIFEST, TIMESERIES):
        (partial / name).write_bytes((other / name).read_bytes())
    with pytest.raises(ScenarioError, match="holds a complete run of other settings") as err:
        plan_runs(LAB[:1], out=tmp_path, seeds=1, steps=3, overrides=SMALL)
    assert "\n" not in str(err.value) and read_manifest(partial) == read_manifest(other)


def test_a_comparison_through_dask_gives_the_table_of_one_in_process(lab_comparison, tmp_path):
    with open_backend(workers=2, runs=4) as backend:
        assert backend.slots == 2 and "Dask" in backend.description
        result = compare(
            LAB, out=tmp_path, seeds=2, steps=3, overrides=SMALL, window=2, backend=backend
        )
    assert {run.action for group in result.scenarios for run in group.runs} == {"run"}
    pd.testing.assert_frame_equal(result.table(), lab_comparison.table())
    pd.testing.assert_frame_equal(result.statistics, lab_comparison.statistics, check_exact=True)


def test_a_failed_run_fails_the_comparison_after_the_others(tmp_path, capsys, failing_fit):
    broken = ["--set", failing_fit.override]
    argv = ["compare", "tests/data/tiny-web.toml", "--steps", "1", "--seeds", "2"]
    assert main([*argv, *broken, "--workers", "0", "--quiet", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: 2 of 2 runs failed: ") and err.count("\n") == 1
    assert failing_fit.error in err
    with pytest.raises(RunFailed):
        compare(
            ["tests/data/tiny-web.toml"],
            out=tmp_path,
            steps=1,
            seeds=1,
            overrides=[failing_fit.override],
        )


def test_run_directories_are_grouped_as_seeds(lab_comparison, tmp_path):
    sources = [str(directory) for name in LAB for directory in _directories(lab_comparison, name)]
    planned = plan_runs(sources, out=tmp_path)
    assert [(group.name, len(group.runs)) for group in planned] == [
        ("mad-fully-synthetic", 2),
        ("mad-fresh-data", 2),
    ]
    assert planned[0].axis == XAxis("generation")
    result = compare(sources, out=tmp_path, window=2)
    pd.testing.assert_frame_equal(result.statistics, lab_comparison.statistics)
    assert not (tmp_path / "runs").exists()
    copy = tmp_path / "copy"
    shutil.copytree(sources[0], copy)
    with pytest.raises(ScenarioError, match="both 'mad-fully-synthetic' seed 0"):
        plan_runs([sources[0], str(copy)], out=tmp_path)


def test_bad_sources_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(ScenarioError, match="did you mean 'mad-fully-synthetic'"):
        plan_runs(["mad-fuly-synthetic"], out=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ScenarioError, match="without results"):
        plan_runs([str(tmp_path / "empty")], out=tmp_path)
    with pytest.raises(ScenarioError, match="already compared"):
        plan_runs(["accumulate", "accumulate"], out=tmp_path)
    with pytest.raises(ScenarioError, match="--seeds"):
        plan_runs(["accumulate"], out=tmp_path, seeds=0)
    out = tmp_path / "cli"
    assert main(["compare", "accumulate", "mad-fuly-synthetic", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "mad-fuly-synthetic" in err
    assert main(["compare", "accumulate", "--set", "lab.bias=2", "--out", str(out)]) == 2
    assert "lab.bias" in capsys.readouterr().err
    assert main(["compare", "accumulate", "--window", "0", "--out", str(out)]) == 2
    assert "--window" in capsys.readouterr().err
    assert not out.exists()


def test_cli_writes_the_table_and_figures(tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", *LAB, "--seeds", "2", "--steps", "3", *SMALL_FLAGS, "--out", str(out)]
    assert main([*argv, "--quiet", "--workers", "0"]) == 0
    text = capsys.readouterr().out
    assert "model precision" in text and "mad-fresh-data" in text and "reference" in text
    assert "4 runs simulated" in text
    for name in ("compare.csv", "compare.md", "compare.json", "compare.png", "compare.html"):
        assert (out / name).stat().st_size > 0
    assert not list(out.glob(".*.tmp"))
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "compare.html").read_text()
    assert "mad-fully-synthetic" in html and "mad-fresh-data" in html
    assert "model: precision" in html and "training set: synthetic share" in html
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert "cdn.plot.ly/plotly" not in html
    csv = pd.read_csv(out / "compare.csv")
    assert {"scenario", "scope", "metric", "n", "mean", "low", "high", "p_value"} <= set(csv)
    markdown = (out / "compare.md").read_text()
    assert "mean over the last 12 generations" in markdown
    assert "| model precision | " in markdown and "Welch" in markdown
    record = json.loads((out / "compare.json").read_text())
    assert record["reference"] == "mad-fully-synthetic" and record["window"] == 12
    runs = record["scenarios"][1]["runs"]
    assert [run["seed"] for run in runs] == [0, 1]
    assert runs[0]["scenario_hash"] == read_manifest(runs[0]["directory"])["scenario_hash"]
    assert main([*argv, "--quiet"]) == 0
    assert "0 runs simulated, 4 reused" in capsys.readouterr().out


def test_ecosystem_comparison_has_web_and_creator_series_by_month(tmp_path):
    result = compare(["tests/data/tiny-web.toml"], out=tmp_path, seeds=2, steps=2, window=12)
    keys = set(result.metrics)
    assert {("web", "precision"), ("web", "synthetic_share"), ("creators", "active")} <= keys
    assert not keys & {("model", "precision")}
    assert (result.end["first_step"] == 1).all() and (result.end["last_step"] == 2).all()
    assert result.scenarios[0].axis == XAxis("month", "2022-01")
    assert "last 12 months" in result.description and "2 months" in result.description
    assert '"2021-12-01' in (tmp_path / "compare.html").read_text()

"""Reports on run, compare and sweep directories: figures, tables, provenance and the CLI."""

import base64
import contextlib
import errno
import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from ecosystem.experiments.compare import (
    compare,
    end_of_run,
    format_number,
    key_metrics,
    series_label,
)
from ecosystem.experiments.figures import series as series_figures
from ecosystem.experiments.intervals import mean_interval, welch_p_value
from ecosystem.experiments.report import report_kind, report_paths, write_report
from ecosystem.experiments.report import writer as report_writer
from ecosystem.experiments.sweep import plan_sweep, read_sweep, run_sweep, sweep_backend
from ecosystem.interfaces.cli import main
from ecosystem.runs import results
from ecosystem.runs.results import read_manifest, read_timeseries
from ecosystem.runs.runner import run_scenario
from ecosystem.scenario import load_scenario

SMALL = [
    "culture.topics=6",
    "culture.dim=2",
    "culture.reference_size=200",
    "lab.n_real=200",
    "lab.n_synthetic=200",
    "model.name=gaussian",
    "metrics.samples=200",
]
LAB = ["mad-fully-synthetic", "mad-fresh-data"]
FAILED_ERROR = "RuntimeError: the run was stopped by its worker"


class _Tables(HTMLParser):
    """The body rows of every table as lists of cell texts, row spans filled in."""

    def __init__(self):
        super().__init__()
        self.tables, self._spans, self._row, self._cell = [], {}, None, None
        self._in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
            self._spans = {}
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._fill_spans()
            self._cell = ([], int(dict(attrs).get("rowspan", 1)))

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text, rows = " ".join(self._cell[0]), self._cell[1]
            if rows > 1:
                self._spans[len(self._row)] = (text, rows - 1)
            self._row.append(text)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._fill_spans()
            self.tables[-1].append(self._row)
            self._row = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        if self._cell is not None and data.strip():
            self._cell[0].append(data.strip())

    def _fill_spans(self):
        while len(self._row) in self._spans:
            text, left = self._spans.pop(len(self._row))
            if left > 1:
                self._spans[len(self._row)] = (text, left - 1)
            self._row.append(text)


def _rows(html: str) -> list[list[str]]:
    parser = _Tables()
    parser.feed(html)
    return [row for table in parser.tables for row in table]


def _embedded_pngs(html: str) -> list[bytes]:
    return [base64.b64decode(data) for data in re.findall(r"data:image/png;base64,([^\"']+)", html)]


def _check_self_contained(report) -> str:
    """The page has no external references, its PNGs decode and are the files next to it."""
    html = report.page.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|iframe)\b", html)
    embedded = _embedded_pngs(html)
    assert len(embedded) == len(report.figures) >= 1
    for data in embedded:
        image = Image.open(io.BytesIO(data))
        image.load()
        assert image.format == "PNG" and image.width >= 600 and image.height >= 300
    assert sorted(embedded) == sorted(path.read_bytes() for path in report.figures)
    assert all(path.parent == report.page.with_suffix("") for path in report.figures)
    assert not list(report.page.parent.glob(".*.tmp"))
    return html


def _alts(html: str) -> list[str]:
    return re.findall(r'<img [^>]*alt="([^"]*)"', html)


@pytest.fixture(scope="module")
def lab_compare(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    compare(LAB, out=out, seeds=2, steps=3, overrides=SMALL, window=2)
    return out


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    """A 2 x 2 grid over 2 seeds whose last run failed."""
    out = tmp_path_factory.mktemp("grid")
    plan = plan_sweep(
        "mad-fresh-data",
        out=out,
        grid=["lab.bias=0.6,1.0", "lab.data=replace,accumulate"],
        seeds=2,
        steps=3,
        overrides=SMALL,
    )
    with sweep_backend(workers=0) as backend:
        run_sweep(plan, backend)
    record = json.loads((out / "sweep.json").read_text())
    record["runs"][-1].update(status="failed", error=FAILED_ERROR)
    (out / "sweep.json").write_text(json.dumps(record))
    return out


def test_report_kinds_and_paths(lab_compare, grid_sweep, tmp_path):
    assert report_kind(lab_compare) == "compare"
    assert report_kind(next((lab_compare / "runs").glob("mad-fresh-data-s0-*"))) == "run"
    assert report_kind(grid_sweep) == "sweep"
    assert report_paths(tmp_path) == (tmp_path / "report.html", tmp_path / "report")
    assert report_paths(tmp_path, tmp_path / "out") == (
        tmp_path / "out" / "report.html",
        tmp_path / "out" / "report",
    )
    assert report_paths(tmp_path, tmp_path / "a.html") == (tmp_path / "a.html", tmp_path / "a")


def test_run_report_has_the_key_series_by_month_and_the_manifest(tmp_path):
    scenario = load_scenario("tests/data/tiny-web.toml", ["steps=3"])
    run = tmp_path / "run"
    run_scenario(scenario, run, command="ecosystem run tests/data/tiny-web.toml --steps 3")
    report = write_report(run)
    assert report.kind == "run" and report.page == run / "report.html"
    assert report.figures == [run / "report" / "series.png"]
    html = _check_self_contained(report)
    frame = read_timeseries(run)
    metrics = key_metrics(frame)
    assert ("web", "precision") in metrics and ("creators", "active") in metrics
    (alt,) = _alts(html)
    assert all(f"{scope}: {metric.replace('_', ' ')}" in alt for scope, metric in metrics)
    end = end_of_run(frame, 12).set_index(["scope", "metric"])["value"]
    rows = {row[0]: row for row in _rows(html) if len(row) == 4}
    for scope, metric in metrics:
        assert rows[series_label(scope, metric)][2] == format_number(end[(scope, metric)])
    assert "clipped to the run length: 3 months" in html and "2022-03" in html
    manifest = read_manifest(run)
    for text in (manifest["scenario_hash"], manifest["command"], manifest["versions"]["numpy"]):
        assert text in html


def test_compare_report_table_matches_end_of_run(lab_compare):
    report = write_report(lab_compare)
    assert report.kind == "compare" and report.page == lab_compare / "report.html"
    html = _check_self_contained(report)
    (alt,) = _alts(html)
    assert "Lines: mad-fully-synthetic, mad-fresh-data." in alt
    for title in ("model: precision", "model: recall", "training: synthetic share"):
        assert title in alt
    runs = sorted((lab_compare / "runs").iterdir())
    frame = pd.concat([read_timeseries(run) for run in runs], ignore_index=True)
    end = end_of_run(frame, 2)
    rows = [row for row in _rows(html) if len(row) == 8]
    for scope, metric in key_metrics(frame):
        values = {
            name: end[
                (end["scenario"] == name) & (end["scope"] == scope) & (end["metric"] == metric)
            ]["value"].to_numpy()
            for name in LAB
        }
        interval = mean_interval(values["mad-fresh-data"])
        (row,) = [
            r for r in rows if r[0] == series_label(scope, metric) and r[2] == "mad-fresh-data"
        ]
        assert row[3:6] == [
            "2",
            format_number(interval.mean),
            f"[{format_number(interval.low)}, {format_number(interval.high)}]",
        ]
        difference = interval.mean - values["mad-fully-synthetic"].mean()
        assert row[6].lstrip("+−") == format_number(abs(difference))
        p_value = welch_p_value(values["mad-fresh-data"], values["mad-fully-synthetic"])
        if math.isnan(p_value):
            assert row[7] == "–"
        else:
            assert float(row[7].rstrip("*")) == pytest.approx(p_value, rel=0.01, abs=1e-3)
    assert "mad-fully-synthetic (reference)" in html and "Welch" in html
    for run in ("mad-fully-synthetic-s0-*", "mad-fresh-data-s1-*"):
        (directory,) = (lab_compare / "runs").glob(run)
        assert read_manifest(directory)["scenario_hash"] in html
    assert "fields that differ" in html and "lab.loop" in html


def test_sweep_report_figures_tables_and_failed_runs(grid_sweep):
    report = write_report(grid_sweep)
    assert report.kind == "sweep"
    assert [path.name for path in report.figures] == [
        "series.png",
        "effect-lab.bias.png",
        "effect-lab.data.png",
    ]
    html = _check_self_contained(report)
    series_alt, bias_alt, data_alt = _alts(html)
    for bias in ("0.6", "1"):
        for data in ("replace", "accumulate"):
            assert f"lab.bias={bias}, lab.data={data}" in series_alt
    assert "lab.data=replace" in bias_alt and "lab.bias=0.6" in data_alt
    for alt in (series_alt, bias_alt, data_alt):
        assert "model: precision" in alt and "training: synthetic share" in alt

    record = json.loads((grid_sweep / "sweep.json").read_text())
    failed = record["runs"][-1]
    assert FAILED_ERROR in html and failed["id"] in html
    frame = read_sweep(grid_sweep)
    assert failed["id"] not in set(frame["run"])
    per_run = frame.assign(scenario=frame["run"])
    end = end_of_run(per_run, 12).rename(columns={"scenario": "run"})
    settings = frame.drop_duplicates("run").set_index("run")[["lab.bias", "lab.data"]]
    end = end.join(settings, on="run")
    metrics = key_metrics(frame)
    rows = [row for row in _rows(html) if len(row) == 3 + len(metrics)]
    for (bias, data), group in end.groupby(["lab.bias", "lab.data"]):
        (row,) = [r for r in rows if r[:2] == [f"{bias:.4g}", data]]
        runs = group["run"].nunique()
        assert row[2] == str(runs)
        for k, (scope, metric) in enumerate(metrics):
            values = group[(group["scope"] == scope) & (group["metric"] == metric)]["value"]
            interval = mean_interval(values)
            expected = format_number(interval.mean)
            if runs > 1:
                expected += f" [{format_number(interval.low)}, {format_number(interval.high)}]"
            assert row[3 + k] == expected
    assert {r[2] for r in rows} == {"1", "2"}  # the failed run's setting has one seed left
    assert "lab.bias in {0.6, 1}; lab.data in {replace, accumulate}" in html
    assert "8: 7 complete, 1 failed" in html


def test_sampled_sweep_shows_each_run_and_a_trend(tmp_path):
    plan = plan_sweep(
        "mad-fresh-data",
        out=tmp_path / "lhs",
        sample="lhs:5",
        ranges=["lab.bias=0.5:1.0"],
        steps=3,
        overrides=SMALL,
    )
    with sweep_backend(workers=0) as backend:
        run_sweep(plan, backend)
    report = write_report(tmp_path / "lhs", tmp_path / "out")
    assert report.page == tmp_path / "out" / "report.html"
    html = _check_self_contained(report)
    _, effect_alt = _alts(html)
    assert "Lines: one run, least-squares line." in effect_alt
    assert "5 LHS points with lab.bias in [0.5, 1]" in html
    values = read_sweep(tmp_path / "lhs").drop_duplicates("run")["lab.bias"]
    for value in values:
        assert f"<th>{value:.4g}</th>" in html


def test_bad_paths_are_one_line_errors(lab_compare, tmp_path, capsys):
    def error(argv):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err
        return err

    assert "no such directory" in error(["report", str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    assert "not a results directory" in error(["report", str(tmp_path / "empty")])
    (tmp_path / "file.txt").write_text("x")
    assert "not a directory" in error(["report", str(tmp_path / "file.txt")])
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    runs = [
        {
            "id": "a",
            "directory": "runs/a",
            "parameters": {},
            "seed": 0,
            "hash": "h",
            "status": "pending",
        }
    ]
    record = {
        "kind": "sweep",
        "scenario": "tiny",
        "source": "tiny",
        "overrides": [],
        "grid": {},
        "sample": None,
        "seeds": 1,
        "parameters": [],
        "runs": runs,
        "created": "now",
    }
    (sweep / "sweep.json").write_text(json.dumps(record))
    assert "no complete run (1 pending)" in error(["report", str(sweep)])
    moved = tmp_path / "moved"
    moved.mkdir()
    record = json.loads((lab_compare / "compare.json").read_text())
    for group in record["scenarios"]:
        for run in group["runs"]:
            run["directory"] = f"elsewhere/{run['directory'].rsplit('/', 1)[-1]}"
    (moved / "compare.json").write_text(json.dumps(record))
    assert "holds no results" in error(["report", str(moved)])
    assert "--window" in error(["report", str(lab_compare), "--window", "0"])
    for directory in (tmp_path / "empty", sweep, moved):
        assert not (directory / "report.html").exists() and not (directory / "report").exists()
    # a moved compare directory finds its runs under its own runs/
    shutil.copytree(lab_compare / "runs", moved / "runs")
    assert write_report(moved).page.exists()


def test_cli_writes_the_report_where_asked(lab_compare, tmp_path, capsys):
    page = tmp_path / "reports" / "levers.html"
    assert main(["report", str(lab_compare), "--out", str(page)]) == 0
    out = capsys.readouterr().out
    assert "compare report" in out and str(page) in out
    assert page.exists() and (tmp_path / "reports" / "levers" / "series.png").exists()


def test_report_help_has_examples(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "--out FILE_OR_DIR" in text


def test_a_sweep_over_the_run_length_reports(tmp_path):
    plan = plan_sweep("mad-fresh-data", out=tmp_path / "s", grid=["steps=2,3"], overrides=SMALL)
    with sweep_backend(workers=0) as backend:
        run_sweep(plan, backend)
    report = write_report(tmp_path / "s")
    html = _check_self_contained(report)
    assert "<th>2</th>" in html and "<th>3</th>" in html


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A 2-step run of the tiny scenario."""
    run = tmp_path_factory.mktemp("tiny") / "run"
    run_scenario(load_scenario("tests/data/tiny-web.toml", ["steps=2"]), run)
    return run


def _hashes(directory) -> dict:
    return {
        path.relative_to(directory): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def full_disk(tmp_path):
    """A real 64 KiB tmpfs with no space left (needs the right to mount: else skipped)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip("cannot run mount here")
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {done.stderr.decode().strip()}")
    try:
        with contextlib.suppress(OSError), open(mount / "filler", "wb") as handle:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True, timeout=20)


def test_a_report_onto_a_full_disk_names_the_path_and_leaves_nothing(tiny_run, full_disk, capsys):
    before = _hashes(tiny_run)
    page = full_disk / "reports" / "tiny.html"
    assert main(["report", str(tiny_run), "--out", str(page)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"error: No space left on device: {full_disk / 'reports' / 'tiny'}")
    assert error.count("\n") == 1
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]
    existing = full_disk / "existing"
    existing.mkdir()
    assert main(["report", str(tiny_run), "--out", str(existing)]) == 2
    assert str(existing / "report") in capsys.readouterr().err
    assert list(existing.iterdir()) == []
    assert _hashes(tiny_run) == before


def test_a_report_that_cannot_be_written_removes_what_it_made(
    tiny_run, tmp_path, capsys, monkeypatch
):
    """The same without a real full disk: every file write fails with ENOSPC (no file name)."""

    def full(path, data):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(results, "atomic_write_bytes", full)
    monkeypatch.setattr(series_figures, "atomic_write_bytes", full)
    out = tmp_path / "out" / "reports"
    assert main(["report", str(tiny_run), "--out", str(out)]) == 2
    assert capsys.readouterr().err == f"error: No space left on device: {out / 'report'}\n"
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def page_full(path, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(report_writer, "atomic_write_text", page_full)
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "report").mkdir()
    (tmp_path / "kept" / "report" / "old.png").write_bytes(b"old")
    page = tmp_path / "kept" / "report.html"
    assert main(["report", str(tiny_run), "--out", str(page)]) == 2
    assert capsys.readouterr().err == f"error: No space left on device: {page}\n"
    assert [p.name for p in (tmp_path / "kept" / "report").iterdir()] == ["old.png"]

"""Sweeps: planning and sampling, Dask against in-process runs, resuming after a real signal,
failed runs, reading a sweep back and the command line."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ecosystem
from ecosystem import read_sweep
from ecosystem.experiments.sweep import (
    estimate_wall_time,
    plan_sweep,
    run_sweep,
    sweep_backend,
)
from ecosystem.interfaces.cli import main
from ecosystem.runs.backends import Backend
from ecosystem.runs.results import read_manifest, read_status
from ecosystem.runs.runner import run_scenario
from ecosystem.runs.store import code_version, run_identity
from ecosystem.scenario import ScenarioError, load_scenario

ENVIRONMENT = dict(os.environ)

TINY = str(Path(__file__).parent / "data" / "tiny-web.toml")
GRID = ["companies.alpha.bias=0.7,1.0", "web.initial_pages=400,600"]
GRID_FLAGS = ["--grid", GRID[0], "--grid", GRID[1]]
PARAMETERS = ["companies.alpha.bias", "web.initial_pages"]
SERIES = ["step", "generation", "scope", "metric", "value"]
FAILING = "companies.alpha.model.params.max_iter=1,30"
"""Under the ``failing_fit`` fixture, the mixture with max_iter=1 fails when it is first fitted,
at step 0."""


def _sweep_command(out, *extra):
    return ["sweep", TINY, *GRID_FLAGS, "--seeds", "2", "--out", str(out), "--quiet", *extra]


@pytest.fixture(scope="module")
def dask_sweep(tmp_path_factory):
    """The 2 x 2 grid x 2 seeds through the CLI on a local Dask cluster of 2 processes."""
    out = tmp_path_factory.mktemp("dask") / "sweep"
    assert main(_sweep_command(out, "--workers", "2")) == 0
    return out


@pytest.fixture(scope="module")
def serial_sweep(tmp_path_factory):
    """The same sweep run in this process, one run after another."""
    out = tmp_path_factory.mktemp("serial") / "sweep"
    plan = plan_sweep(TINY, out=out, grid=GRID, seeds=2)
    with sweep_backend(workers=0) as backend:
        run_sweep(plan, backend)
    return out


def _record(out) -> dict:
    return json.loads((Path(out) / "sweep.json").read_text())


@pytest.mark.slow
def test_a_dask_sweep_gives_the_numbers_of_the_same_runs_in_process(dask_sweep, serial_sweep):
    dask_table, serial_table = read_sweep(dask_sweep), read_sweep(serial_sweep)
    assert dask_table["run"].nunique() == 8
    pd.testing.assert_frame_equal(dask_table, serial_table, check_exact=True)


@pytest.mark.slow
def test_the_sweep_record_lists_the_sweep_and_every_run(dask_sweep):
    threads = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")
    # the local cluster's workers get one thread each; this process keeps its own setting
    assert [os.environ.get(name) for name in threads] == [ENVIRONMENT.get(n) for n in threads]
    record = _record(dask_sweep)
    assert record["kind"] == "sweep" and record["scenario"] == "tiny-web"
    assert record["source"] == TINY and record["overrides"] == []
    assert record["grid"] == {"companies.alpha.bias": [0.7, 1.0], "web.initial_pages": [400, 600]}
    assert record["sample"] is None and record["seeds"] == 2
    assert record["parameters"] == PARAMETERS
    assert record["code_version"]["package"] == ecosystem.__version__
    assert record["code_version"]["code"] == code_version()
    assert "torch" in record["code_version"]["packages"] and "git_commit" in record["code_version"]
    assert record["created"] <= record["updated"]
    runs = record["runs"]
    assert len(runs) == 8 and len({run["id"] for run in runs}) == 8
    for run in runs:
        assert run["status"] == "complete" and run["error"] is None and run["seconds"] > 0
        assert run["directory"] == f"runs/{run['id']}"
        assert isinstance(run["parameters"]["web.initial_pages"], int)
        assert isinstance(run["parameters"]["companies.alpha.bias"], float)
        overrides = [f"{key}={value}" for key, value in run["parameters"].items()]
        scenario = load_scenario(TINY, [*overrides, f"seed={run['seed']}"])
        assert run["hash"] == run_identity(scenario).key
        assert run["id"] == run_identity(scenario).name
        manifest = read_manifest(dask_sweep / run["directory"])
        assert manifest["status"] == "complete" and manifest["seed"] == run["seed"]
        assert manifest["code_version"] == code_version()
    points = {
        (r["parameters"]["companies.alpha.bias"], r["parameters"]["web.initial_pages"])
        for r in runs
    }
    assert points == {(0.7, 400), (0.7, 600), (1.0, 400), (1.0, 600)}
    assert sorted({run["seed"] for run in runs}) == [0, 1]


def test_read_sweep_is_one_tidy_table_with_a_column_per_parameter(serial_sweep):
    table = read_sweep(serial_sweep)
    assert list(table.columns) == ["run", "seed", *PARAMETERS, *SERIES]
    assert table["web.initial_pages"].dtype == np.int64
    assert table["companies.alpha.bias"].dtype == np.float64
    assert table["seed"].dtype == np.int64 and table["value"].dtype == np.float64
    record = {run["id"]: run for run in _record(serial_sweep)["runs"]}
    for run_id, rows in table.groupby("run"):
        run = record[run_id]
        assert (rows["seed"] == run["seed"]).all()
        for key in PARAMETERS:
            assert (rows[key] == run["parameters"][key]).all()
        series = pd.read_parquet(serial_sweep / run["directory"] / "timeseries.parquet")
        assert rows[SERIES].reset_index(drop=True).equals(series[SERIES])


@pytest.mark.slow
def test_a_real_signal_stops_a_sweep_and_running_it_again_finishes_it(tmp_path, dask_sweep, capsys):
    out = tmp_path / "sweep"
    command = [sys.executable, "-m", "ecosystem", *_sweep_command(out, "--workers", "2")]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        # a run's own manifest says complete before sweep.json (rewritten once a second) does
        if any(read_status(run) == "complete" for run in out.glob("runs/*")):
            break
        time.sleep(0.02)
    else:
        proc.kill()
        raise AssertionError(f"no run completed: {proc.communicate()}")
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stdout and "run the same command again" in stdout
    record = _record(out)
    statuses = [run["status"] for run in record["runs"]]
    assert set(statuses) <= {"complete", "pending"} and 1 <= statuses.count("complete") < 8
    capsys.readouterr()
    assert main(_sweep_command(out, "--workers", "0")) == 0
    printed = capsys.readouterr().out
    skipped = int(printed.split(" already complete")[0].rsplit(" ", 1)[1])
    assert skipped >= statuses.count("complete") and f"{8 - skipped} to run" in printed
    assert all(run["status"] == "complete" for run in _record(out)["runs"])
    pd.testing.assert_frame_equal(read_sweep(out), read_sweep(dask_sweep), check_exact=True)


class _FinishesOneThenInterrupted(Backend):
    """Completes the first run on disk, then is interrupted before it reports it."""

    def run(self, runs, command="", progress=None):
        run_scenario(runs[0].scenario, runs[0].directory)
        raise KeyboardInterrupt
        yield  # a generator, as backends are


def test_a_run_finished_on_disk_when_a_sweep_is_interrupted_is_recorded_complete(tmp_path):
    plan = plan_sweep(TINY, out=tmp_path / "sweep", grid=GRID, seeds=2)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(plan, _FinishesOneThenInterrupted())
    statuses = [run["status"] for run in _record(tmp_path / "sweep")["runs"]]
    assert statuses == ["complete"] + ["pending"] * 7


def test_a_run_cut_short_is_cleared_and_run_again(tmp_path, serial_sweep):
    out = tmp_path / "sweep"
    shutil.copytree(serial_sweep, out)
    cut = out / _record(out)["runs"][3]["directory"]
    manifest = read_manifest(cut)
    (cut / "manifest.json").write_text(json.dumps({**manifest, "status": "running"}))
    (cut / "timeseries.parquet").unlink()
    (cut / "parts").mkdir()
    (cut / "parts" / "step-000000.parquet").write_bytes(b"half a file")
    plan = plan_sweep(TINY, out=out, grid=GRID, seeds=2)
    assert [run.directory for run in plan.pending] == [cut]
    with sweep_backend(workers=0) as backend:
        run_sweep(plan, backend)
    assert not (cut / "parts").exists() and read_manifest(cut)["status"] == "complete"
    pd.testing.assert_frame_equal(read_sweep(out), read_sweep(serial_sweep), check_exact=True)


def test_a_failing_run_is_recorded_and_the_others_complete(
    tmp_path, capsys, monkeypatch, failing_fit
):
    monkeypatch.setenv("COLUMNS", "240")
    out = tmp_path / "sweep"
    argv = ["sweep", TINY, "--grid", FAILING, "--steps", "2", "--out", str(out), "--workers", "0"]
    assert main(argv) == 1
    printed = capsys.readouterr().out
    runs = {
        run["parameters"]["companies.alpha.model.params.max_iter"]: run
        for run in _record(out)["runs"]
    }
    failed, complete = runs[1], runs[30]
    assert failed["status"] == "failed"
    assert failed["error"] == f"ValueError: {failing_fit.error}"
    assert complete["status"] == "complete" and complete["error"] is None
    assert read_manifest(out / failed["directory"])["status"] == "failed"
    assert "1 of 2 runs complete" in printed and "1 failed" in printed
    assert "failed runs" in printed and failed["id"] in printed and failed["error"] in printed
    assert list(read_sweep(out)["run"].unique()) == [complete["id"]]


@pytest.mark.slow
def test_runs_go_to_an_existing_dask_scheduler(tmp_path, serial_sweep):
    from distributed import LocalCluster

    out = tmp_path / "sweep"
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        argv = ["sweep", TINY, "--grid", "companies.alpha.bias=0.7,1.0", "--out", str(out)]
        assert main([*argv, "--address", cluster.scheduler_address, "--quiet"]) == 0
    table = read_sweep(out)
    # the scenario's own web.initial_pages is 600: these are runs of the serial sweep
    serial = read_sweep(serial_sweep)
    same = serial[(serial["seed"] == 0) & (serial["web.initial_pages"] == 600)]
    assert set(table["run"]) == set(same["run"])
    pd.testing.assert_frame_equal(
        table.drop(columns="companies.alpha.bias").reset_index(drop=True),
        same.drop(columns=PARAMETERS).reset_index(drop=True),
        check_exact=True,
    )


def test_a_changed_grid_reuses_the_runs_it_shares_and_writes_nothing_when_planned(serial_sweep):
    before = (serial_sweep / "sweep.json").read_bytes()
    wider = ["companies.alpha.bias=0.7,0.85,1.0", GRID[1]]
    plan = plan_sweep(TINY, out=serial_sweep, grid=wider, seeds=2)
    assert len(plan.runs) == 12 and len(plan.complete) == 8 and plan.dropped == []
    narrower = plan_sweep(TINY, out=serial_sweep, grid=["companies.alpha.bias=1.0"], seeds=1)
    assert [run.status for run in narrower.runs] == ["complete"]  # initial_pages 600 is the default
    assert len(narrower.dropped) == 7
    assert (serial_sweep / "sweep.json").read_bytes() == before


def test_a_latin_hypercube_sample_is_stratified_typed_and_seeded(tmp_path):
    ranges = ["web.initial_pages=300:700", "companies.alpha.bias=0.5:1.0"]
    plan = plan_sweep(TINY, out=tmp_path / "s", sample="lhs:5", ranges=ranges)
    assert plan.parameters == ["web.initial_pages", "companies.alpha.bias"]
    assert plan.sample == {
        "method": "lhs",
        "n": 5,
        "ranges": {"web.initial_pages": [300, 700], "companies.alpha.bias": [0.5, 1.0]},
        "seed": 0,
    }
    pages = [run.parameters["web.initial_pages"] for run in plan.runs]
    bias = np.array([run.parameters["companies.alpha.bias"] for run in plan.runs])
    assert all(isinstance(p, int) and 300 <= p <= 700 for p in pages)
    assert sorted(np.floor((bias - 0.5) / 0.5 * 5).astype(int)) == [0, 1, 2, 3, 4]
    assert [run.scenario.web.initial_pages for run in plan.runs] == pages
    again = plan_sweep(TINY, out=tmp_path / "s", sample="lhs:5", ranges=ranges)
    assert [run.parameters for run in again.runs] == [run.parameters for run in plan.runs]
    other = plan_sweep(
        TINY, out=tmp_path / "s", sample="lhs:5", ranges=ranges, overrides=["seed=3"]
    )
    assert other.sample["seed"] == 3 and [r.seed for r in other.runs] == [3] * 5
    assert [run.parameters for run in other.runs] != [run.parameters for run in plan.runs]
    both = plan_sweep(
        TINY, out=tmp_path / "s", grid=["web.homophily=0.2,0.8"], sample="lhs:5", ranges=ranges
    )
    assert len(both.runs) == 10 and both.parameters[0] == "web.homophily"
    for homophily in (0.2, 0.8):
        points = [
            {k: v for k, v in run.parameters.items() if k != "web.homophily"}
            for run in both.runs
            if run.parameters["web.homophily"] == homophily
        ]
        assert points == [run.parameters for run in plan.runs]


def test_integer_samples_that_round_alike_are_one_run(tmp_path):
    plan = plan_sweep(
        TINY, out=tmp_path / "s", sample="lhs:6", ranges=["creators.patience=1:2"], steps=1
    )
    assert sorted(run.parameters["creators.patience"] for run in plan.runs) == [1, 2]
    assert plan.duplicates == 4


def test_the_wall_time_estimate_says_where_it_comes_from(serial_sweep, tmp_path, failing_fit):
    resumed = plan_sweep(TINY, out=serial_sweep, grid=GRID, seeds=3)
    seconds, note = estimate_wall_time(resumed, 2)
    assert seconds > 0 and note.startswith("4 runs of ~")
    assert note.endswith("(from the 8 runs already complete)")
    fresh = plan_sweep(TINY, out=tmp_path / "s", grid=GRID, seeds=1)
    seconds, note = estimate_wall_time(fresh, 2, startup=1.5)
    assert seconds > 1.5 and note.startswith("start-up 1.5 s (measured) + 4 runs of ~")
    assert "2 at a time (from a whole 3-step run timed in this process" in note
    assert not (tmp_path / "s").exists()
    failing = plan_sweep(TINY, out=tmp_path / "s", grid=[failing_fit.override])
    assert estimate_wall_time(failing, 1) == (
        None,
        f"no estimate: the timing run raised ValueError: {failing_fit.error}",
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--grid", "web.initial_pagez=1,2"], "unknown key 'web.initial_pagez'; did you mean"),
        (["--grid", "web.initial_pages=400,-5"], "web.initial_pages: Input should be greater"),
        (["--grid", "web.initial_pages"], "--grid 'web.initial_pages' must look like"),
        (["--grid", "web.initial_pages=400,"], "must look like section.key=value1,value2"),
        (["--grid", "seed=1,2"], "use --seeds N"),
        (["--grid", "web.homophily=0.1", "--set", "web.homophily=0.2"], "both swept and fixed"),
        (["--sample", "lhs:4"], "needs at least one --range"),
        (["--range", "web.homophily=0:1"], "--range needs --sample lhs:N"),
        (["--sample", "sobol:4", "--range", "web.homophily=0:1"], "allowed: lhs:N"),
        (["--sample", "lhs:0", "--range", "web.homophily=0:1"], "N must be an integer >= 1"),
        (
            ["--sample", "lhs:99999999999", "--range", "culture.dim=2:4"],
            "--sample 'lhs:99999999999': N must be at most 100000 sample points",
        ),
        (["--sample", "lhs:" + "9" * 5000, "--range", "culture.dim=2:4"], "N must be at most"),
        (
            ["--seeds", "1000000000000"],
            "the sweep would be 1000000000000 runs (1000000000000 seed(s)); allowed: at most "
            "100000 runs",
        ),
        (
            [
                *("--grid", "web.homophily=0.1,0.2,0.3", "--sample", "lhs:50000"),
                *("--range", "creators.adoption=0.1:0.5", "--seeds", "2"),
            ],
            "the sweep would be 300000 runs (3 grid points x 50000 sample points x 2 seed(s))",
        ),
        (["--sample", "lhs:4", "--range", "web.homophily=0.9:0.1"], "low must be below high"),
        (["--sample", "lhs:4", "--range", "web.homophily=a:b"], "must look like section.key=low"),
        (["--sample", "lhs:4", "--range", "web.homophily=0:2"], "web.homophily: Input should be"),
        (["--sample", "lhs:4", "--range", "companies.alpha.enabled=0:1"], "is not numeric"),
        (
            ["--grid", "web.homophily=0.1", "--sample", "lhs:4", "--range", "web.homophily=0:1"],
            "in both --grid and --range",
        ),
        (["--seeds", "0"], "--seeds must be >= 1, got 0"),
        (["--workers", "-1"], "--workers must be from 0 to 1024"),
        (["--workers", "5000"], "--workers must be from 0 to 1024"),
        (["--workers", "2", "--address", "tcp://127.0.0.1:8786"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, flags, message):
    out = tmp_path / "sweep"
    assert _exit_code(["sweep", TINY, "--out", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert message in err, err
    assert not out.exists()


def _exit_code(argv) -> int:
    """What ``ecosystem ARGV`` exits with (usage errors leave argparse by SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_bad_input_leaves_an_existing_sweep_untouched(serial_sweep, capsys):
    before = {p: p.stat().st_mtime_ns for p in serial_sweep.rglob("*")}
    argv = ["sweep", TINY, "--grid", "web.initial_pages=400,-5", "--out", str(serial_sweep)]
    assert main(argv) == 2
    assert "web.initial_pages" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in serial_sweep.rglob("*")} == before


def test_a_directory_that_is_not_a_sweep_is_refused(tmp_path):
    (tmp_path / "sweep.json").write_text(json.dumps({"kind": "comparison"}))
    with pytest.raises(
        ScenarioError, match="not a valid sweep record: kind: Input should be 'sweep'"
    ):
        plan_sweep(TINY, out=tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text("{}")
    with pytest.raises(ScenarioError, match="is a run directory"):
        plan_sweep(TINY, out=run)


def test_the_sweep_command_has_help_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = capsys.readouterr().out
    assert "--grid" in text and "--sample" in text and "--address" in text
    assert "ecosystem sweep baseline" in text and "resumes" in text


def test_a_different_sweep_into_the_same_directory_keeps_the_earlier_record(tmp_path, serial_sweep):
    out = tmp_path / "sweep"
    shutil.copytree(serial_sweep, out)
    before = json.loads((out / "sweep.json").read_text())
    narrower = plan_sweep(TINY, out=out, grid=["companies.alpha.bias=1.0"], seeds=1)
    with sweep_backend(workers=0) as backend:
        run_sweep(narrower, backend)
    (archived,) = out.glob("sweep-*.json")
    assert json.loads(archived.read_text()) == before
    assert len(json.loads((out / "sweep.json").read_text())["runs"]) == 1
    same = plan_sweep(TINY, out=out, grid=["companies.alpha.bias=1.0"], seeds=1)
    assert same.replaced is None  # resuming the same sweep archives nothing


@pytest.mark.parametrize("workers", ["0", "2"])
def test_the_wall_time_estimate_is_near_the_wall_time_of_the_sweep(tmp_path, workers):
    plan = plan_sweep(TINY, out=tmp_path / "sweep", grid=["web.initial_pages=400,600"])
    started = time.perf_counter()
    with sweep_backend(int(workers), runs=len(plan.pending)) as backend:
        seconds, note = estimate_wall_time(
            plan, backend.slots, startup=backend.startup_s, parallel=backend.parallel
        )
        run_sweep(plan, backend)
    wall = time.perf_counter() - started
    assert len(plan.complete) == 2
    assert seconds is not None and 0.3 * wall <= seconds <= 3 * wall, (seconds, wall, note)
    assert ("start-up" in note) == (workers == "2")


def test_more_workers_than_runs_start_one_process_per_run_and_more_than_cores_warn(
    tmp_path, capsys, monkeypatch
):
    from ecosystem.runs import backends

    started = []
    run = backends.DaskBackend.run

    def counting(self, runs, command="", progress=None):
        started.append(len(self.client.scheduler_info()["workers"]))
        return run(self, runs, command, progress)

    monkeypatch.setattr(backends.DaskBackend, "run", counting)
    monkeypatch.setattr(backends.os, "cpu_count", lambda: 2)
    out = tmp_path / "sweep"
    argv = ["sweep", TINY, "--grid", GRID[0], "--steps", "2", "--out", str(out), "--quiet"]
    assert main([*argv, "--workers", "50"]) == 0
    captured = capsys.readouterr()
    assert started == [2]
    assert "a local Dask cluster of 2 single-threaded processes" in captured.out
    assert "estimated wall time" in captured.out and "start-up" in captured.out
    assert captured.err == (
        "warning: --workers 50 is more than the 2 cores here; 2 worker processes share them\n"
    )
    assert len(_record(out)["runs"]) == 2


def test_compare_refuses_more_than_1024_workers_in_one_line(tmp_path, capsys):
    out = tmp_path / "compare"
    argv = ["compare", TINY, "--seeds", "2", "--steps", "1", "--workers", "5000"]
    assert main([*argv, "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --workers must be from 0 to 1024 (0: in this process), got 5000\n"
    assert not out.exists()

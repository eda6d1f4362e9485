"""Run directories: tidy series, atomic writes, manifest, summary, interrupted runs."""

import json

import pandas as pd
import pytest

from ecosystem.runs.results import (
    COLUMNS,
    RunInterrupted,
    RunWriter,
    atomic_write_text,
    read_manifest,
    read_timeseries,
)
from ecosystem.scenario import load_scenario, scenario_hash


def _rows(step):
    return [(step, "model", "recall", 1.0 / step), (step, "training", "synthetic_share", 0.5)]


def test_complete_run_writes_every_file(tmp_path):
    scenario = load_scenario("accumulate", ["steps=3"])
    with RunWriter(tmp_path / "run", scenario, command="ecosystem run accumulate") as writer:
        for step in (1, 2, 3):
            writer.write_step(step, _rows(step))
    run = tmp_path / "run"
    names = {p.name for p in run.iterdir()}
    assert names == {"timeseries.csv", "timeseries.parquet", "manifest.json", "summary.json"}
    frame = read_timeseries(run)
    assert tuple(frame.columns) == COLUMNS
    assert len(frame) == 6
    csv = pd.read_csv(run / "timeseries.csv")
    pd.testing.assert_frame_equal(csv, frame, check_dtype=False)
    manifest = read_manifest(run)
    assert manifest["status"] == "complete" and manifest["steps_completed"] == 3
    assert manifest["scenario_hash"] == scenario_hash(scenario)
    assert manifest["resolved_scenario"]["lab"]["data"] == "accumulate"
    assert {"python", "torch", "numpy", "mesa"} <= set(manifest["versions"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["final_step"] == 3
    assert summary["metrics"]["model"]["recall"] == {"final": 1 / 3, "max": 1.0, "min": 1 / 3}


@pytest.mark.parametrize(
    "error, status",
    [(KeyboardInterrupt, "interrupted"), (RunInterrupted, "interrupted"), (RuntimeError, "failed")],
)
def test_interrupted_run_keeps_completed_steps(tmp_path, error, status):
    scenario = load_scenario("accumulate", ["steps=5"])
    with pytest.raises(error), RunWriter(tmp_path / "run", scenario) as writer:
        writer.write_step(1, _rows(1))
        writer.write_step(2, _rows(2))
        raise error("stop")
    frame = read_timeseries(tmp_path / "run")
    assert sorted(frame["step"].unique()) == [1, 2]
    manifest = read_manifest(tmp_path / "run")
    assert manifest["status"] == status and manifest["steps_completed"] == 2
    assert "stop" in manifest["error"]


def test_existing_results_are_never_overwritten(tmp_path):
    scenario = load_scenario("accumulate", ["steps=1"])
    with RunWriter(tmp_path / "run", scenario) as writer:
        writer.write_step(1, _rows(1))
    before = (tmp_path / "run" / "timeseries.parquet").read_bytes()
    with pytest.raises(FileExistsError), RunWriter(tmp_path / "run", scenario):
        pass
    assert (tmp_path / "run" / "timeseries.parquet").read_bytes() == before


def test_parts_are_readable_before_close(tmp_path):
    scenario = load_scenario("accumulate", ["steps=3"])
    writer = RunWriter(tmp_path / "run", scenario).__enter__()
    writer.write_step(1, _rows(1))
    writer.write_step(2, _rows(2))
    frame = read_timeseries(tmp_path / "run")  # as after a SIGKILL: no final files yet
    assert sorted(frame["step"].unique()) == [1, 2]
    assert read_manifest(tmp_path / "run")["status"] == "running"


def test_atomic_write_replaces_whole_file(tmp_path):
    path = tmp_path / "a" / "f.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["f.txt"]


def test_read_timeseries_of_empty_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no time series"):
        read_timeseries(tmp_path)


def test_read_status_of_a_run_directory(tmp_path):
    from ecosystem.runs.results import read_status

    assert read_status(tmp_path) is None
    scenario = load_scenario("accumulate", ["steps=1"])
    with RunWriter(tmp_path / "run", scenario) as writer:
        writer.write_step(1, _rows(1))
    assert read_status(tmp_path / "run") == "complete"
    for text in ('{"status": "complete"}', "{not json", "[1, 2, 3]"):
        (tmp_path / "run" / "manifest.json").write_text(text)
        assert read_status(tmp_path / "run") is None


def test_is_run_directory(tmp_path):
    from ecosystem.runs.results import is_run_directory

    assert not is_run_directory(tmp_path) and not is_run_directory(tmp_path / "missing")
    (tmp_path / "parts").mkdir()
    assert is_run_directory(tmp_path)

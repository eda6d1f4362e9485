"""Runs kept by resolved scenario: same settings run once; partial runs are redone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecosystem import load_scenario
from ecosystem.runs.store import RunStore, load_run, load_runs

TINY = Path(__file__).parent / "data" / "tiny-web.toml"


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(TINY, ["steps=2"])


def test_run_then_cached_without_simulating(tmp_path, scenario):
    store = RunStore(tmp_path)
    calls = []
    first = store.run(scenario, lambda step, rows: calls.append(step))
    assert calls == [0, 1, 2] and first.complete
    again = store.run(scenario, lambda step, rows: calls.append(step))
    assert again is first and calls == [0, 1, 2]
    assert first.network is not None and len(first.network.nodes) > 0


def test_a_new_store_finds_runs_on_disk(tmp_path, scenario):
    RunStore(tmp_path).run(scenario)
    fresh = RunStore(tmp_path)
    found = fresh.cached(scenario)
    assert found is not None and found.frame.equals(load_run(found.directory).frame)
    assert fresh.cached(scenario.model_copy(update={"seed": 9})) is None


def test_directory_names_scenario_seed_and_hash(tmp_path, scenario):
    directory = RunStore(tmp_path).directory_for(scenario)
    assert directory.parent == tmp_path
    assert (
        directory.name.startswith("tiny-web-s0-")
        and len(directory.name) == len("tiny-web-s0-") + 12
    )


def test_a_partial_run_is_replaced(tmp_path, scenario):
    store = RunStore(tmp_path)
    directory = store.directory_for(scenario)
    (directory / "parts").mkdir(parents=True)
    (directory / "manifest.json").write_text(json.dumps({"status": "interrupted"}))
    assert store.cached(scenario) is None
    result = store.run(scenario)
    assert result.complete and result.manifest["steps_completed"] == 3


def test_finished_lists_complete_runs_newest_first(tmp_path, scenario):
    store = RunStore(tmp_path)
    store.run(scenario)
    store.run(scenario.model_copy(update={"seed": 1}))
    finished = store.finished()
    assert len(finished) == 2 and finished[0][0].startswith("tiny-web · seed 1")
    assert finished[1][1] == str(store.directory_for(scenario))


def test_load_run_needs_a_manifest(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run directory"):
        load_run(tmp_path)


def test_load_runs_reads_a_run_or_every_complete_run_below_runs(tmp_path, scenario):
    store = RunStore(tmp_path / "runs")
    first = store.run(scenario)
    store.run(scenario.model_copy(update={"seed": 1}))
    partial = tmp_path / "runs" / "cut-short"
    (partial / "parts").mkdir(parents=True)
    (partial / "manifest.json").write_text(json.dumps({"status": "interrupted"}))
    assert [r.directory for r in load_runs(first.directory)] == [first.directory]
    below = load_runs(tmp_path)
    assert len(below) == 2 and all(r.complete for r in below)
    with pytest.raises(FileNotFoundError, match="holds no run"):
        load_runs(tmp_path / "runs" / "cut-short" / "parts")


def test_submit_runs_in_the_background_once_per_scenario(tmp_path, scenario):
    store = RunStore(tmp_path)
    job = store.submit(scenario)
    assert store.submit(scenario) is job  # a second viewer follows the same run
    assert job.wait(120) and job.error is None
    assert job.result.complete and [step for step, _ in job.steps] == [0, 1, 2]
    assert store.cached(scenario) is job.result
    assert store.job(job.result.manifest["scenario_hash"]) is job


def test_a_failed_job_keeps_its_error_and_is_started_again(tmp_path):
    broken = load_scenario(TINY, ["steps=1", "companies.alpha.model.params.max_iter=0"])
    store = RunStore(tmp_path)
    job = store.submit(broken)
    assert job.wait(120) and isinstance(job.error, ValueError)
    assert "max_iter" in str(job.error) and job.result is None
    again = store.submit(broken)
    assert again is not job
    again.wait(120)


def test_runs_of_other_code_are_not_reused(tmp_path, scenario):
    RunStore(tmp_path).run(scenario)
    other = RunStore(tmp_path)
    other.code = "another-commit"
    assert other.cached(scenario) is None
    assert other.directory_for(scenario) != RunStore(tmp_path).directory_for(scenario)


def test_load_reads_a_directory_once(tmp_path, scenario):
    store = RunStore(tmp_path)
    directory = store.run(scenario).directory
    fresh = RunStore(tmp_path)
    assert fresh.load(directory) is fresh.load(str(directory))

"""The run store: run identity (resolved scenario and code version), the code version itself,
and every command (run, compare, sweep, the app's store) reusing a run only when the same code
made it; the app's store runs the same settings once and redoes partial runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import ecosystem
from ecosystem import load_scenario
from ecosystem.experiments.compare import compare
from ecosystem.experiments.sweep import plan_sweep, run_sweep, sweep_backend
from ecosystem.interfaces.cli import main
from ecosystem.runs import store
from ecosystem.runs.backends import execute_run
from ecosystem.runs.cache import RunStore, load_run, load_runs
from ecosystem.runs.results import is_run_directory, read_manifest, read_timeseries, run_state
from ecosystem.scenario import ScenarioError

TINY = Path(__file__).parent / "data" / "tiny-web.toml"
ROOT = Path(__file__).resolve().parents[1]


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


def test_a_failed_job_keeps_its_error_and_is_started_again(tmp_path, failing_fit):
    broken = load_scenario(TINY, ["steps=1", failing_fit.override])
    store = RunStore(tmp_path)
    job = store.submit(broken)
    assert job.wait(120) and isinstance(job.error, ValueError)
    assert str(job.error) == failing_fit.error and job.result is None
    again = store.submit(broken)
    assert again is not job
    again.wait(120)


@pytest.fixture
def code(monkeypatch):
    """Sets the code version this process reports: ``code("v2")``."""

    def set_version(version: str) -> None:
        monkeypatch.setattr(store, "compute_code_version", lambda: version)
        store.code_version.cache_clear()

    yield set_version
    store.code_version.cache_clear()


def _stamp(directory: Path) -> int:
    return (directory / store.MANIFEST).stat().st_mtime_ns


def test_the_app_store_redoes_a_run_of_other_code(tmp_path, scenario, code):
    code("v1")
    runs = RunStore(tmp_path)
    first = runs.run(scenario)
    assert first.manifest["code_version"] == "v1"
    assert runs.run(scenario) is first and RunStore(tmp_path).cached(scenario) is not None
    stamp = _stamp(first.directory)
    code("v2")
    assert runs.cached(scenario) is None and RunStore(tmp_path).cached(scenario) is None
    second = runs.run(scenario)
    assert second.directory != first.directory and second.manifest["code_version"] == "v2"
    assert _stamp(first.directory) == stamp  # the other code's run is kept as it was


def test_ecosystem_run_reuses_its_default_directory_only_for_the_same_code(
    tmp_path, monkeypatch, capsys, code
):
    monkeypatch.chdir(tmp_path)
    argv = ["run", str(TINY), "--steps", "1", "--quiet"]
    code("v1")
    assert main(argv) == 0
    (first,) = (tmp_path / "runs").iterdir()
    scenario = load_scenario(TINY, ["steps=1"])
    assert first.name == store.run_identity(scenario).name
    stamp = _stamp(first)
    capsys.readouterr()
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "reused" in text and "--force" in text and "final step 1" in text
    assert _stamp(first) == stamp
    assert main([*argv, "--force"]) == 0
    assert _stamp(first) != stamp and read_manifest(first)["status"] == "complete"
    code("v2")
    assert main(argv) == 0
    (second,) = set((tmp_path / "runs").iterdir()) - {first}
    assert read_manifest(second)["code_version"] == "v2"
    assert main([*argv, "--force", "--out", str(tmp_path / "x")]) == 2
    assert "--force goes without --out" in capsys.readouterr().err


def test_ecosystem_run_redoes_a_run_cut_short_in_its_default_directory(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    directory = Path("runs") / store.run_identity(load_scenario(TINY, ["steps=1"])).name
    (directory / store.PARTS).mkdir(parents=True)
    (directory / store.MANIFEST).write_text(json.dumps({"status": "interrupted"}))
    assert main(["run", str(TINY), "--steps", "1", "--quiet"]) == 0
    assert "running again what a run cut short left in" in capsys.readouterr().out
    assert read_manifest(directory)["status"] == "complete"


def test_compare_redoes_the_runs_of_other_code(tmp_path, code):
    code("v1")
    first = compare([str(TINY)], out=tmp_path, seeds=1, steps=1)
    (run,) = first.scenarios[0].runs
    assert run.action == "run" and read_manifest(run.directory)["code_version"] == "v1"
    stamp = _stamp(run.directory)
    again = compare([str(TINY)], out=tmp_path, seeds=1, steps=1)
    assert [r.action for r in again.scenarios[0].runs] == ["reuse"]
    assert _stamp(run.directory) == stamp
    code("v2")
    other = compare([str(TINY)], out=tmp_path, seeds=1, steps=1)
    (redone,) = other.scenarios[0].runs
    assert redone.action == "run" and redone.directory != run.directory
    assert read_manifest(redone.directory)["code_version"] == "v2"
    record = json.loads((tmp_path / "compare.json").read_text())
    assert record["code_version"] == "v2"
    assert record["scenarios"][0]["runs"][0]["code_version"] == "v2"


def test_sweep_redoes_the_runs_of_other_code(tmp_path, code):
    out = tmp_path / "sweep"
    grid = ["web.homophily=0.3"]
    code("v1")
    plan = plan_sweep(str(TINY), out=out, grid=grid, steps=1)
    with sweep_backend(workers=0) as backend:
        run_sweep(plan, backend)
    (run,) = plan.runs
    assert run.status == "complete" and read_manifest(run.directory)["code_version"] == "v1"
    assert [r.status for r in plan_sweep(str(TINY), out=out, grid=grid, steps=1).runs] == [
        "complete"
    ]
    code("v2")
    other = plan_sweep(str(TINY), out=out, grid=grid, steps=1)
    assert [r.status for r in other.runs] == ["pending"] and other.runs[0].hash != run.hash
    assert other.code_version["code"] == "v2"
    with sweep_backend(workers=0) as backend:
        run_sweep(other, backend)
    assert read_manifest(other.runs[0].directory)["code_version"] == "v2"
    assert read_manifest(run.directory)["code_version"] == "v1"  # kept


def test_a_process_with_other_code_does_not_run_the_task(tmp_path, scenario, code):
    code("v1")
    identity = store.run_identity(scenario)
    code("v2")
    outcome = execute_run(scenario, tmp_path / "run", identity)
    assert outcome["status"] == "failed" and not is_run_directory(tmp_path / "run")
    assert "code version v2" in outcome["error"] and "planned with v1" in outcome["error"]


def test_every_manifest_records_the_package_and_code_versions(tmp_path, scenario):
    manifest = RunStore(tmp_path).run(scenario).manifest
    assert manifest["package_version"] == ecosystem.__version__
    assert manifest["code_version"] == store.code_version()
    identity = store.run_identity(scenario)
    assert identity.matches(manifest) and identity.scenario_hash == manifest["scenario_hash"]


def test_identity_covers_scenario_seed_and_code(scenario):
    identity = store.run_identity(scenario)
    seeded = store.run_identity(scenario.model_copy(update={"seed": 1}))
    other_code = store.RunIdentity(
        identity.scenario, identity.seed, identity.scenario_hash, identity.code_version + "x"
    )
    assert len({identity.key, seeded.key, other_code.key}) == 3
    assert identity.name == f"tiny-web-s0-{identity.key[:12]}"
    assert seeded.name.startswith("tiny-web-s1-")


def test_a_complete_run_of_other_settings_is_never_cleared(tmp_path, scenario):
    made = RunStore(tmp_path).run(scenario)
    other = store.run_identity(scenario.model_copy(update={"seed": 5}))
    assert run_state(tmp_path / "empty", other) == "missing"
    with pytest.raises(ScenarioError, match="holds a complete run of other settings or code"):
        run_state(made.directory, other)


def test_parts_a_writer_left_in_a_complete_run_are_ignored_then_removed(tmp_path, scenario):
    """A writer killed while it removes the parts of its complete run leaves some behind; the
    complete series is still what every reader sees, and the next writer tidies them."""
    identity = store.run_identity(scenario)
    directory = tmp_path / "run"
    assert execute_run(scenario, directory, identity)["status"] == "complete"
    whole = read_timeseries(directory)
    (directory / "parts").mkdir()
    first = pa.Table.from_pandas(whole[whole["step"] == 0], preserve_index=False)
    pq.write_table(first, directory / "parts" / "step-000000.parquet")
    (directory / "checkpoint.pkl").write_bytes(b"left behind")
    pd.testing.assert_frame_equal(read_timeseries(directory), whole)
    assert load_run(directory).frame.equals(whole)
    assert execute_run(scenario, directory, identity)["status"] == "complete"
    assert not (directory / "parts").exists() and not (directory / "checkpoint.pkl").exists()
    pd.testing.assert_frame_equal(read_timeseries(directory), whole)


def _git(root: Path, *args: str) -> str:
    command = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def source_tree(tmp_path):
    """A copy of the package sources (ecosystem/, models/, scenarios/), without byte code."""
    tree = tmp_path / "tree"
    for folder in store.SOURCE_FOLDERS:
        shutil.copytree(ROOT / folder, tree / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tree


def test_the_code_version_of_a_tree_without_git_is_the_package_version_and_a_hash(source_tree):
    version = store.compute_code_version(source_tree)
    prefix, digest = version.split("+")
    assert prefix == ecosystem.__version__ and len(digest) == 12
    (source_tree / "ecosystem" / "__pycache__").mkdir(exist_ok=True)
    (source_tree / "ecosystem" / "__pycache__" / "x.pyc").write_bytes(b"byte code")
    assert store.compute_code_version(source_tree) == version
    (source_tree / "models" / "extra.py").write_text("X = 1\n")
    assert store.compute_code_version(source_tree) != version


def test_the_code_version_of_a_checkout_is_its_commit_unless_the_sources_changed(source_tree):
    _git(source_tree, "init", "-q")
    (source_tree / "README.md").write_text("readme\n")
    (source_tree / ".gitignore").write_text("__pycache__/\nlocal/\n")
    _git(source_tree, "add", ".")
    _git(source_tree, "commit", "-q", "-m", "sources")
    commit = _git(source_tree, "rev-parse", "HEAD")
    assert store.compute_code_version(source_tree) == commit
    (source_tree / "models" / "__pycache__").mkdir()
    (source_tree / "models" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"byte code")
    assert store.compute_code_version(source_tree) == commit
    (source_tree / "models" / "local").mkdir()
    (source_tree / "models" / "local" / "extra.py").write_text("X = 1\n")  # git-ignored
    assert store.compute_code_version(source_tree).startswith(f"{commit}+")
    shutil.rmtree(source_tree / "models" / "local")
    (source_tree / "README.md").write_text("not a package source\n")
    assert store.compute_code_version(source_tree) == commit
    module = source_tree / "ecosystem" / "runs" / "store.py"
    module.write_text(module.read_text() + "\n# edited\n")
    edited = store.compute_code_version(source_tree)
    assert edited.startswith(f"{commit}+") and len(edited) == len(commit) + 13
    module.write_text(module.read_text() + "# edited again\n")
    assert store.compute_code_version(source_tree) not in (edited, commit)
    _git(source_tree, "checkout", "-q", "--", "ecosystem")
    (source_tree / "scenarios" / "new.toml").write_text('extends = "baseline"\n')  # untracked
    assert store.compute_code_version(source_tree).startswith(f"{commit}+")


def test_a_package_inside_another_repository_is_not_a_checkout(tmp_path, source_tree):
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "commit", "-q", "--allow-empty", "-m", "outer")
    assert store.compute_code_version(source_tree).startswith(f"{ecosystem.__version__}+")


def test_the_code_version_is_computed_once_per_process():
    store.code_version.cache_clear()
    first = store.code_version()
    assert store.code_version() is first and store.code_version.cache_info().hits >= 1


def test_load_reads_a_directory_once(tmp_path, scenario):
    store = RunStore(tmp_path)
    directory = store.run(scenario).directory
    fresh = RunStore(tmp_path)
    assert fresh.load(directory) is fresh.load(str(directory))

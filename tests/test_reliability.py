"""Nothing lost, nothing half-trusted: locks, checksums, honest statuses and --resume, tested
with real processes and real signals."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ecosystem.interfaces.cli import main
from ecosystem.runs.results import read_manifest, run_status
from ecosystem.world.worlds import WORLDS

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny-web.toml"
LAB_SMALL = [
    "--set",
    "culture.topics=4",
    "--set",
    "culture.dim=2",
    "--set",
    "culture.reference_size=200",
    "--set",
    "lab.n_real=200",
    "--set",
    "lab.n_synthetic=200",
    "--set",
    "model.params.components=4",
    "--set",
    "metrics.samples=200",
]
FINAL_FILES = (
    "timeseries.parquet",
    "timeseries.csv",
    "summary.json",
    "network.parquet",
    "network_links.parquet",
)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ecosystem", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _main(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The command line in this process (faster where no signal or second process is needed)."""
    out, err = io.StringIO(), io.StringIO()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def _tiny_run(out: Path, steps: int, cwd: Path) -> None:
    """A complete run of the tiny web into ``out``, in this process."""
    result = _main("run", str(TINY), "--steps", str(steps), "--out", str(out), "--quiet", cwd=cwd)
    assert result.returncode == 0, result.stderr


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ecosystem", *args],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(condition, proc: subprocess.Popen | None = None, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended first: {proc.communicate()}")
        time.sleep(0.01)
    raise AssertionError("timed out")


def _parts(directory: Path) -> int:
    return len(list((directory / "parts").glob("step-*.parquet")))


def _one_line_error(result) -> str:
    err = result.stderr.strip()
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


def _files(directory: Path) -> dict[str, bytes]:
    return {
        name: (directory / name).read_bytes() for name in FINAL_FILES if (directory / name).exists()
    }


# --- resume ------------------------------------------------------------------------------


TEXT_LAB_SMALL = ["--set", "text.vocab=300", "--set", "text.reference_size=200"]
TEXT_LAB_SMALL += ["--set", "lab.n_real=200", "--set", "lab.n_synthetic=200"]
TEXT_LAB_SMALL += ["--set", "metrics.samples=200"]
TINY_DIGITS = ROOT / "tests" / "data" / "tiny-digits-web.toml"
DIGITS_LAB_SMALL = ["--set", "lab.n_real=200", "--set", "lab.n_synthetic=200"]
DIGITS_LAB_SMALL += ["--set", "metrics.samples=200", "--set", "model.params.steps=10"]
DIGITS_LAB_SMALL += ["--set", "model.params.epochs=2", "--set", "model.params.hidden=32"]
SMALL_RUNS = {
    ("vectors", "ecosystem"): [str(TINY), "--steps", "8"],
    ("text", "ecosystem"): [str(ROOT / "tests" / "data" / "tiny-text-web.toml"), "--steps", "8"],
    ("digits", "ecosystem"): [str(TINY_DIGITS), "--steps", "8"],
    ("digits", "lab"): ["mad-digits-fresh-data", "--steps", "8", *DIGITS_LAB_SMALL],
}
"""A small run of every registered world in ecosystem mode, and of the digits lab loop."""

TRANSFORMER_LAB = ["text-transformer", "--steps", "8", *TEXT_LAB_SMALL]
TRANSFORMER_LAB += ["--set", "model.params.steps=5", "--set", "model.params.device=cpu"]
RESUMABLE = [
    pytest.param(world, "ecosystem", SMALL_RUNS[world, "ecosystem"], id=f"{world}-ecosystem")
    for world in WORLDS
] + [
    # the lab loop's state is the same code in every world: resumed with the neural models,
    # whose state is the largest (a diffusion model on digits, a transformer on text)
    pytest.param("digits", "lab", SMALL_RUNS["digits", "lab"], id="digits-lab-diffusion"),
    pytest.param("text", "lab", TRANSFORMER_LAB, id="text-lab-transformer"),
]


@pytest.mark.parametrize("world, mode, argv", RESUMABLE)
def test_resume_after_sigkill_is_byte_identical(tmp_path, world, mode, argv):
    argv = [*argv, "--set", f"world={world}", "--quiet"]
    whole = tmp_path / "whole"
    assert _cli("run", *argv, "--out", str(whole), cwd=tmp_path).returncode == 0
    cut = tmp_path / "cut"
    kills = []
    for at in (1, 3, 6):  # kill it at several steps, resuming in between
        if at == 1:
            proc = _start("run", *argv, "--out", str(cut), "--checkpoint-every", "2", cwd=tmp_path)
        else:
            proc = _start("run", "--resume", str(cut), "--checkpoint-every", "2", cwd=tmp_path)
        _wait_for(lambda at=at: _parts(cut) >= at, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        state = run_status(cut)
        assert state.status == "interrupted"  # its writer is gone
        assert state.steps_completed == _parts(cut) >= at
        kills.append(state.steps_completed)
    done = _cli("run", "--resume", str(cut), "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert run_status(cut).status == "complete"
    assert _files(cut) == _files(whole), f"killed after {kills} steps"
    assert mode != "ecosystem" or "network.parquet" in _files(cut)
    assert not (cut / "parts").exists() and not (cut / "checkpoint.pkl").exists()
    again = _main("run", "--resume", str(cut), cwd=tmp_path)
    assert "already complete" in _one_line_error(again)


def test_resume_without_a_checkpoint_starts_again_and_refuses_bad_use(tmp_path):
    argv = ["mad-fresh-data", "--steps", "4", *LAB_SMALL, "--quiet"]
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert _cli("run", *argv, "--out", str(whole), cwd=tmp_path).returncode == 0
    proc = _start("run", *argv, "--out", str(cut), "--checkpoint-every", "0", cwd=tmp_path)
    _wait_for(lambda: _parts(cut) >= 2, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert read_manifest(cut)["checkpoint"] is None
    assert "--set" in _one_line_error(
        _main("run", "--resume", str(cut), "--set", "seed=2", cwd=tmp_path)
    )
    assert "not a run directory" in _one_line_error(
        _main("run", "--resume", str(tmp_path), cwd=tmp_path)
    )
    assert _cli("run", "--resume", str(cut), "--quiet", cwd=tmp_path).returncode == 0
    assert _files(cut) == _files(whole)


# --- signals -----------------------------------------------------------------------------


@pytest.mark.parametrize("signals", [1, 2], ids=["sigterm", "double-sigterm"])
def test_sigterm_stops_a_run_like_ctrl_c(tmp_path, signals):
    out = tmp_path / "run"
    proc = _start("run", str(TINY), "--steps", "400", "--out", str(out), "--quiet", cwd=tmp_path)
    _wait_for(lambda: _parts(out) >= 2, proc)
    for _ in range(signals):
        os.kill(proc.pid, signal.SIGTERM)
        time.sleep(0.05)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("interrupted:") and "--resume" in lines[0], err
    state = run_status(out)
    assert state.status == "interrupted" and read_manifest(out)["status"] == "interrupted"
    assert state.steps_completed == _parts(out) >= 2


# --- locks -------------------------------------------------------------------------------


def test_a_second_writer_of_a_run_directory_is_refused(tmp_path):
    argv = ["run", str(TINY), "--steps", "400", "--quiet"]
    proc = _start(*argv, cwd=tmp_path)
    _wait_for(lambda: any((tmp_path / "runs").glob("*/parts/step-000001.parquet")), proc)
    (directory,) = (tmp_path / "runs").iterdir()
    before = _parts(directory)
    second = _main(*argv, cwd=tmp_path)
    err = _one_line_error(second)
    assert f"process {proc.pid} on {socket.gethostname()}" in err and "being written" in err
    forced = _one_line_error(_main(*argv, "--force", cwd=tmp_path))
    assert "being written" in forced
    assert run_status(directory).status == "running"
    assert "running" in _one_line_error(_main("compare", str(directory), cwd=tmp_path))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert _parts(directory) >= before
    # the lock of a killed writer is stale: the next writer takes over and resumes
    assert run_status(directory).status == "interrupted"


def _sweep_args(out: Path, steps: int = 6) -> list[str]:
    return [
        "sweep",
        str(TINY),
        "--grid",
        "creators.adoption=0.1,0.2",
        "--seeds",
        "2",
        "--steps",
        str(steps),
        "--workers",
        "0",
        "--out",
        str(out),
        "--quiet",
    ]


def test_two_sweeps_into_one_directory_lose_nothing(tmp_path):
    out = tmp_path / "sweep"
    first = _start(*_sweep_args(out, steps=30), cwd=tmp_path)
    _wait_for(lambda: any(out.glob("runs/*/parts/step-*.parquet")), first)
    second = _main(*_sweep_args(out, steps=30), cwd=tmp_path)
    err = _one_line_error(second)
    assert "sweep directory" in err and f"process {first.pid}" in err
    assert first.wait(timeout=600) == 0, first.communicate()
    record = json.loads((out / "sweep.json").read_text())
    assert [run["status"] for run in record["runs"]] == ["complete"] * 4
    for run in record["runs"]:
        state = run_status(out / run["directory"])
        assert state.complete and state.steps_completed == 31


def _truncate(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows // 2), path)


def test_a_truncated_or_garbage_run_is_never_trusted(tmp_path):
    out = tmp_path / "sweep"
    argv = [*_sweep_args(out)]
    argv[argv.index("--seeds") + 1] = "1"
    assert _main(*argv, cwd=tmp_path).returncode == 0
    first, second = sorted((out / "runs").iterdir())
    _truncate(first / "timeseries.parquet")
    (second / "timeseries.parquet").write_bytes(b"garbage" * 100)
    for run in (first, second):
        assert run_status(run).status == "corrupt"
        err = _one_line_error(_main("report", str(run), cwd=tmp_path))
        assert (
            err == f"error: run {run} is corrupt: timeseries.parquet does not match its checksum; "
            "run it again"
        )
        assert "corrupt" in _one_line_error(_main("compare", str(run), cwd=tmp_path))
    assert "corrupt" in _one_line_error(_main("report", str(out), cwd=tmp_path))
    resumed = _main(*argv, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "0 already complete, 2 to run" in resumed.stdout
    for run in (first, second):
        assert run_status(run).complete
    assert _main("report", str(out), cwd=tmp_path).returncode == 0


def test_incomplete_runs_are_refused_or_flagged(tmp_path):
    out = tmp_path / "run"
    proc = _start("run", str(TINY), "--steps", "400", "--out", str(out), "--quiet", cwd=tmp_path)
    _wait_for(lambda: _parts(out) >= 3, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    manifest = read_manifest(out)
    assert manifest["status"] == "running" and manifest["steps_completed"] >= 2  # it lags a part
    state = run_status(out)
    assert state.status == "interrupted" and state.steps_completed == _parts(out)
    for command in ("compare", "report"):
        err = _one_line_error(_main(command, str(out), cwd=tmp_path))
        assert f"run {out} is interrupted ({state.steps_completed} of 401 steps)" in err
        assert "--allow-incomplete" in err and f"ecosystem run --resume {out}" in err
    flagged = _main("compare", str(out), "--allow-incomplete", "--out", "c", cwd=tmp_path)
    assert flagged.returncode == 0, flagged.stderr
    assert f"warning: run {out} is interrupted" in flagged.stderr
    record = json.loads((tmp_path / "c" / "compare.json").read_text())
    assert record["scenarios"][0]["runs"][0]["status"] == "interrupted"
    page = _main("report", str(out), "--allow-incomplete", cwd=tmp_path)
    assert page.returncode == 0, page.stderr
    assert "incomplete" in (out / "report.html").read_text()


def test_a_manifest_that_is_not_a_manifest_is_one_line(tmp_path):
    run = tmp_path / "run"
    _tiny_run(run, 1, tmp_path)
    for text in ("[1,2,3]", "{}", '{"scenario": 3}', "not json", "\x00\xff"):
        (run / "manifest.json").write_text(text)
        for command in ("report", "compare"):
            err = _one_line_error(_main(command, str(run), cwd=tmp_path))
            assert "manifest.json" in err
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text(json.dumps({"kind": "sweep", "runs": "abc"}))
    assert "sweep.json" in _one_line_error(_main("report", str(sweep), cwd=tmp_path))
    out_err = _one_line_error(_main(*_sweep_args(sweep), cwd=tmp_path))
    assert "sweep.json is not a valid sweep record" in out_err


def test_result_files_respect_the_umask(tmp_path):
    run = tmp_path / "run"
    script = (
        "import os, sys; os.umask(0o027); from ecosystem.interfaces.cli import main; "
        f"sys.exit(main(['run', {str(TINY)!r}, '--steps', '1', '--out', {str(run)!r}, '--quiet']))"
    )
    subprocess.run([sys.executable, "-c", script], env=_env(), cwd=tmp_path, check=True)
    modes = {path.name: path.stat().st_mode & 0o777 for path in run.iterdir() if path.is_file()}
    assert modes and all(mode == 0o640 for name, mode in modes.items() if name != ".lock"), modes


def test_a_checksum_covers_every_final_file(tmp_path):
    run = tmp_path / "run"
    _tiny_run(run, 2, tmp_path)
    manifest = read_manifest(run)
    assert set(manifest["checksums"]) == set(FINAL_FILES)
    assert manifest["rows_per_step"] and len(manifest["rows_per_step"]) == 3
    table = pq.read_table(run / "timeseries.parquet")
    assert sum(manifest["rows_per_step"].values()) == table.num_rows
    (run / "summary.json").write_text("{}")
    assert run_status(run).status == "corrupt"
    assert "summary.json does not match" in run_status(run).problem
    pq.write_table(pa.table({"x": [1]}), run / "timeseries.parquet")
    assert "timeseries.parquet" in run_status(run).problem


def test_run_does_a_corrupt_run_in_its_default_directory_again(tmp_path):
    argv = ["run", str(TINY), "--steps", "1", "--quiet"]
    assert _main(*argv, cwd=tmp_path).returncode == 0
    (directory,) = (tmp_path / "runs").iterdir()
    whole = _files(directory)
    (directory / "summary.json").write_text("{}")
    again = _main(*argv, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "running again the corrupt run" in again.stdout.replace("\n", " ")
    assert run_status(directory).complete and _files(directory) == whole

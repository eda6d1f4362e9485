"""The command line: run, list, show, validate; errors; real signals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecosystem.interfaces.cli import main
from ecosystem.runs.results import read_manifest, read_timeseries

ROOT = Path(__file__).resolve().parent.parent

SMALL = [
    "--set",
    "culture.topics=6",
    "--set",
    "culture.dim=2",
    "--set",
    "culture.reference_size=200",
    "--set",
    "lab.n_real=200",
    "--set",
    "lab.n_synthetic=200",
    "--set",
    "model.params.components=6",
    "--set",
    "metrics.samples=200",
]


def test_run_writes_a_run_directory_and_prints_summary(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                "mad-fully-synthetic",
                "--steps",
                "3",
                "--seed",
                "4",
                "--out",
                str(out),
                "--quiet",
                *SMALL,
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "final step 3" in text and "precision" in text and "model" in text
    frame = read_timeseries(out)
    assert sorted(frame["step"].unique()) == [1, 2, 3]
    assert set(frame["scope"]) == {"model", "training"}
    assert (frame["seed"] == 4).all() and (frame["scenario"] == "mad-fully-synthetic").all()
    assert read_manifest(out)["command"].startswith("ecosystem")


def test_bad_override_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "accumulate", "--out", str(out), "--set", "lab.bias=2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "lab.bias" in err and "<= 1.0" in err
    assert not out.exists()


def test_unknown_scenario_and_flag(capsys):
    assert main(["run", "mad-fuly-synthetic"]) == 2
    assert "did you mean 'mad-fully-synthetic'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "accumulate", "--stesp", "3"])
    assert exit_info.value.code == 2


def test_existing_results_are_kept(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "accumulate", "--steps", "1", "--out", str(out), "--quiet", *SMALL]) == 0
    before = (out / "timeseries.parquet").read_bytes()
    assert main(["run", "accumulate", "--steps", "1", "--out", str(out), "--quiet", *SMALL]) == 2
    assert "already holds results" in capsys.readouterr().err
    assert (out / "timeseries.parquet").read_bytes() == before


def test_list_groups_scenarios_with_descriptions(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "lab" in text
    for name in (
        "mad-fully-synthetic",
        "mad-synthetic-augmentation",
        "mad-fresh-data",
        "accumulate",
    ):
        assert name in text
    assert "previous model's samples" in text


def test_show_prints_resolved_toml_with_overrides(capsys):
    assert main(["show", "accumulate", "--set", "lab.bias=0.5"]) == 0
    text = capsys.readouterr().out
    assert "bias = 0.5" in text and 'data = "accumulate"' in text and "extends" not in text


@pytest.mark.parametrize(
    "command", ["run", "list", "show", "compare", "sweep", "report", "validate"]
)
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "examples:" in capsys.readouterr().out


def test_help_says_where_runs_go_and_when_they_are_reused(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--force" in text and "reused" in text and "code version" in text
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--workers" in text and "--address" in text and "Dask" in text


def test_validate_writes_json_and_reports(tmp_path, capsys):
    path = tmp_path / "v.json"
    code = main(["validate", "--fast", "--check", "accumulate", "--json", str(path)])
    text = capsys.readouterr().out
    assert "validation checks passed" in text
    rows = json.loads(path.read_text())
    assert {"check", "source", "expected", "measured", "tolerance", "passed"} == set(rows[0])
    assert all("Gerstgrasser" in row["source"] for row in rows)
    assert code == (0 if all(r["passed"] for r in rows) else 1)


def _start_long_run(out):
    cmd = [
        sys.executable,
        "-m",
        "ecosystem.interfaces.cli",
        "run",
        "accumulate",
        "--steps",
        "500",
        "--out",
        str(out),
        "--quiet",
        *SMALL,
    ]
    # a shell's background job ignores SIGINT and its children inherit that: restore it
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if len(list((out / "parts").glob("step-*.parquet"))) >= 3:
            return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("run made no progress")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_real_signal_keeps_every_completed_step(tmp_path, sig):
    out = tmp_path / "run"
    proc = _start_long_run(out)
    os.kill(proc.pid, sig)
    proc.wait(timeout=60)
    manifest = read_manifest(out)
    assert manifest["status"] == "interrupted"
    frame = read_timeseries(out)
    steps = sorted(frame["step"].unique())
    assert len(steps) >= 3 and steps == list(range(1, len(steps) + 1))
    assert manifest["steps_completed"] == len(steps)
    assert (out / "timeseries.csv").exists()


def test_sigkill_leaves_readable_parts(tmp_path):
    out = tmp_path / "run"
    proc = _start_long_run(out)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    frame = read_timeseries(out)
    steps = sorted(frame["step"].unique())
    assert len(steps) >= 3 and steps == list(range(1, len(steps) + 1))


def test_schema_reference_is_generated_and_up_to_date(capsys):
    from ecosystem.scenario import schema_markdown

    assert main(["schema"]) == 0
    text = capsys.readouterr().out
    assert "| `lab.bias` | float | `1.0` | >= 0.01 and <= 1.0 |" in text
    assert "`companies.<name>.crawl_budget`" in text
    assert "## Model parameters" in text and "### `kde`" in text
    assert "| `components` | int | `50` | an integer >= 1 and <= 1000 | Mixture components" in text
    doc = Path(__file__).resolve().parent.parent / "docs" / "scenarios.md"
    assert doc.read_text() == schema_markdown(), "regenerate: ecosystem schema > docs/scenarios.md"


def test_ecosystem_run_from_a_toml_file(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "tests/data/tiny-web.toml", "--steps", "2", "--out", str(out), "--quiet"])
    assert code == 0
    text = capsys.readouterr().out
    assert "company:alpha" in text and "training:alpha" in text and "web_new" in text
    frame = read_timeseries(out)
    assert sorted(frame["step"].unique()) == [0, 1, 2]
    manifest = read_manifest(out)
    assert manifest["status"] == "complete" and manifest["resolved_scenario"]["mode"] == "ecosystem"


def test_list_has_the_ecosystem_group(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name in ("baseline", "no-ai", "closed-loop"):
        assert name in text


def test_history_cannot_be_combined_with_single_checks(capsys):
    assert main(["validate", "--history", "--check", "bias"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--history" in err


def test_an_out_that_cannot_be_written_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code = main(["run", "accumulate", "--steps", "1", "--out", str(blocker / "run")])
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("error: ") and "\n" not in error
    assert str(blocker) in error


def _one_line_error(capsys, argv) -> str:
    """Run ``ecosystem ARGV``: it must exit 2 with one line on stderr; returns that line."""
    try:
        code = main(argv)
    except SystemExit as exc:  # usage errors leave argparse by SystemExit
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.strip()


BAD_FILES = {
    "deep-array.toml": ("x = " + "[" * 50_000 + "]" * 50_000).encode(),
    "deep-table.toml": ("x = " + "{a=" * 50_000 + "1" + "}" * 50_000).encode(),
    "binary.toml": b"\x89PNG\r\n\x1a\n\x00\x00",
    "empty-extends.toml": b'extends = ""\n',
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_scenario_file_is_one_line_naming_it(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_bytes(BAD_FILES[name])
    for command in ("run", "show"):
        err = _one_line_error(capsys, [command, name])
        assert name.removesuffix(".toml") in err
    assert not (tmp_path / "runs").exists()


def test_a_directory_or_a_long_extends_chain_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.toml").mkdir()
    assert "folder.toml: not a file" in _one_line_error(capsys, ["run", "folder.toml"])
    for i in range(1500):
        (tmp_path / f"c{i}.toml").write_text(f'extends = "c{i + 1}.toml"\n')
    assert "more than 32 levels" in _one_line_error(capsys, ["run", "c0.toml"])
    assert not (tmp_path / "runs").exists()


def test_an_override_nested_too_deeply_is_one_line_from_the_real_cli(tmp_path):
    value = "[" * 50_000 + "]" * 50_000
    done = subprocess.run(
        [sys.executable, "-m", "ecosystem", "run", "accumulate", "--set", f"lab.bias={value}"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    expected = "error: override 'lab.bias': the value has arrays or tables nested too deeply\n"
    assert done.stderr == expected
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "baseline", "--bogus"], "unrecognized arguments: --bogus (see 'ecosystem run"),
        (
            ["run", "baseline", "extra"],
            "unrecognized arguments: extra (see 'ecosystem run --help')",
        ),
        (["show", "baseline", "--x", "1"], "unrecognized arguments: --x 1 (see 'ecosystem show"),
        (["sweep", "baseline", "--out", "o", "--bogus"], "(see 'ecosystem sweep --help')"),
        (["run", "baseline", "--seed", "x"], "invalid int value: 'x' (see 'ecosystem run --help')"),
        (
            ["run"],
            "run needs a SCENARIO (see 'ecosystem list') or --resume DIR (see 'ecosystem run",
        ),
        (["bogus"], "invalid choice: 'bogus'"),
    ],
)
def test_a_usage_error_is_one_line_pointing_to_the_commands_help(
    tmp_path, monkeypatch, capsys, argv, message
):
    monkeypatch.chdir(tmp_path)
    assert message in _one_line_error(capsys, argv)
    assert not (tmp_path / "runs").exists() and not (tmp_path / "o").exists()


def test_a_bad_model_parameter_fails_before_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["run", "baseline", "--steps", "2"]
    err = _one_line_error(capsys, [*argv, "--set", "companies.alpha.model.params.components=-3"])
    assert err.startswith("error: scenario 'baseline': companies.alpha.model.params.components: ")
    assert "(got -3); allowed: an integer >= 1 and <= 1000" in err
    out = tmp_path / "x"
    err = _one_line_error(
        capsys, [*argv, "--set", "companies.alpha.bias=5e-324", "--out", str(out)]
    )
    assert "companies.alpha.bias: Input should be greater than or equal to 0.01" in err
    assert not (tmp_path / "runs").exists() and not out.exists()


def test_a_device_this_machine_lacks_is_refused_before_anything_is_written(
    tmp_path, capsys, monkeypatch
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for setting, field in [
        ("metrics.device=cuda", "metrics.device"),
        ("model.params.device=cuda", "model.params.device"),
    ]:
        out = tmp_path / field
        command = ["run", "mad-digits-fully-synthetic", "--out", str(out), "--quiet"]
        assert main([*command, "--set", setting]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("error:") and len(error.splitlines()) == 1
        assert f"{field} 'cuda' was asked for" in error and "allowed here: auto, cpu" in error
        assert not (out / "manifest.json").exists()

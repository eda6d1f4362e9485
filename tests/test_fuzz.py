"""Property-based fuzzing of the command line: ``--set`` values, scenario files and result files.

The invariant, for every input: the command exits 0, or exits 2 with exactly one line on
stderr; it never prints a traceback; and it never changes an existing results directory.
Most cases call :func:`ecosystem.interfaces.cli.main` in this process (an exception escaping
it is a traceback); a few run the real console script. ``ECOSYSTEM_FUZZ=long`` runs ten times
as many examples. The module ends with a one-line tally of what happened.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import tomli_w
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ecosystem.experiments.sweep import plan_sweep, run_sweep, sweep_backend
from ecosystem.interfaces.cli import main
from ecosystem.runs.runner import run_scenario
from ecosystem.scenario import load_scenario
from ecosystem.scenario.description import describe_fields

TINY = str(Path(__file__).parent / "data" / "tiny-web.toml")
LONG = os.environ.get("ECOSYSTEM_FUZZ") == "long"


def _examples(short: int) -> settings:
    """``short`` examples (ten times as many in the long profile), no deadline, no database."""
    return settings(
        max_examples=short * 10 if LONG else short,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


TALLY: Counter = Counter()
FAILURES: dict[tuple[str, str], str] = {}
"""Each distinct failure, ``(command, last line)``, with the shortest input that gave it."""


@pytest.fixture(scope="module", autouse=True)
def tally(request):
    """Print the cases, clean exits and tracebacks of the module (and each distinct failure)."""
    yield TALLY
    lines = [
        f"fuzz tally: {TALLY['cases']} cases, {TALLY['exit 0']} exits 0, {TALLY['exit 2']} clean "
        f"exits 2, {TALLY['traceback']} tracebacks, {TALLY['other']} other invariant failures",
        *(f"fuzz failure: {cmd}: {last} <- {got}" for (cmd, last), got in sorted(FAILURES.items())),
    ]
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        for line in lines:
            if reporter is not None:
                reporter.write_line(line)
            else:
                print(line)


def _fail(command: str, last: str, given_input: str) -> None:
    key = (command, last[:300])
    if key not in FAILURES or len(given_input) < len(FAILURES[key]):
        FAILURES[key] = given_input[:400]


def _cli(argv: list[str], command: str, given_input: str) -> tuple[int, str, str]:
    """``main(argv)`` in this process: exit code, stdout, stderr; checks the invariant.

    An exception other than ``SystemExit`` escaping ``main`` is a traceback: it is counted
    and raised again, so that Hypothesis reports each distinct one.
    """
    TALLY["cases"] += 1
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    except Exception as exc:
        TALLY["traceback"] += 1
        last = traceback.format_exception_only(exc)[-1].strip()
        _fail(command, last, given_input)
        raise
    return _check(code, out.getvalue(), err.getvalue(), command, given_input)


def _check(code: int, out: str, err: str, command: str, given_input: str):
    if "Traceback (most recent call last)" in err:
        TALLY["traceback"] += 1
        _fail(command, err.strip().splitlines()[-1], given_input)
    elif code == 0:
        TALLY["exit 0"] += 1
        return code, out, err
    elif code == 2 and err.count("\n") == 1 and err.endswith("\n") and err.strip():
        TALLY["exit 2"] += 1
        return code, out, err
    else:
        TALLY["other"] += 1
        _fail(command, f"exit {code}, stderr {err[-200:]!r}", given_input)
    raise AssertionError(f"{command}: exit {code}, stderr ends:\n{err[-1500:]}")


def _hashes(directory: Path) -> dict[str, str]:
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A working directory for the module (commands that default to ./runs write there)."""
    directory = tmp_path_factory.mktemp("fuzz")
    previous = Path.cwd()
    os.chdir(directory)
    yield directory
    os.chdir(previous)


@pytest.fixture(scope="module")
def run_directory(workspace):
    """The tiny scenario run for 2 steps, with the hash of every file."""
    run = workspace / "made" / "tiny-s0"
    run_scenario(load_scenario(TINY, ["steps=2"]), run)
    return run, _hashes(run)


@pytest.fixture(scope="module")
def sweep_directory(workspace):
    """A sweep of 2 runs of 2 steps of the tiny scenario, with the hash of every file."""
    out = workspace / "made" / "sweep"
    plan = plan_sweep(TINY, out=out, grid=["web.initial_pages=400,600"], steps=2)
    with sweep_backend(workers=0) as backend:
        run_sweep(plan, backend)
    return out, _hashes(out)


@contextlib.contextmanager
def _copy(made: tuple[Path, dict], workspace: Path):
    """A copy of a pre-made results directory; neither may change while it is used."""
    source, hashes = made
    scratch = Path(tempfile.mkdtemp(dir=workspace))
    copy = scratch / source.name
    shutil.copytree(source, copy)
    try:
        yield copy, scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert _hashes(source) == hashes, f"{source} changed"


# --- strategies ---------------------------------------------------------------------------

FIELD_PATHS = sorted({doc.path for doc in describe_fields()})
NAMES = st.sampled_from(["alpha", "beta", "gamma", "delta", "zeta", "", "a.b", "ä"])
JUNK_KEYS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", ".", "..", "a..b", " web.homophily ", "web.", ".web", "web.homophily.x", "=", "seed"]
    ),
    st.lists(st.text("abcz_.-0", min_size=1, max_size=8), min_size=1, max_size=6).map(".".join),
)


@st.composite
def field_keys(draw) -> str:
    path = draw(st.sampled_from(FIELD_PATHS))
    return path.replace("<name>", draw(NAMES))


KEYS = st.one_of(field_keys(), field_keys(), JUNK_KEYS)
DEPTH = st.integers(1, 3000)
VALUES = st.one_of(
    st.text(max_size=40),
    st.integers().map(str),
    st.integers(min_value=10**18).map(str),
    st.just("9" * 5000),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["true", "false", "nan", "inf", "-inf", "-0", "1e309", "0x10", "1_000"]),
    st.sampled_from(['"text"', "'x'", '"', "[1, 2", "{a = 1}", "{}", "[]", "[[]]", '"""']),
    DEPTH.map(lambda n: "[" * n + "]" * n),
    DEPTH.map(lambda n: "{a=" * n + "1" + "}" * n),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.text(alphabet="[]{}=,\"'.0123456789e-+ \n\t", max_size=40),
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TOML_SCALARS = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)
SECTIONS = sorted({path.split(".")[0] for path in FIELD_PATHS})


@st.composite
def toml_documents(draw) -> bytes:
    """A TOML document of schema-like and junk keys with random values (sometimes invalid)."""
    document: dict = {}
    for key in draw(st.lists(field_keys(), max_size=6)):
        parts = key.split(".")
        if not all(parts):
            continue
        table = document
        for part in parts[:-1]:
            existing = table.setdefault(part, {})
            if not isinstance(existing, dict):
                break
            table = existing
        else:
            table[parts[-1]] = draw(TOML_SCALARS)
    for section in draw(st.lists(st.sampled_from(SECTIONS), max_size=2)):
        document[section] = draw(
            st.one_of(TOML_SCALARS, st.dictionaries(st.text(max_size=8), TOML_SCALARS, max_size=3))
        )
    if draw(st.booleans()):
        document["extends"] = draw(
            st.one_of(st.sampled_from(["baseline", "nope", ""]), TOML_SCALARS)
        )
    return tomli_w.dumps(document).encode("utf-8")


SCENARIO_FILES = st.one_of(
    toml_documents(),
    toml_documents(),
    st.binary(max_size=200),
    st.sampled_from([b"\xff\xfe\x00a", b"name = '\xe9'", b"[culture]\ntopics = 8\n\x80"]),
    DEPTH.map(lambda n: f"x = {'[' * n}{']' * n}\n".encode()),
    DEPTH.map(lambda n: f"x = {'{a=' * n}1{'}' * n}\n".encode()),
    st.integers(1, 300).map(lambda n: ("[" + ".".join(["a"] * n) + "]\n").encode()),
    st.text(max_size=200).map(str.encode),
)


# --- --set values -------------------------------------------------------------------------


@_examples(150)
@given(pairs=st.lists(st.tuples(KEYS, VALUES), min_size=1, max_size=3), bare=st.booleans())
@example(pairs=[("web.homophily", "[" * 2000 + "]" * 2000)], bare=False)
@example(pairs=[("culture.topics", "9" * 5000)], bare=False)
@example(pairs=[("web", "{a=1}")], bare=False)
def test_show_with_fuzzed_overrides(workspace, pairs, bare):
    overrides = [key if bare else f"{key}={value}" for key, value in pairs]
    argv = ["show", TINY, *(part for o in overrides for part in ("--set", o))]
    _cli(argv, "show tiny.toml --set", repr(overrides))


# --- scenario files -----------------------------------------------------------------------


@_examples(120)
@given(text=SCENARIO_FILES, chain=st.integers(0, 4), cycle=st.booleans())
@example(text=b"x = " + b"[" * 3000 + b"]" * 3000, chain=0, cycle=False)
@example(text=b"\xff\xfe", chain=0, cycle=False)
@example(text=b'extends = "baseline"\n[web]\ninitial_pages = "many"\n', chain=2, cycle=True)
def test_show_with_fuzzed_scenario_files(workspace, text, chain, cycle):
    """A fuzzed file, reached through a chain of ``extends`` (a cycle when ``cycle``)."""
    folder = Path(tempfile.mkdtemp(dir=workspace))
    try:
        (folder / "leaf.toml").write_bytes(text)
        top = "leaf"
        for level in range(chain):
            name = f"level{level}"
            (folder / f"{name}.toml").write_text(f'extends = "{top}.toml"\n')
            top = name
        if cycle and chain:
            (folder / "leaf.toml").write_bytes(f'extends = "{top}.toml"\n'.encode() + text)
        _cli(["show", str(folder / f"{top}.toml")], "show FILE", repr((text[:200], chain, cycle)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- result files -------------------------------------------------------------------------


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


RESULT_FILES = ("manifest.json", "timeseries.parquet", "summary.json")


@st.composite
def fuzzed_results(draw) -> tuple[str, str, object]:
    """Which file, how it is fuzzed, and the content: ``("manifest.json", "json", [1, 2, 3])``."""
    name = draw(st.sampled_from(RESULT_FILES))
    how = draw(st.sampled_from(["json", "key", "bytes", "missing", "parquet", "truncate"]))
    if how == "json":
        return name, how, draw(JSON)
    if how == "key":
        return name, how, (draw(st.text(max_size=20) | st.sampled_from(MANIFEST_KEYS)), draw(JSON))
    if how == "bytes":
        return name, how, draw(st.binary(max_size=300))
    if how == "parquet":
        columns = draw(
            st.sampled_from(
                [
                    {"a": [1, 2]},
                    {"step": ["x"], "scope": [1], "metric": [None], "value": ["v"]},
                    {"step": [], "generation": [], "scope": [], "metric": [], "value": []},
                    {"step": [0, 0], "generation": [0, 0], "scope": ["web", "web"]},
                ]
            )
        )
        return name, how, columns
    return name, how, draw(st.floats(0, 1))


MANIFEST_KEYS = [
    "status",
    "steps_completed",
    "steps_planned",
    "resolved_scenario",
    "scenario",
    "seed",
    "scenario_hash",
    "code_version",
    "versions",
    "wall_time_s",
    "error",
]


def _apply(copy: Path, fuzz: tuple[str, str, object]) -> None:
    name, how, content = fuzz
    path = copy / name
    if how == "json":
        path.write_text(json.dumps(content))
    elif how == "key":
        key, value = content  # type: ignore[misc]
        try:
            record = json.loads(path.read_bytes())
        except ValueError:
            record = {}
        if isinstance(record, dict):
            record[key] = value
        path.write_text(json.dumps(record))
    elif how == "bytes":
        path.write_bytes(content)  # type: ignore[arg-type]
    elif how == "missing":
        path.unlink()
    elif how == "parquet":
        path.write_bytes(_parquet(pd.DataFrame(content)))
    else:
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * content)])  # type: ignore[operator]


KNOWN = [
    ("manifest.json", "json", [1, 2, 3]),
    ("manifest.json", "json", {}),
    ("timeseries.parquet", "bytes", b"garbage"),
    ("manifest.json", "key", ("status", [1])),
    ("manifest.json", "key", ("resolved_scenario", "x")),
]


def _known(test):
    for fuzz in KNOWN:
        test = example(fuzz=fuzz)(test)
    return test


@_examples(12)
@given(fuzz=fuzzed_results())
@_known
def test_report_on_a_fuzzed_run_directory(run_directory, workspace, fuzz):
    with _copy(run_directory, workspace) as (copy, scratch):
        _apply(copy, fuzz)
        before = _hashes(copy)
        _cli(["report", str(copy), "--out", str(scratch / "report")], "report RUN", repr(fuzz))
        assert _hashes(copy) == before


@_examples(8)
@given(fuzz=fuzzed_results())
@_known
def test_compare_on_a_fuzzed_run_directory(run_directory, workspace, fuzz):
    with _copy(run_directory, workspace) as (copy, scratch):
        _apply(copy, fuzz)
        before = _hashes(copy)
        argv = ["compare", str(copy), "--out", str(scratch / "compare"), "--quiet"]
        _cli(argv, "compare RUN", repr(fuzz))
        assert _hashes(copy) == before


SWEEP_KEYS = ["runs", "parameters", "grid", "sample", "seeds", "scenario", "kind", "created"]
RUN_KEYS = ["id", "directory", "parameters", "seed", "status", "seconds", "error", "hash"]


@st.composite
def fuzzed_sweeps(draw) -> tuple[str, object]:
    how = draw(st.sampled_from(["key", "run", "json", "bytes"]))
    if how == "key":
        return how, (draw(st.sampled_from(SWEEP_KEYS) | st.text(max_size=8)), draw(JSON))
    if how == "run":
        return how, (draw(st.sampled_from(RUN_KEYS)), draw(JSON | st.just("../../..")))
    if how == "json":
        return how, draw(JSON)
    return how, draw(st.binary(max_size=200))


@_examples(15)
@given(fuzz=fuzzed_sweeps())
@example(fuzz=("key", ("runs", "a string")))
@example(fuzz=("key", ("parameters", 5)))
@example(fuzz=("run", ("parameters", [1, 2, 3])))
@example(fuzz=("json", {"kind": "sweep"}))
def test_report_on_a_fuzzed_sweep_directory(sweep_directory, workspace, fuzz):
    with _copy(sweep_directory, workspace) as (copy, scratch):
        how, content = fuzz
        path = copy / "sweep.json"
        record = json.loads(path.read_text())
        if how == "key":
            key, value = content  # type: ignore[misc]
            record[key] = value
            path.write_text(json.dumps(record))
        elif how == "run":
            key, value = content  # type: ignore[misc]
            record["runs"][0][key] = value
            path.write_text(json.dumps(record))
        elif how == "json":
            path.write_text(json.dumps(content))
        else:
            path.write_bytes(content)  # type: ignore[arg-type]
        before = _hashes(copy)
        _cli(["report", str(copy), "--out", str(scratch / "r")], "report SWEEP", repr(fuzz))
        assert _hashes(copy) == before


# --- a few real processes -----------------------------------------------------------------


def test_real_processes_keep_the_invariant(run_directory, workspace):
    """The console script itself, on a few inputs of each kind, all started at once."""
    bad_file = workspace / "bad.toml"
    bad_file.write_bytes(b"x = " + b"[" * 3000 + b"]" * 3000)
    with _copy(run_directory, workspace) as (copy, scratch):
        (copy / "manifest.json").write_text("[1, 2, 3]")
        cases = {
            "show --set": ["show", TINY, "--set", "culture.topics=" + "[" * 2000 + "]" * 2000],
            "show FILE": ["show", str(bad_file)],
            "report RUN": ["report", str(copy), "--out", str(scratch / "r")],
        }
        environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
        procs = {
            name: subprocess.Popen(
                [sys.executable, "-m", "ecosystem", *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=environment,
            )
            for name, argv in cases.items()
        }
        failed = []
        for name, proc in procs.items():
            out, err = proc.communicate(timeout=120)
            TALLY["cases"] += 1
            try:
                _check(proc.returncode, out, err, f"{name} (process)", repr(cases[name])[:200])
            except AssertionError as exc:
                failed.append(str(exc))
        assert not failed, "\n".join(failed)

"""Studies under uncertainty: Sobol indices of the Ishigami function through the whole study
path, PRIM on a planted box, regret of a dominating policy, a real study on Dask resumed after
a kill, study-file errors and the reports and app readers of study directories."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecosystem.experiments.uncertainty import (
    ANALYSERS,
    load_study,
    most_robust,
    plan_study,
    prim_boxes,
    read_study,
    robustness_table,
    run_study,
    sample_design,
)
from ecosystem.experiments.uncertainty.study import Outcome
from ecosystem.interfaces.cli import main
from ecosystem.runs.backends import InProcess
from ecosystem.runs.results import read_status
from ecosystem.scenario import ScenarioError
from ecosystem.world.simulations import SIMULATIONS, register_simulation

DATA = Path(__file__).parent / "data"
TINY_STUDY = DATA / "studies" / "tiny-study.toml"
ISHIGAMI_S1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ISHIGAMI_ST = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}
"""The Ishigami function's indices for a = 7, b = 0.1 (Ishigami and Homma 1990; SALib)."""


class Ishigami:
    """A one-step analytic "scenario": y = sin x1 + 7 sin² x2 + 0.1 x3⁴ sin x1 with
    x = -π + 2π u for three fields u in [0, 1], plus ``creators.attrition`` x 1000 (a policy
    that raises it dominates)."""

    def __init__(self, scenario):
        self.scenario = scenario
        self.done = False

    def advance(self):
        if self.done:
            return None
        self.done = True
        s = self.scenario
        u = (s.creators.adoption, s.creators.opt_out_rate, s.attention.ai_visibility)
        x = [-math.pi + 2 * math.pi * value for value in u]
        y = math.sin(x[0]) + 7 * math.sin(x[1]) ** 2 + 0.1 * x[2] ** 4 * math.sin(x[0])
        return 1, [(1, "model", "precision", y + 1000 * s.creators.attrition)]


if "ishigami" not in SIMULATIONS:
    register_simulation("ishigami", Ishigami, "the Ishigami test function")


def _ishigami_study(folder: Path, *, method="sobol", n=128, extra="") -> Path:
    (folder / "ishigami.toml").write_text('mode = "ishigami"\nsteps = 1\n')
    fields = ("creators.adoption", "creators.opt_out_rate", "attention.ai_visibility")
    uncertainties = "".join(
        f'[uncertainties.x{i}]\npath = "{field}"\nlow = 0\nhigh = 1\n\n'
        for i, field in enumerate(fields, start=1)
    )
    text = (
        'scenario = "ishigami.toml"\n\n'
        f"{uncertainties}"
        '[outcomes.y]\nscope = "model"\nmetric = "precision"\nstatistic = "final"\n'
        "threshold = 5.0\n\n"
        f'[sensitivity]\nmethod = "{method}"\nn = {n}\n\n'
        "[robustness]\nn = 8\n\n"
        "[policies.plain]\n\n"
        '[policies.better]\nset = ["creators.attrition=0.006"]\n\n'
        f"{extra}"
    )
    path = folder / "study.toml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def ishigami_sobol(tmp_path_factory):
    """The Sobol study of the Ishigami function (N = 128: 640 runs), in this process."""
    folder = tmp_path_factory.mktemp("ishigami")
    study = _ishigami_study(folder)
    out = folder / "sobol"
    plan = plan_study(study, "sensitivity", out)
    result = run_study(plan, InProcess(), ANALYSERS["sensitivity"])
    assert result is not None
    return out, result


@pytest.mark.slow
def test_the_sobol_path_recovers_the_ishigami_indices_within_salib_intervals(ishigami_sobol):
    out, result = ishigami_sobol
    indices = result.tables["indices"]
    assert len(pd.read_parquet(out / "cases.parquet")) == 128 * 5
    for name, expected in [("S1", ISHIGAMI_S1), ("ST", ISHIGAMI_ST)]:
        rows = indices[indices["index"] == name].set_index("uncertainty")
        for uncertainty, value in expected.items():
            found, conf = rows.loc[uncertainty, "value"], rows.loc[uncertainty, "conf"]
            assert 0 < conf < 0.25, (name, uncertainty, conf)
            assert abs(found - value) <= conf, (name, uncertainty, found, conf, value)
    assert result.summary["top"]["y"][2]["uncertainty"] == "x3"  # the smallest total effect


def test_a_study_directory_records_the_study_and_its_files(ishigami_sobol):
    out, _ = ishigami_sobol
    record, tables = read_study(out)
    assert record["analysis"] == "sensitivity" and record["status"] == "complete"
    assert record["design"]["method"] == "sobol" and record["design"]["rows"] == 640
    assert set(tables) == {"cases", "indices"} and (out / "indices.png").stat().st_size > 10_000
    assert json.loads((out / "sweep.json").read_text())["sample"]["analysis"] == "sensitivity"


def test_running_a_study_again_reuses_every_run(ishigami_sobol, capsys):
    out, _ = ishigami_sobol
    study = out.parent / "study.toml"
    assert main(["sensitivity", str(study), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "640 runs (640 already complete, 0 to run)" in printed
    assert "640 runs (640 reused)" in printed


def test_morris_finds_every_ishigami_input_and_x3_acting_through_an_interaction(tmp_path):
    study = _ishigami_study(tmp_path, method="morris", n=30)
    plan = plan_study(study, "sensitivity", tmp_path / "morris")
    assert plan.design.rows == 30 * 4
    result = run_study(plan, InProcess(), ANALYSERS["sensitivity"])
    indices = result.tables["indices"]
    mu_star, mu, sigma = (
        indices[indices["index"] == key].set_index("uncertainty")["value"]
        for key in ("mu_star", "mu", "sigma")
    )
    assert (mu_star > 1).all() and (sigma > 1).all()
    # x3 only scales sin x1: its effects change sign with x1, so they cancel in mu, not mu*
    assert abs(mu["x3"]) < 0.5 * mu_star["x3"]
    assert (indices[indices["index"] == "mu_star"]["conf"] > 0).all()


def test_designs_map_the_unit_cube_through_each_distribution(tmp_path):
    study = load_study(TINY_STUDY)
    design = sample_design(study, "lhs", 400)
    ai_output, adoption, bias = design.values.T
    assert ai_output.min() >= 20 and ai_output.max() <= 80
    assert adoption.min() >= 0.1 and adoption.max() <= 0.6
    assert bias.min() >= 0.7 and bias.max() <= 1.0
    assert abs(np.median(bias) - 0.8732) < 0.01  # the triangular (0.7, 0.9, 1.0) median
    again = sample_design(study, "lhs", 400)
    np.testing.assert_array_equal(design.unit, again.unit)  # seeded by the study, not a global


def test_prim_finds_a_planted_box():
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.random((1500, 4)), columns=["a", "b", "c", "d"])
    interesting = ((x["a"] < 0.3) & (x["b"] > 0.6)).to_numpy()
    boxes, peeling = prim_boxes(x, interesting, density=0.9, boxes=1)
    restricted = boxes[boxes["restricted"]].set_index("uncertainty")
    assert sorted(restricted.index) == ["a", "b"]
    assert restricted.loc["a", "upper"] == pytest.approx(0.3, abs=0.04)
    assert restricted.loc["b", "lower"] == pytest.approx(0.6, abs=0.04)
    assert boxes["density"].iloc[0] >= 0.9 and boxes["coverage"].iloc[0] >= 0.85
    assert peeling["chosen"].sum() == 1 and peeling["coverage"].iloc[0] == 1.0


def test_prim_without_any_case_of_interest_is_a_one_line_error():
    x = pd.DataFrame({"a": np.linspace(0, 1, 20)})
    with pytest.raises(ValueError, match="no future is of interest"):
        prim_boxes(x, np.zeros(20, dtype=bool))


def test_the_regret_of_a_dominating_policy_is_zero():
    rng = np.random.default_rng(0)
    base = rng.normal(size=30)
    values = pd.DataFrame({"a": base, "b": base + 1.0, "c": base + rng.random(30)})
    up = robustness_table(values, Outcome(scope="web", metric="recall", threshold=0.5))
    up = up.set_index("policy")
    assert up.loc["b", "max_regret"] == 0 and up.loc["b", "mean_regret"] == 0
    assert up.loc["a", "max_regret"] == pytest.approx(1.0)
    assert most_robust(up.reset_index(), "regret", "maximize") == "b"
    assert up.loc["b", "satisficing"] == pytest.approx((base + 1 >= 0.5).mean())
    down = robustness_table(values, Outcome(scope="web", metric="recall", direction="minimize"))
    down = down.set_index("policy")
    assert down.loc["a", "max_regret"] == 0 and down.loc["b", "max_regret"] == pytest.approx(1.0)


def test_a_robust_study_runs_every_policy_on_the_same_futures(tmp_path, capsys):
    study = _ishigami_study(tmp_path)
    out = tmp_path / "robust"
    assert main(["robust", str(study), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "most robust policy: better" in printed and "minimax regret" in printed
    _, tables = read_study(out)
    cases = tables["cases"]
    plain, better = (cases[cases["policy"] == p].set_index("future") for p in ("plain", "better"))
    pd.testing.assert_frame_equal(
        plain[["x1", "x2", "x3", "seed"]], better[["x1", "x2", "x3", "seed"]]
    )
    np.testing.assert_allclose(better["y"] - plain["y"], 1.0, atol=1e-9)
    table = tables["robustness"].set_index("policy")
    assert table.loc["better", "max_regret"] == 0 and table.loc["plain", "max_regret"] == 1.0
    assert table.loc["better", "most_robust"] and table.loc["better", "rank"] == 1


def test_discover_writes_the_box_under_which_the_outcome_is_low(tmp_path, capsys):
    study = _ishigami_study(tmp_path, extra="[discovery]\nn = 150\ndensity = 0.6\nboxes = 1\n")
    out = tmp_path / "discover"
    argv = ["discover", str(study), "--outcome", "y", "--below", "7", "--out", str(out)]
    assert main([*argv, "--workers", "0", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "futures have y < 7" in printed and "box 1: coverage" in printed
    record, tables = read_study(out)
    boxes = tables["boxes"]
    # y < 7 (2 without the policy's 5) is likeliest where sin x1 < 0: u1 below 1/2
    restricted = boxes[boxes["restricted"]].set_index("uncertainty")
    assert list(restricted.index) == ["x1"] and restricted.loc["x1", "upper"] < 0.6
    assert record["summary"]["boxes"][0]["density"] >= 0.6
    assert (out / "peeling.png").is_file() and (out / "box-limits.png").is_file()


@pytest.mark.slow
def test_a_small_real_study_on_two_dask_workers_resumes_after_a_kill(tmp_path, capsys):
    out = tmp_path / "robust"
    argv = ["robust", str(TINY_STUDY), "--out", str(out), "--workers", "2", "--quiet"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecosystem", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if any(read_status(run) == "complete" for run in out.glob("runs/*")):
            break
        time.sleep(0.02)
    else:
        proc.kill()
        raise AssertionError(f"no run completed: {proc.communicate()}")
    os.killpg(proc.pid, signal.SIGKILL)  # the command and its Dask workers, at once
    proc.communicate(timeout=60)
    assert json.loads((out / "study.json").read_text())["status"] == "running"
    assert main(argv) == 0
    printed = capsys.readouterr().out
    reused = int(printed.split(" already complete")[0].rsplit("(", 1)[1])
    assert 1 <= reused <= 6 and "most robust policy" in printed
    record, tables = read_study(out)
    assert record["status"] == "complete" and len(tables["cases"]) == 6
    assert set(tables["robustness"]["policy"]) == {"baseline", "cap"}
    fresh = tmp_path / "fresh"
    plan = plan_study(TINY_STUDY, "robustness", fresh)
    run_study(plan, InProcess(), ANALYSERS["robustness"])
    _, again = read_study(fresh)
    columns = ["future", "policy", "seed", "web_recall", "creator_income"]
    pd.testing.assert_frame_equal(tables["cases"][columns], again["cases"][columns])


BAD_STUDIES = [
    (
        'path = "creators.adoption"',
        'pathz = "creators.adoption"',
        "unknown key 'uncertainties.x1.pathz'",
    ),
    ("[uncertainties.x1]\n", '[uncertainties.x1]\ndistribution = "lognormal"\n', "x1.distribution"),
    ('adoption"\nlow = 0', 'adoption"\nlow = 2', "low must be below high"),
    ('metric = "precision"', 'metric = "recal"', "has no series 'recal'"),
    ('"creators.adoption"', '"creators.nope"', "creators.nope"),
    ('"creators.adoption"', '"world"', "uncertainties.x1"),
    ('method = "sobol"', 'method = "fast"', "sensitivity.method"),
    ('scenario = "ishigami.toml"', 'seeds = 0\nscenario = "ishigami.toml"', "seeds"),
    ("[outcomes.y]", '[outcomes."bad name"]', "'bad name'"),
    ("[outcomes.y]", "[outcomes.y", "invalid TOML"),
    ('scenario = "ishigami.toml"', 'scenario = "nowhere.toml"', "nowhere"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_STUDIES)
def test_a_bad_study_file_is_one_line_exit_2_and_leaves_results_untouched(
    tmp_path, capsys, old, new, message, ishigami_sobol
):
    out, _ = ishigami_sobol
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    study = _ishigami_study(tmp_path)
    text = study.read_text()
    assert old in text
    study.write_text(text.replace(old, new, 1))
    assert main(["sensitivity", str(study), "--out", str(out), "--workers", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sensitivity", "{study}", "--method", "sobol", "--n", "100"], "power of two"),
        (["sensitivity", "{study}", "--policy", "nope"], "unknown --policy 'nope'"),
        (["discover", "{study}", "--outcome", "z", "--below", "1"], "unknown --outcome 'z'"),
        (["discover", "{study}", "--outcome", "y", "--below", "1", "--density", "2"], "--density"),
        (["robust", "{study}", "--criterion", "best"], "--criterion"),
        (["discover", "{study}", "--outcome", "y"], "one of the arguments --below --above"),
        (["sensitivity", "no-such-study"], "unknown study 'no-such-study'"),
        (["discover", "{study}", "--outcome", "y", "--below", "1", "--out", "{out}"], "holds a"),
    ],
)
def test_bad_study_commands_are_one_line_exit_2(tmp_path, capsys, argv, message, ishigami_sobol):
    out, _ = ishigami_sobol
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    study = _ishigami_study(tmp_path)
    argv = [part.format(study=study, out=out) for part in argv]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "new")]
    try:
        code = main([*argv, "--workers", "0"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "new").exists()
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before


def test_the_packaged_study_loads_with_six_uncertainties_and_five_policies():
    study = load_study("levers-under-uncertainty")
    assert len(study.uncertainties) >= 6 and len(study.policy_names) == 5
    plan = plan_study("levers-under-uncertainty", "sensitivity", Path("/nonexistent/study"))
    assert plan.design.rows == 70 and len(plan.sweep.runs) <= 70
    scenario = plan.sweep.runs[0].scenario
    assert {c.pages_per_month for c in scenario.companies.values()} == {
        plan.sweep.runs[0].parameters["ai_output"]
    }


def test_a_study_read_back_refuses_a_changed_table(ishigami_sobol, tmp_path):
    out, _ = ishigami_sobol
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("study.json", "cases.parquet", "indices.parquet"):
        (copy / name).write_bytes((out / name).read_bytes())
    (copy / "indices.parquet").write_bytes(b"not parquet")
    with pytest.raises(ScenarioError, match="checksum"):
        read_study(copy)


@pytest.fixture(scope="module")
def ishigami_studies(tmp_path_factory):
    """A robustness and a discovery study of the Ishigami function, in this process."""
    folder = tmp_path_factory.mktemp("ishigami-studies")
    study = _ishigami_study(folder, extra="[discovery]\nn = 150\ndensity = 0.6\nboxes = 2\n")
    robust = plan_study(study, "robustness", folder / "robust", options={"criterion": "regret"})
    run_study(robust, InProcess(), ANALYSERS["robustness"])
    options = {"outcome": "y", "side": "below", "threshold": 7.0, "density": 0.6, "boxes": 2}
    discover = plan_study(study, "discovery", folder / "discover", options=options)
    run_study(discover, InProcess(), ANALYSERS["discovery"])
    return {"robustness": folder / "robust", "discovery": folder / "discover"}


@pytest.mark.parametrize("analysis", ["sensitivity", "discovery", "robustness"])
def test_report_draws_a_study_with_its_tables_and_provenance(
    analysis, ishigami_sobol, ishigami_studies, tmp_path, capsys
):
    source = ishigami_sobol[0] if analysis == "sensitivity" else ishigami_studies[analysis]
    page = tmp_path / "report.html"
    assert main(["report", str(source), "--out", str(page)]) == 0
    assert "study report" in capsys.readouterr().out
    html = page.read_text()
    figures = {
        "sensitivity": ["indices.png"],
        "discovery": ["peeling.png", "box-limits.png"],
        "robustness": ["robustness.png"],
    }[analysis]
    for name in figures:
        assert (tmp_path / "report" / name).stat().st_size > 5_000
    assert html.count("data:image/png;base64,") == len(figures)
    assert "Uncertainties" in html and "Provenance" in html and "x3" in html
    words = {"sensitivity": "total-order", "discovery": "coverage", "robustness": "max_regret"}
    assert words[analysis] in html


def test_a_study_still_running_is_refused_by_report_unless_allowed(ishigami_studies, tmp_path):
    copy = tmp_path / "study"
    copy.mkdir()
    source = ishigami_studies["robustness"]
    record = json.loads((source / "study.json").read_text())
    record["status"] = "interrupted"
    (copy / "study.json").write_text(json.dumps(record))
    for name in record["files"]:
        (copy / name).write_bytes((source / name).read_bytes())
    assert main(["report", str(copy)]) == 2
    assert main(["report", str(copy), "--allow-incomplete"]) == 0
    assert "is interrupted" in (copy / "report.html").read_text()


def test_the_app_uncertainty_tab_reads_a_finished_study(ishigami_studies, monkeypatch, tmp_path):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("ECOSYSTEM_APP_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("ECOSYSTEM_APP_STUDIES", str(ishigami_studies["robustness"].parent))
    app = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=120)
    app.run()
    assert "Uncertainty" in [tab.label for tab in app.tabs]  # there before anything runs
    found = app.selectbox(key="study_found")
    assert str(ishigami_studies["robustness"]) in found.options
    found.select(str(ishigami_studies["robustness"])).run()
    assert not app.exception, [e.value for e in app.exception]
    text = " ".join(m.value for m in app.markdown)
    assert "Most robust policy: **better**" in text
    assert len(app.dataframe) >= 2
    app.text_input(key="study_path").input(str(ishigami_studies["discovery"])).run()
    text = " ".join(m.value for m in app.markdown)
    assert "Box 1" in text and "futures have y < 7" in text
    app.text_input(key="study_path").input(str(tmp_path / "nothing")).run()
    assert any("Cannot read" in e.value for e in app.error)


def test_list_names_the_packaged_studies(capsys):
    assert main(["list"]) == 0
    printed = capsys.readouterr().out
    assert "levers-under-uncertainty" in printed and "Six uncertain assumptions" in printed

"""Comparisons that read themselves (names, differing settings, effects against a base) and the
one-lever study of the explorer."""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecosystem.experiments.sweep import read_sweep
from ecosystem.interfaces.comparison_view import (
    arm_names,
    differing_settings,
    effect_table,
    group_arms,
    setting_label,
    verdict,
)
from ecosystem.interfaces.lever_study import (
    LeverStudy,
    LeverStudyJob,
    default_values,
    parse_values,
)

TINY = Path(__file__).parent / "data" / "tiny-web.toml"


def _manifest(seed: int, detection: bool, cap: float = 1.0) -> dict:
    resolved = {
        "name": "baseline",
        "seed": seed,
        "steps": 3,
        "mode": "ecosystem",
        "start": "2022-01",
        "policy": {"detection": {"enabled": detection, "tpr": 0.95}, "cap": {"ai_share_max": cap}},
        "attention": {"chat_share": {"2023-01": 0.0, "2025-01": 0.3}},
    }
    return {"scenario": "baseline", "seed": seed, "resolved_scenario": resolved}


def _frame(synthetic: float, recall: float) -> pd.DataFrame:
    rows = []
    for step in range(4):
        rows.append((step, 0, "web", "synthetic_share", synthetic * step / 3))
        rows.append((step, 0, "web", "recall", 1.0 - (1.0 - recall) * step / 3))
        rows.append((step, 0, "web_new", "pages_new", 100.0))
    return pd.DataFrame(rows, columns=["step", "generation", "scope", "metric", "value"])


def _arms(seeds: int = 3, effect: float = 0.1):
    noise = np.random.default_rng(7).normal(0.0, 0.005, size=(2, seeds))
    runs = []
    for arm, detection in enumerate((False, True)):
        for seed in range(seeds):
            shift = effect if detection else 0.0
            frame = _frame(0.5 - shift + noise[arm, seed], 0.8 + shift / 2 + noise[arm, seed])
            runs.append((f"runs/d{arm}-s{seed}", _manifest(seed, detection), frame))
    return group_arms(runs)


def test_runs_group_into_settings_named_after_what_differs():
    arms = _arms()
    assert [arm.name for arm in arms] == ["detection off", "detection on"]
    assert [arm.seeds for arm in arms] == [[0, 1, 2], [0, 1, 2]]
    table = differing_settings(arms)
    assert table.to_dict("records") == [
        {
            "setting": "detection",
            "field": "policy.detection.enabled",
            "detection off": "off",
            "detection on": "on",
        }
    ]
    assert arms[0].settings["attention.chat_share"] == {"2023-01": 0.0, "2025-01": 0.3}
    frame = arms[1].frame
    assert set(frame["scenario"]) == {"detection on"} and sorted(set(frame["seed"])) == [0, 1, 2]


def test_names_say_numbers_and_stay_unique():
    runs = [
        ("a", _manifest(0, False, cap=1.0), _frame(0.5, 0.8)),
        ("b", _manifest(0, False, cap=0.25), _frame(0.5, 0.8)),
    ]
    assert [arm.name for arm in group_arms(runs)] == [
        "cap: ai share max 1",
        "cap: ai share max 0.25",
    ]
    same = group_arms([runs[0]])
    assert arm_names(same + same) == ["baseline", "baseline (2)"]
    assert setting_label("companies.alpha.bias") == "alpha: bias"
    assert setting_label("creators.opt_out_ceiling") == "creators: opt out ceiling"


def test_the_effect_table_gives_change_percent_p_and_better_or_worse():
    arms = _arms(seeds=3, effect=0.1)
    table = effect_table(arms, "detection off").set_index("metric")
    synthetic = table.loc["synthetic_share"]
    assert synthetic["run"] == "detection on" and synthetic["seeds"] == 3
    assert synthetic["Δ"] == pytest.approx(-0.1 * 2 / 3, abs=0.01)  # mean of steps 1-3
    assert synthetic["Δ %"] == pytest.approx(-20.0, abs=4.0)
    assert synthetic["p"] < 0.01
    assert synthetic["verdict"] == "better"  # less synthetic content is better for the web
    assert table.loc["recall", "verdict"] == "better"
    assert "[" in synthetic["base"] and "[" in synthetic["value"]  # intervals across seeds
    # against the other base the same effect reads the other way
    flipped = effect_table(arms, "detection on").set_index("metric")
    assert flipped.loc["synthetic_share", "verdict"] == "worse"
    with pytest.raises(ValueError, match="base run 'nope' is not one of"):
        effect_table(arms, "nope")


def test_one_seed_gives_a_hedged_verdict_and_no_test():
    table = effect_table(_arms(seeds=1), "detection off").set_index("metric")
    assert math.isnan(table.loc["synthetic_share", "p"])
    assert table.loc["synthetic_share", "verdict"] == "better?"


def test_a_change_within_the_noise_is_no_clear_change():
    assert verdict(0.01, 0.4, "higher", 3) == "no clear change"
    assert verdict(-0.01, 0.01, "higher", 3) == "worse"
    assert verdict(0.5, 0.01, "", 3) == ""
    assert verdict(0.0, float("nan"), "lower", 3) == "no change"


def test_every_series_on_request():
    table = effect_table(_arms(), "detection off", every=True)
    assert "pages_new" in set(table["metric"])
    assert table.loc[table["metric"] == "pages_new", "verdict"].item() == ""


# --- the one-lever study


def test_a_lever_study_is_the_sweep_command_line():
    study = LeverStudy(
        str(TINY),
        "policy.cap.ai_share_max",
        ("1.0", "0.25"),
        seeds=2,
        steps=3,
        overrides=("seed=4",),
        scenario_argument="tiny-web",
    )
    out = study.directory("runs/studies")
    assert out.parent == Path("runs/studies") and out.name.startswith("tiny-web-policy_cap")
    assert study.command(out) == (
        "ecosystem sweep tiny-web --grid policy.cap.ai_share_max=1.0,0.25 --seeds 2 "
        f"--steps 3 --set seed=4 --workers 0 --out {out}"
    )
    assert parse_values(" 1.0, ,0.25 ") == ("1.0", "0.25")
    assert default_values(True, None, None) == ("false", "true")
    assert default_values(0.5, 0.0, 1.0) == ("0", "0.333333", "0.666667", "1")
    assert default_values(6, 1, None) == ("1", "5", "8", "12")


def test_a_lever_study_needs_two_values(tmp_path):
    study = LeverStudy(str(TINY), "policy.cap.ai_share_max", ("1.0",), seeds=1, steps=2)
    with pytest.raises(ValueError, match=r"give 2 to 8 values of policy\.cap\.ai_share_max"):
        LeverStudyJob(study, tmp_path / "s", threading.Semaphore(1))


def test_a_lever_study_runs_every_value_and_reads_back(tmp_path):
    study = LeverStudy(str(TINY), "policy.detection.enabled", ("false", "true"), seeds=1, steps=2)
    job = LeverStudyJob(study, tmp_path / "study", threading.Semaphore(1))
    assert job.total == 2
    assert job.wait(240) and job.error is None and job.failed == []
    assert job.finished == 2
    frame = read_sweep(tmp_path / "study")
    assert set(frame["policy.detection.enabled"]) == {False, True}

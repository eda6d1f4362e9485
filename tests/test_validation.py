"""Validation against published results: the fast subset of every check passes."""

import json
import math

import pytest
import torch

from ecosystem.experiments.history_validation import history_checks
from ecosystem.experiments.text_validation import TEXT_CHECKS, binomial_chain_survival
from ecosystem.experiments.validation import CHECKS, Check, run_checks
from ecosystem.interfaces.cli import main


@pytest.fixture(scope="module")
def fast_results() -> dict[str, list[Check]]:
    return {name: run_checks([name], fast=True) for name in CHECKS}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CHECKS))
def test_fast_check_reproduces_the_published_result(fast_results, name):
    rows = fast_results[name]
    assert rows
    for row in rows:
        assert row.passed, f"{row.check}: expected {row.expected}, measured {row.measured}"
        assert row.source and row.tolerance and row.measured


@pytest.mark.slow
def test_rows_are_json_ready(fast_results):
    rows = [row.as_dict() for rows in fast_results.values() for row in rows]
    assert json.loads(json.dumps(rows)) == rows
    assert all(isinstance(row["passed"], bool) for row in rows)


def test_derived_log_variance_drop_matches_the_reference():
    # reference/model-collapse.md: psi((n-1)/2) + ln(2/n) = -0.020185 for n = 100
    drop = float(torch.special.digamma(torch.tensor(99 / 2, dtype=torch.float64))) + math.log(
        2 / 100
    )
    assert drop == pytest.approx(-0.020185, abs=5e-7)


def test_unknown_check_is_refused():
    with pytest.raises(ValueError, match="unknown check 'bogus' of the vectors world; available"):
        run_checks(["bogus"])
    with pytest.raises(ValueError, match="of the text world; available: wright-fisher"):
        run_checks(["bias"], world="text")


@pytest.mark.parametrize("name", list(TEXT_CHECKS))
def test_fast_text_check_reproduces_the_law(name):
    rows = run_checks([name], fast=True, world="text")
    assert rows
    for row in rows:
        assert row.passed, f"{row.check}: expected {row.expected}, measured {row.measured}"
        assert row.source and row.tolerance and row.measured


def test_the_binomial_chain_is_exact():
    n = 50
    survival = binomial_chain_survival(n, 6)
    counts = torch.arange(n + 1, dtype=torch.float64)
    first = 1 - (1 - counts / n) ** n  # one generation: the chance of at least one copy
    assert torch.allclose(torch.from_numpy(survival[:, 1]), first, atol=1e-12)
    assert survival[0].max() == 0 and survival[n].min() == 1  # both ends absorb
    # a word of count 3 survives 6 steps as often as in a direct simulation of the chain
    generator = torch.Generator().manual_seed(0)
    state = torch.full((200_000,), 3.0, dtype=torch.float64)
    for _ in range(6):
        state = torch.binomial(torch.full_like(state, n), state / n, generator=generator)
    alive = float((state > 0).double().mean())
    assert alive == pytest.approx(survival[3, 6], abs=4 * math.sqrt(alive * (1 - alive) / 2e5))


def test_validate_runs_the_text_world_and_refuses_history_with_it(capsys, tmp_path):
    out = tmp_path / "text.json"
    argv = ["validate", "--world", "text", "--fast", "--check", "top-k", "--json", str(out)]
    assert main(argv) == 0
    assert "validation of the text world (fast)" in capsys.readouterr().out
    assert [row["passed"] for row in json.loads(out.read_text())] == [True] * 4
    assert main(["validate", "--world", "text", "--history"]) == 2
    assert "--history validates the calibrated baseline" in capsys.readouterr().err


def test_a_failed_check_is_reported_not_hidden():
    row = Check("c", "s", "1", "2", "t", passed=0)
    assert row.passed is False


@pytest.mark.slow
def test_baseline_reproduces_the_measured_history():
    rows = history_checks(fast=True)
    names = " ".join(row.check for row in rows)
    for topic in ("Nov 2023", "2025", "click-through", "opt-out", "crawls per referral", "truth"):
        assert topic in names
    assert len(rows) >= 12 and all(row.source and row.tolerance for row in rows)
    for row in rows:
        assert row.passed, f"{row.check}: expected {row.expected}, measured {row.measured}"


@pytest.mark.parametrize("name", ["fully-synthetic", "accumulate"])
def test_fast_digits_check_shows_the_loop_going_mad(name):
    rows = run_checks([name], fast=True, world="digits")
    assert rows
    for row in rows:
        assert row.passed, f"{row.check}: expected {row.expected}, measured {row.measured}"
        assert row.source and row.tolerance and row.measured

"""Validation against published results: the fast subset of every check passes."""

import json
import math

import pytest
import torch

from ecosystem.experiments.validation import CHECKS, Check, history_checks, run_checks


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
    with pytest.raises(ValueError, match="unknown check 'bogus'; available"):
        run_checks(["bogus"])


def test_a_failed_check_is_reported_not_hidden():
    row = Check("c", "s", "1", "2", "t", passed=0)
    assert row.passed is False


@pytest.mark.slow
def test_baseline_reproduces_the_measured_history():
    rows = history_checks(fast=True)
    names = " ".join(row.check for row in rows)
    for topic in ("Nov 2023", "2025", "click-through", "opt-out"):
        assert topic in names
    for row in rows:
        assert row.passed, f"{row.check}: expected {row.expected}, measured {row.measured}"

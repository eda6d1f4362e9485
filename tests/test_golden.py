"""Golden series: the same scenario and seed give the series the reference code gave.

The references in ``tests/data/golden/`` are the series of these runs as written by the code
of version 0.2.0 (commit 358b25a), read back exactly (Parquet, float64); the three ecosystem
references (``baseline-*``, ``tiny-web-full``) were written again when the measurement took
common random numbers and exact values (permanent page keys for the page samples, the same
base noise for every model sample, log-likelihood and topic metrics over all pages): the
simulated web is the same, only what is measured of it changed. The same three were written
again when the history calibration changed the baseline (opt-out that saturates, each
company's clicks per answer, the AI pages' visibility in search and in answers, the companies'
output) and added series (readers' belief, homogenisation of the models, the human stock of
the tail, per-company crawls per referral); before that change, every series of the 12-month
baseline but the month-12 referrals (now per company) was checked unchanged. A run now must hold
the same rows in the same order (step, generation, scope, metric) and the same values up to
the rounding of the BLAS kernels: numpy's OpenBLAS and torch pick their kernels by CPU (and
``OPENBLAS_CORETYPE``), and another kernel may sum in another order, which moved a few
values (the income Gini's dot product) by one unit in the last place between machines.
Anything larger is a change of the science. Update a reference only with a reason written
next to it (a documented rename of a series, a deliberate model change).
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ecosystem import load_scenario, run_scenario

DATA = Path(__file__).parent / "data"
REFERENCES = DATA / "golden"
KEYS = ["scenario", "seed", "step", "generation", "scope", "metric"]
RTOL, ATOL = 1e-9, 1e-12
"""Rounding of the BLAS kernels, with room: the differences seen were 1 ulp (2e-16)."""

GOLDEN = {
    # (scenario, overrides): the reference series
    ("baseline", ("steps=12",)): "baseline-steps-12.parquet",
    ("mad-fresh-data", ("steps=5",)): "mad-fresh-data-steps-5.parquet",
    (str(DATA / "tiny-web.toml"), ()): "tiny-web-full.parquet",
}

GOLDEN_FULL = {
    ("baseline", ()): "baseline-full.parquet",
    ("mad-fully-synthetic", ()): "mad-fully-synthetic-full.parquet",
}


def _check_against_reference(
    source: str, overrides: tuple[str, ...], out: Path, reference_file: Path
) -> None:
    scenario = load_scenario(source, ["seed=0", *overrides])
    frame = run_scenario(scenario, out)
    reference = pd.read_parquet(reference_file)
    assert len(frame) == len(reference)
    pd.testing.assert_frame_equal(
        frame[KEYS].reset_index(drop=True), reference[KEYS].reset_index(drop=True)
    )
    mine, theirs = frame["value"].to_numpy(), reference["value"].to_numpy()
    assert np.array_equal(np.isnan(mine), np.isnan(theirs))
    np.testing.assert_allclose(mine, theirs, rtol=RTOL, atol=ATOL, equal_nan=True)


@pytest.mark.parametrize(("source", "overrides"), list(GOLDEN), ids=lambda v: str(v)[-20:])
def test_short_runs_match_their_references(source, overrides, tmp_path):
    reference = REFERENCES / GOLDEN[(source, overrides)]
    _check_against_reference(source, overrides, tmp_path / "run", reference)


@pytest.mark.slow
@pytest.mark.parametrize(("source", "overrides"), list(GOLDEN_FULL), ids=lambda v: str(v))
def test_full_runs_match_their_references(source, overrides, tmp_path):
    reference = REFERENCES / GOLDEN_FULL[(source, overrides)]
    _check_against_reference(source, overrides, tmp_path / "run", reference)


def test_the_check_catches_a_change_of_one_value(tmp_path):
    """A reference that differs in one value by more than rounding fails the check."""
    reference = pd.read_parquet(REFERENCES / GOLDEN[("mad-fresh-data", ("steps=5",))])
    reference.loc[3, "value"] += 1e-6
    reference.to_parquet(tmp_path / "changed.parquet")
    with pytest.raises(AssertionError):
        _check_against_reference(
            "mad-fresh-data", ("steps=5",), tmp_path / "run", tmp_path / "changed.parquet"
        )

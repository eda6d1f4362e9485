"""Golden series: the same scenario and seed write byte-identical ``timeseries.csv``.

The hashes were taken from the code before the subpackage refactor (version 0.1.0) and
guard every later change that claims to leave the science alone. Update a hash only with
a reason written next to it (a documented rename of a series, a deliberate model change).
"""

import hashlib
from pathlib import Path

import pytest

from ecosystem import load_scenario, run_scenario

DATA = Path(__file__).parent / "data"

GOLDEN = {
    # (scenario, overrides): sha256 of timeseries.csv
    ("baseline", ("steps=12",)): "7d4327cf72290a2755e8c079232c9d280e6c377ad8587ea595f4aa4d629136d4",
    (
        "mad-fresh-data",
        ("steps=5",),
    ): "1085582b01ce95ef28f8d8f100c6eed80fa5aef25e75f1b4649e72c9a62f963d",
    (
        str(DATA / "tiny-web.toml"),
        (),
    ): "018e4a15be1fec9072266fe794cfcc25b25b3e24683514776f89db24bfb8fbf6",
}

GOLDEN_FULL = {
    ("baseline", ()): "5a446685ecb6f5e2099917ccaa21eb6dd38b140752d1a3ac67ba5f82bc99c24a",
    ("mad-fully-synthetic", ()): "989d337dbc8f0703092d2a731e9163981e6872258602bff4df1884574db54c05",
}


def _csv_hash(source: str, overrides: tuple[str, ...], out: Path) -> str:
    scenario = load_scenario(source, ["seed=0", *overrides])
    run_scenario(scenario, out)
    return hashlib.sha256((out / "timeseries.csv").read_bytes()).hexdigest()


@pytest.mark.parametrize(("source", "overrides"), list(GOLDEN), ids=lambda v: str(v)[-20:])
def test_short_runs_are_byte_identical(source, overrides, tmp_path):
    assert _csv_hash(source, overrides, tmp_path / "run") == GOLDEN[(source, overrides)]


@pytest.mark.slow
@pytest.mark.parametrize(("source", "overrides"), list(GOLDEN_FULL), ids=lambda v: str(v))
def test_full_runs_are_byte_identical(source, overrides, tmp_path):
    assert _csv_hash(source, overrides, tmp_path / "run") == GOLDEN_FULL[(source, overrides)]

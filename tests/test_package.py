"""Tests for the package metadata: one version in pyproject.toml and ecosystem.__version__."""

import tomllib
from pathlib import Path

import ecosystem

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_package_version_is_the_same_in_pyproject_and_the_code():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["version"] == ecosystem.__version__
    assert [part.isdigit() for part in ecosystem.__version__.split(".")] == [True] * 3

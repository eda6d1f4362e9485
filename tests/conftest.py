"""Shared fixtures: small, fast configurations."""

from dataclasses import dataclass

import pytest
import torch

from ecosystem.world.vectors import VectorWorld


@pytest.fixture(scope="session")
def small_culture() -> VectorWorld:
    """A 12-topic, 4-dimensional culture (a vector world) with a 1000-item reference sample."""
    generator = torch.Generator().manual_seed(1234)
    return VectorWorld.generate(generator, topics=12, dim=4, zipf=1.1, reference_size=1000)


@dataclass(frozen=True)
class FailingFit:
    """An override that the schema accepts and that fails at run time with ``error``."""

    override: str = "companies.alpha.model.params.max_iter=1"
    error: str = "max_iter 1 fails in this test"


@pytest.fixture
def failing_fit(monkeypatch) -> FailingFit:
    """Makes fitting a mixture with ``max_iter = 1`` raise a ValueError in this process: a run
    that fails at run time (the schema refuses every parameter value the models refuse)."""
    from models.gmm import GaussianMixtureModel

    failure = FailingFit()
    fit = GaussianMixtureModel.fit

    def failing(self, x, *, generator):
        if self.max_iter == 1:
            raise ValueError(failure.error)
        return fit(self, x, generator=generator)

    monkeypatch.setattr(GaussianMixtureModel, "fit", failing)
    return failure

"""Shared fixtures: small, fast configurations."""

import pytest
import torch

from ecosystem.world.vectors import VectorWorld


@pytest.fixture(scope="session")
def small_culture() -> VectorWorld:
    """A 12-topic, 4-dimensional culture (a vector world) with a 1000-item reference sample."""
    generator = torch.Generator().manual_seed(1234)
    return VectorWorld.generate(generator, topics=12, dim=4, zipf=1.1, reference_size=1000)

"""Shared fixtures: small, fast configurations."""

import pytest
import torch

from ecosystem.world.culture import Culture


@pytest.fixture(scope="session")
def small_culture() -> Culture:
    """A 12-topic, 4-dimensional culture with a 1000-item reference sample."""
    generator = torch.Generator().manual_seed(1234)
    return Culture.generate(generator, topics=12, dim=4, zipf=1.1, reference_size=1000)

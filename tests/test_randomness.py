"""One seed drives everything through named, independent streams."""

import numpy as np
import torch

from ecosystem.randomness import Streams, torch_generator


def test_streams_are_reproducible_and_independent():
    a, b = Streams(1), Streams(1)
    assert a.numpy("web").random() == b.numpy("web").random()
    assert a.numpy("web").random() != a.numpy("crawl").random()
    assert Streams(1).numpy("web").random() != Streams(2).numpy("web").random()


def test_a_stream_does_not_depend_on_other_streams_drawn_first():
    s = Streams(5)
    first = s.numpy("metrics").random(3)
    s.numpy("web").random(1000)
    assert np.array_equal(first, Streams(5).numpy("metrics").random(3))


def test_torch_generator_is_seeded_from_numpy():
    x = torch.randn(3, generator=torch_generator(np.random.default_rng(0)))
    y = torch.randn(3, generator=torch_generator(np.random.default_rng(0)))
    assert torch.equal(x, y)
    assert torch.equal(
        torch.rand(2, generator=Streams(3).torch("a")),
        torch.rand(2, generator=Streams(3).torch("a")),
    )


def test_numpy_and_torch_streams_of_one_name_are_independent():
    s = Streams(7)
    seed_of_torch_stream = torch_generator(s.numpy("metrics#torch")).initial_seed()
    assert Streams(7).torch("metrics").initial_seed() == seed_of_torch_stream
    assert int(s.numpy("metrics").integers(0, 2**63 - 1)) != seed_of_torch_stream

"""One seed drives everything: named, independent random streams derived from it.

Core objects: :class:`Streams` (numpy ``Generator`` children of one root seed,
one per named sub-system, each stable whatever other streams are drawn) and
:func:`torch_generator` (a ``torch.Generator`` seeded from a numpy stream).
No code in the project touches global random state.
"""

from __future__ import annotations

import zlib

import numpy as np
import torch

__all__ = ["Streams", "torch_generator"]


class Streams:
    """Independent numpy random streams keyed by name, all derived from ``seed``.

    A stream's state depends only on the seed and its name, so adding a new
    sub-system never shifts the numbers drawn by the existing ones.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def numpy(self, name: str) -> np.random.Generator:
        """The numpy stream for sub-system ``name``."""
        key = zlib.crc32(name.encode("utf-8"))
        return np.random.default_rng(np.random.SeedSequence([self.seed, key]))

    def torch(self, name: str) -> torch.Generator:
        """A torch stream for sub-system ``name``, independent of ``numpy(name)``."""
        return torch_generator(self.numpy(f"{name}#torch"))


def torch_generator(rng: np.random.Generator) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded by one draw from ``rng``."""
    generator = torch.Generator()
    generator.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return generator

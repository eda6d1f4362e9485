"""The fixed feature space of the digits world: a small CNN classifier of 8x8 digits, trained
once, deterministically, on the real digits and cached.

Core objects: :func:`real_digits` (the 1,797 images of handwritten digits that ship inside
scikit-learn, pixels scaled to [0, 1], and their labels), :func:`split` (the fixed split
into training and held-out images), :func:`shift` (the augmentation: a random translation
by up to one pixel), :class:`DigitClassifier` (the network: its penultimate layer is the
feature space of the metrics, as Inception's is for FID, and its prediction assigns the
topic) and :func:`trained_classifier` (the classifier of given settings: from the cache
when it is there, else trained and cached, with its held-out accuracy).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from torch import nn
from torch.nn import functional

from models.neural import seeded_build

__all__ = [
    "DigitClassifier",
    "cache_directory",
    "real_digits",
    "shift",
    "split",
    "trained_classifier",
]

SIDE = 8
"""Images are SIDE x SIDE pixels."""
FEATURES = 64
"""Width of the feature space (the classifier's penultimate layer)."""
_VERSION = 3
"""Bumped whenever the network or its training changes, so older cached weights are unused."""


@functools.cache
def real_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 1,797 real 8x8 digits as float32 [1797, 64] in [0, 1] (row-major pixels) and their
    labels, long [1797] (scikit-learn's copy of the UCI optical digits; no download)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = torch.from_numpy(np.asarray(digits.data, dtype=np.float32) / 16.0)
    return pixels.contiguous(), torch.from_numpy(np.asarray(digits.target, dtype=np.int64))


def split(held_out: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of the training and held-out images: a share ``held_out`` of every class,
    chosen by a permutation of ``seed``."""
    _, labels = real_digits()
    generator = torch.Generator().manual_seed(seed)
    train, test = [], []
    for digit in range(10):
        rows = torch.nonzero(labels == digit)[:, 0]
        rows = rows[torch.randperm(len(rows), generator=generator)]
        cut = round(held_out * len(rows))
        test.append(rows[:cut])
        train.append(rows[cut:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Each image [n, 64] translated by -1, 0 or +1 pixel along each axis (drawn with
    ``generator``), the uncovered border filled with 0 (the background)."""
    n = len(images)
    padded = functional.pad(images.view(n, SIDE, SIDE), (1, 1, 1, 1))
    offsets = torch.randint(3, (2, n), generator=generator)
    rows = (offsets[0, :, None] + torch.arange(SIDE))[:, :, None]
    columns = (offsets[1, :, None] + torch.arange(SIDE))[:, None, :]
    moved = padded[torch.arange(n)[:, None, None], rows, columns]
    return moved.reshape(n, SIDE * SIDE).contiguous()


class DigitClassifier(nn.Module):
    """Two 3x3 convolutions (16 and 32 channels, ReLU), 2x2 max pooling, a 64-unit ReLU layer
    (the features) and a linear layer to the ten digit classes."""

    def __init__(self) -> None:
        super().__init__()
        self.convolutions = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * (SIDE // 2) ** 2, FEATURES),
            nn.ReLU(),
        )
        self.classes = nn.Linear(FEATURES, 10)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The features of images [n, 64] (pixels in [0, 1]), float32 [n, FEATURES]."""
        x = images.float().clamp(0.0, 1.0).view(-1, 1, SIDE, SIDE)
        return self.convolutions(x)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits [n, 10]."""
        return self.classes(self.features(images))


def cache_directory() -> Path:
    """Where trained classifiers are kept: ``ECOSYSTEM_CACHE_DIR`` if set, else
    ``$XDG_CACHE_HOME/web-ecosystem`` (``~/.cache/web-ecosystem``)."""
    configured = os.environ.get("ECOSYSTEM_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "web-ecosystem"


def _train(held_out: float, seed: int, epochs: int) -> tuple[dict, float]:
    images, labels = real_digits()
    train_rows, test_rows = split(held_out, seed)
    generator = torch.Generator().manual_seed(seed)
    network = seeded_build(DigitClassifier, generator)
    optimiser = torch.optim.Adam(network.parameters(), lr=2e-3)
    network.train()
    for _ in range(epochs):
        order = train_rows[torch.randperm(len(train_rows), generator=generator)]
        for rows in order.split(64):
            logits = network(shift(images[rows], generator))
            loss = functional.cross_entropy(logits, labels[rows])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    network.eval()
    with torch.no_grad():
        predicted = network(images[test_rows]).argmax(dim=1)
    accuracy = float((predicted == labels[test_rows]).double().mean())
    return network.state_dict(), accuracy


def trained_classifier(
    held_out: float = 0.3, seed: int = 0, epochs: int = 30
) -> tuple[DigitClassifier, float]:
    """The classifier trained on the training split of ``split(held_out, seed)`` for
    ``epochs`` passes (with `shift` augmentation) and its accuracy on the held-out split.
    Trained once per settings and kept in :func:`cache_directory` (written atomically, one
    trainer at a time)."""
    key = json.dumps(
        {
            "version": _VERSION,
            "held_out": held_out,
            "seed": seed,
            "epochs": epochs,
            "torch": torch.__version__.split("+")[0],
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    directory = cache_directory()
    path = directory / f"digits-classifier-{digest}.pt"
    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        if path.exists():
            saved = torch.load(path, weights_only=True)
        else:
            state, accuracy = _train(held_out, seed, epochs)
            saved = {"state": state, "accuracy": torch.tensor(accuracy, dtype=torch.float64)}
            handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
            os.close(handle)
            torch.save(saved, temporary)
            os.replace(temporary, path)
    network = seeded_build(DigitClassifier, torch.Generator().manual_seed(0))
    network.load_state_dict(saved["state"])
    return network.eval(), float(saved["accuracy"])

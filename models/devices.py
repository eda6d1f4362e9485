"""Where torch work runs: the ``device`` setting of models and metrics.

Core objects: `DEVICES` (the allowed values, "auto" | "cpu" | "cuda"), `Device` (their type)
and `resolve_device` (the torch device a value names: "auto" is CUDA when present, else the
CPU). Results are deterministic on the CPU; on CUDA they are reproducible only on the same
device, since its kernels round and reduce in other orders.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["DEVICES", "Device", "resolve_device"]

Device = Literal["auto", "cpu", "cuda"]
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device, field: str = "device") -> torch.device:
    """The torch device of a ``device`` setting ("auto": CUDA when present, else the CPU);
    "cuda" where no CUDA device is available is refused with a one-line ValueError that
    names ``field``."""
    if isinstance(device, torch.device):
        device = device.type
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"{field} must be one of auto, cpu, cuda; got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{field} 'cuda' was asked for, but no CUDA device is available; "
            "allowed here: auto, cpu"
        )
    return torch.device(device)

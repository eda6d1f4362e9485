"""Categorical draws (which component, which stored point) from an explicit generator.

Core object: `draw_categorical`, inverse-CDF sampling that, unlike `torch.multinomial`, has no
2**24 category limit and consumes exactly n uniforms from the generator.
"""

from __future__ import annotations

import torch

__all__ = ["draw_categorical", "temperature_weights"]


def draw_categorical(weights: torch.Tensor, n: int, *, generator: torch.Generator) -> torch.Tensor:
    """Draw n indices i.i.d. with probability proportional to the non-negative `weights`."""
    weights = torch.as_tensor(weights, dtype=torch.float64)
    cumulative = torch.cumsum(weights, dim=0)
    total = cumulative[-1]
    if not (torch.isfinite(total) and total > 0 and (weights >= 0).all()):
        raise ValueError("weights must be non-negative and finite with a positive sum")
    uniforms = torch.rand(n, generator=generator, dtype=torch.float64) * total
    indices = torch.searchsorted(cumulative, uniforms, right=True)
    return indices.clamp_(max=len(weights) - 1)


def temperature_weights(log_weights: torch.Tensor, power: float) -> torch.Tensor:
    """Normalised exp(power * log_weights), computed stably (the softmax of the scaled logits)."""
    return torch.softmax(power * torch.as_tensor(log_weights, dtype=torch.float64), dim=0)

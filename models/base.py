"""The contract every generative model honours, plus the input checks the models share.

Core objects: `GenerativeModel` (the protocol), `PROTOCOL_METHODS` and `missing_methods` (what a
class must define to honour it), `NotFittedError`, and the helpers `as_data`,
`check_bias`, `check_generator`, `check_sample_size`, `check_fitted`, `check_dimension`,
`is_finite_number`, `is_integer` and `state_entries`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Protocol, Self, runtime_checkable

import numpy as np
import torch

__all__ = [
    "PROTOCOL_METHODS",
    "GenerativeModel",
    "NotFittedError",
    "as_data",
    "check_bias",
    "check_dimension",
    "check_fitted",
    "check_generator",
    "check_sample_size",
    "is_finite_number",
    "is_integer",
    "missing_methods",
    "state_entries",
]


@runtime_checkable
class GenerativeModel(Protocol):
    """A density model that is fitted to data [n, d], samples from itself and scores points.

    `bias` in (0, 1] is a sampling temperature: 1 draws from the fitted model exactly, smaller
    values concentrate the draws on high-density regions (the "sampling bias" of the MAD paper).
    """

    def fit(self, x: Any, *, generator: torch.Generator) -> Self:
        """Fit to x (shape [n, d], never mutated) and return self."""
        ...

    def sample(self, n: int, *, bias: float = 1.0, generator: torch.Generator) -> torch.Tensor:
        """Draw n points as a contiguous CPU float32 tensor [n, d]."""
        ...

    def log_prob(self, x: Any) -> torch.Tensor:
        """Log-density of each row of x as float64 [n]."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Fitted state as plain tensors and Python scalars."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore the fitted state produced by `state_dict` and return self."""
        ...


PROTOCOL_METHODS = tuple(
    name
    for name, member in vars(GenerativeModel).items()
    if callable(member) and not name.startswith("_")
)
"""The methods of the protocol: fit, sample, log_prob, state_dict, load_state_dict."""


def missing_methods(cls: type) -> list[str]:
    """The protocol methods that `cls` does not define (empty when it honours the protocol)."""
    return [name for name in PROTOCOL_METHODS if not callable(getattr(cls, name, None))]


class NotFittedError(RuntimeError):
    """Raised when a model is used before `fit` or `load_state_dict`."""


def as_data(x: Any, *, name: str = "x", min_rows: int = 1) -> torch.Tensor:
    """Float64 CPU tensor [n, d] of x, possibly sharing memory: callers must not write to it."""
    if isinstance(x, np.ndarray) and not x.flags.writeable:
        x = x.copy()
    try:
        data = torch.as_tensor(x)
    except (TypeError, ValueError, RuntimeError) as error:
        message = f"{name} must be array-like of numbers with shape [n, d]: {error}"
        raise ValueError(message) from None
    data = data.detach().to(device="cpu", dtype=torch.float64)
    if data.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape [n, d], got shape {tuple(data.shape)}")
    if data.shape[0] < min_rows or data.shape[1] == 0:
        raise ValueError(
            f"{name} must have at least {min_rows} row(s) and 1 column, got shape "
            f"{tuple(data.shape)}"
        )
    if not torch.isfinite(data).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return data


def check_bias(bias: float) -> float:
    """Return bias as a float, or raise unless 0 < bias <= 1."""
    is_number = is_finite_number(bias)
    if not is_number or not 0.0 < bias <= 1.0:
        raise ValueError(f"bias must be in (0, 1], got {bias if is_number else repr(bias)}")
    return float(bias)


def check_sample_size(n: int) -> int:
    """Return n, or raise unless it is a non-negative integer."""
    if not is_integer(n) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    return int(n)


def check_generator(generator: torch.Generator) -> torch.Generator:
    """Return generator, or raise unless it is a CPU torch.Generator (no silent global RNG)."""
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU torch.Generator, got {generator!r}")
    return generator


def check_fitted(model: object, attribute: str) -> None:
    """Raise NotFittedError unless `attribute` has been set on the model."""
    if not hasattr(model, attribute):
        raise NotFittedError(
            f"{type(model).__name__} is not fitted yet; call fit() or load_state_dict() first"
        )


def check_dimension(data: torch.Tensor, d: int, *, name: str = "x") -> torch.Tensor:
    """Return data, or raise unless it has d columns (the fitted dimension)."""
    if data.shape[1] != d:
        raise ValueError(f"{name} must have {d} columns as fitted, got {data.shape[1]}")
    return data


def is_finite_number(value: Any) -> bool:
    """True for a real, finite int or float (bools excluded)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)


def is_integer(value: Any) -> bool:
    """True for a Python or NumPy integer (bools excluded)."""
    return not isinstance(value, bool) and isinstance(value, numbers.Integral)


def state_entries(state: dict[str, Any], names: list[str]) -> list[Any]:
    """Values of `names` in a state dict, or a ValueError naming the missing keys."""
    missing = [name for name in names if name not in state]
    if missing:
        raise ValueError(f"state is missing {missing}; expected keys {names}")
    return [state[name] for name in names]

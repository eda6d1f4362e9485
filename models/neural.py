"""What the neural models share: weights drawn from the fit's generator, the
standardisation of vector data and the minibatch training loop (the device is
:mod:`models.devices`).

Core objects: `seeded_build` (build a torch module whose initial weights are drawn from the fit's
generator), `Standardiser` (per-dimension centring and
scaling, so one set of training budgets suits data of any scale), `train` (Adam over
shuffled minibatches drawn with the fit's generator), `module_state` and `restore_module`
(a fitted network as plain tensors, and back), `NeuralParams` (the budget parameters
every neural vector model declares) and `NeuralVectorModel` (their shared fit and state).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any, Self, TypeVar

import torch
from torch import nn

from models.base import as_data, check_fitted, check_generator, is_integer, state_entries
from models.devices import Device, resolve_device
from models.params import ModelParams, parameter

__all__ = [
    "NeuralParams",
    "NeuralVectorModel",
    "Standardiser",
    "mlp",
    "module_state",
    "restore_module",
    "seeded_build",
    "train",
]

Module = TypeVar("Module", bound=nn.Module)


class NeuralParams(ModelParams):
    """The training budget and device every neural vector model declares."""

    epochs: int = parameter(60, "Passes over the training data per fit", ge=1, le=100_000)
    batch_size: int = parameter(128, "Points per optimisation step", ge=1, le=1_000_000)
    learning_rate: float = parameter(2e-3, "Adam's initial learning rate", gt=0.0, le=1.0)
    device: Device = parameter(
        "auto", "Where it trains and samples: auto = CUDA when present, else the CPU"
    )


def mlp(inputs: int, hidden: int, layers: int, outputs: int) -> nn.Sequential:
    """``layers`` hidden layers of ``hidden`` units with SiLU, then a linear output layer."""
    sizes = [inputs] + [hidden] * layers
    parts: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        parts += [nn.Linear(a, b), nn.SiLU()]
    return nn.Sequential(*parts, nn.Linear(sizes[-1], outputs))


def seeded_build(build: Callable[[], Module], generator: torch.Generator) -> Module:
    """``build()`` with every weight drawn from ``generator``: each linear and convolution
    layer's weight and bias uniform in +-1 / sqrt(fan-in) (torch's default bounds); the
    other parameters and buffers keep the constructor's constant values. What the
    constructors draw themselves is discarded (the global random state is forked and
    restored around them), so the weights are a function of ``generator`` alone."""
    with torch.random.fork_rng(devices=[]):
        module = build()
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear | nn.Conv2d):
                fan_in = layer.weight[0].numel()
                bound = fan_in**-0.5
                for weight in (layer.weight, layer.bias):
                    if weight is not None:
                        draws = torch.rand(weight.shape, generator=generator, dtype=weight.dtype)
                        weight.copy_((2 * draws - 1) * bound)
    return module


class Standardiser:
    """Per-dimension centring and scaling of float64 data [n, d] (a dimension that does not
    vary is scaled by 1), fitted once per fit and kept in the model's state."""

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        self.mean = mean
        self.scale = scale

    @classmethod
    def fit(cls, data: torch.Tensor) -> Standardiser:
        """Mean and standard deviation of each column of ``data``."""
        mean = data.mean(dim=0)
        scale = data.std(dim=0, correction=0) if len(data) > 1 else torch.ones_like(mean)
        return cls(mean, torch.where(scale > 1e-12, scale, torch.ones_like(scale)))

    def forward(self, data: torch.Tensor) -> torch.Tensor:
        """Standardised float32 data."""
        return ((data - self.mean) / self.scale).float()

    def inverse(self, standardised: torch.Tensor) -> torch.Tensor:
        """Data in the original units, contiguous CPU float32."""
        x = standardised.detach().cpu().double() * self.scale + self.mean
        return x.float().contiguous()

    @property
    def log_scale(self) -> float:
        """log |det| of the map from standardised to original units (added to a density)."""
        return float(self.scale.log().sum())


def minibatches(
    n: int, batch_size: int, epochs: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Row indices of each optimisation step: ``epochs`` shuffled passes over ``n`` rows in
    batches of ``batch_size`` (the last batch of a pass may be smaller)."""
    size = min(batch_size, n)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        yield from order.split(size)


def train(
    module: nn.Module,
    data: torch.Tensor,
    loss: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
) -> float:
    """Minimise ``loss(batch, generator)`` over shuffled minibatches of ``data`` (already on
    the module's device) with Adam, the learning rate decaying linearly to a tenth and
    gradients clipped at norm 10; returns the last epoch's mean loss."""
    steps = epochs * -(-len(data) // min(batch_size, len(data)))
    optimiser = torch.optim.Adam(module.parameters(), lr=learning_rate)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda step: 1.0 - 0.9 * step / steps)
    module.train()
    per_epoch = -(-len(data) // min(batch_size, len(data)))
    recent: list[float] = []
    for step, rows in enumerate(minibatches(len(data), batch_size, epochs, generator)):
        value = loss(data[rows.to(data.device)], generator)
        optimiser.zero_grad(set_to_none=True)
        value.backward()
        nn.utils.clip_grad_norm_(module.parameters(), 10.0)
        optimiser.step()
        schedule.step()
        if step >= steps - per_epoch:
            recent.append(float(value.detach()))
    module.eval()
    return sum(recent) / max(len(recent), 1)


def module_state(module: nn.Module, standardiser: Standardiser, d: int) -> dict[str, Any]:
    """A fitted network's state as CPU tensors and scalars: its weights and buffers
    (prefixed ``network.``), the standardisation (``mean``, ``scale``) and the dimension."""
    state: dict[str, Any] = {
        f"network.{key}": value.detach().cpu().clone() for key, value in module.state_dict().items()
    }
    state["mean"] = standardiser.mean.clone()
    state["scale"] = standardiser.scale.clone()
    state["d"] = int(d)
    return state


def restore_module(
    state: dict[str, Any], build: Callable[[int], Module], device: torch.device
) -> tuple[Module, Standardiser, int]:
    """The network (rebuilt by ``build(d)``, then every weight and buffer loaded), the
    standardisation and the dimension of a `module_state`."""
    mean, scale, d = state_entries(state, ["mean", "scale", "d"])
    weights = {k.removeprefix("network."): v for k, v in state.items() if k.startswith("network.")}
    module = seeded_build(lambda: build(int(d)), torch.Generator().manual_seed(0))
    module.load_state_dict(weights)
    return module.to(device).eval(), Standardiser(mean.double(), scale.double()), int(d)


class NeuralVectorModel:
    """What the neural models of vectors share: `fit` (check the parameters and the data,
    standardise, build the network from the fit's generator, `train` it on `_loss`), the
    fitted state (``network_``, ``standardiser_``, ``d_``) and its round trip.

    A subclass declares ``Params`` (a `NeuralParams`), stores every parameter in its
    constructor, and defines ``_new_network(d)`` and ``_loss(network, batch, generator)``;
    ``_after_fit(standardised)`` and ``_extra_state()`` / ``_load_extra(state)`` add fitted
    state of its own.
    """

    Params: type[NeuralParams]
    device: str
    epochs: int
    batch_size: int
    learning_rate: float
    network_: Any
    standardiser_: Standardiser
    d_: int

    def _new_network(self, d: int) -> nn.Module:
        raise NotImplementedError

    def _loss(self, network: Any, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def _after_fit(self, standardised: torch.Tensor) -> None:
        """Fitted state beyond the network (none by default)."""

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra(self, state: dict[str, Any]) -> None:
        """Restore what `_extra_state` kept (nothing by default)."""

    def _validate_params(self) -> None:
        """The stored parameters against ``Params`` (an int is accepted for a float)."""
        values = {}
        for name, field in self.Params.model_fields.items():
            value = getattr(self, name)
            if field.annotation is float and is_integer(value):
                value = float(value)
            values[name] = value
        self.Params(**values)

    def fit(self, x: Any, *, generator: torch.Generator) -> Self:
        """Train a new network on x [n, d] (never mutated); return self."""
        self._validate_params()
        check_generator(generator)
        data = as_data(x)
        device = resolve_device(self.device)
        standardiser = Standardiser.fit(data)
        network = seeded_build(lambda: self._new_network(data.shape[1]), generator).to(device)
        standardised = standardiser.forward(data)
        train(
            network,
            standardised.to(device),
            lambda batch, noise: self._loss(network, batch, noise),
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            generator=generator,
        )
        self.network_, self.standardiser_, self.d_ = network, standardiser, data.shape[1]
        self._after_fit(standardised)
        return self

    @property
    def _device(self) -> torch.device:
        """Where the fitted network lives."""
        return next(self.network_.parameters()).device

    def state_dict(self) -> dict[str, Any]:
        """The network's weights (prefixed ``network.``), the standardisation, the dimension
        and any state of the subclass."""
        check_fitted(self, "network_")
        return {**module_state(self.network_, self.standardiser_, self.d_), **self._extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> Self:
        """Restore a state from `state_dict`."""
        self.network_, self.standardiser_, self.d_ = restore_module(
            state, self._new_network, resolve_device(self.device)
        )
        self._load_extra(state)
        return self

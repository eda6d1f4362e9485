"""Conformance suite of the `GenerativeModel` protocol: each rule a model honours, a named check.

Core objects: `check_model` (run every check on a registered model or a model factory; raises
`ModelCheckError` naming each failed check and why), `CHECKS` (the checks, each a function
`check_*(factory, data)` that can also be run alone), `ModelCheckError`, `check_data` (the
default training data) and `global_random_states_used` (which global random states a call
changed). Every check draws from explicit generators only and leaves the global
random states as they were.
"""

from __future__ import annotations

import functools
import inspect
import math
import random as python_random  # its state is read and restored, never drawn from
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from models.base import GenerativeModel, NotFittedError, missing_methods
from models.params import ModelParams, ParameterError, check_params
from models.registry import make

__all__ = [
    "CHECKS",
    "ModelCheckError",
    "ModelFactory",
    "check_data",
    "check_model",
    "global_random_states_used",
]

ModelFactory = Callable[[], Any]
"""Builds a fresh, unfitted model (a registered class with its parameters, or any callable)."""

Check = Callable[[ModelFactory, torch.Tensor], None]

CHECKS: list[Check] = []
"""Every check, in the order `check_model` runs them."""


class ModelCheckError(AssertionError):
    """A model breaks the protocol; `failures` maps each failed check to why."""

    def __init__(self, message: str, failures: Mapping[str, str]) -> None:
        super().__init__(message)
        self.failures = dict(failures)


def check_model(
    model: str | ModelFactory,
    *,
    params: Mapping[str, Any] | None = None,
    data: Any = None,
) -> list[str]:
    """Run every check on the model registered as `model` (built with `params`), or on the
    models that the callable `model` builds; returns the names of the checks run.

    `data` ([n, d] with n >= 20 and d >= 2) is the training data, `check_data()` by default.
    Raises `ModelCheckError` with one line listing each failed check and why.
    """
    factory = _factory(model, params or {})
    data = check_data() if data is None else torch.as_tensor(data, dtype=torch.float64)
    if data.ndim != 2 or data.shape[0] < 20 or data.shape[1] < 2:
        raise ValueError(f"data must have shape [n, d] with n >= 20, d >= 2, got {data.shape}")
    failures = {}
    for check in CHECKS:
        try:
            check(factory, data)
        except ModelCheckError as error:
            failures.update(error.failures)
    if failures:
        label = model if isinstance(model, str) else getattr(model, "__name__", repr(model))
        reasons = "; ".join(f"{name}: {why}" for name, why in failures.items())
        message = f"model {label!r} failed {len(failures)} of {len(CHECKS)} checks: {reasons}"
        raise ModelCheckError(message, failures)
    return [check.__name__ for check in CHECKS]


def check_data(n: int = 300, d: int = 3) -> torch.Tensor:
    """A fixed float64 sample [n, d] of two overlapping Gaussian clusters (drawn from seed 0)."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.rand(n, generator=generator) < 0.4
    centres = torch.where(labels[:, None], -1.0, 1.0) * torch.linspace(1.0, 0.5, d)
    noise = torch.randn(n, d, generator=generator, dtype=torch.float64)
    return centres.double() + 0.6 * noise


def _factory(model: str | ModelFactory, params: Mapping[str, Any]) -> ModelFactory:
    if isinstance(model, str):
        make(model, **params)  # an unknown name or parameter fails here, in one line
        return functools.partial(make, model, **params)
    if not callable(model):
        raise TypeError(f"model must be a registered name or a callable, got {model!r}")
    return functools.partial(model, **params) if params else model


def _check(function: Callable[[ModelFactory, torch.Tensor], None]) -> Check:
    """Register a check; any failure or unexpected error in it becomes a `ModelCheckError`
    naming the check."""

    @functools.wraps(function)
    def run(factory: ModelFactory, data: torch.Tensor) -> None:
        try:
            function(factory, data.clone())  # a model that writes into its input spoils no other
        except _Failed as failed:
            why = str(failed)
        except Exception as error:  # a model that crashes fails the check, it does not stop it
            why = f"raised {type(error).__name__}: {error}"
        else:
            return
        raise ModelCheckError(f"{function.__name__}: {why}", {function.__name__: why})

    CHECKS.append(run)
    return run


class _Failed(Exception):
    """One rule broken inside a check (the message says which and how)."""


def _require(condition: bool, why: str) -> None:
    if not condition:
        raise _Failed(why)


def _raises(kind: type[Exception], call: Callable[[], Any], what: str) -> None:
    """Require `call` to raise `kind` (a subclass counts)."""
    try:
        call()
    except kind:
        return
    except Exception as error:
        why = f"{what} raised {type(error).__name__} ({error}), not {kind.__name__}"
        raise _Failed(why) from None
    raise _Failed(f"{what} did not raise {kind.__name__}")


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fitted(factory: ModelFactory, data: torch.Tensor, seed: int = 0) -> Any:
    return factory().fit(data, generator=_seeded(seed))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return (
            isinstance(a, torch.Tensor)
            and isinstance(b, torch.Tensor)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and torch.equal(a, b)
        )
    return a == b


# --------------------------------------------------------------------------- the checks


@_check
def check_protocol(factory: ModelFactory, data: torch.Tensor) -> None:
    """A fresh model defines every protocol method."""
    model = factory()
    missing = missing_methods(type(model))
    _require(not missing, f"{type(model).__name__} does not define {', '.join(missing)}")
    _require(isinstance(model, GenerativeModel), "not an instance of GenerativeModel")


@_check
def check_declares_parameters(factory: ModelFactory, data: torch.Tensor) -> None:
    """The model's class declares its constructor's parameters: a `Params` class (a
    `models.params.ModelParams`) with a described field per parameter and the constructor's
    defaults, which validate, as do the parameters the model was built with."""
    model = factory()
    cls = type(model)
    schema = getattr(cls, "Params", None)
    _require(
        isinstance(schema, type) and issubclass(schema, ModelParams),
        f"{cls.__name__} declares no parameters (a Params class, a models.params.ModelParams)",
    )
    assert isinstance(schema, type) and issubclass(schema, ModelParams)  # for type checkers
    defaults = {
        name: parameter.default
        for name, parameter in inspect.signature(cls.__init__).parameters.items()
        if name != "self"
        and parameter.kind not in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)
    }
    declared = schema.model_fields
    _require(
        set(declared) == set(defaults),
        f"Params declares {', '.join(declared) or 'nothing'}; the constructor takes "
        f"{', '.join(defaults) or 'nothing'}",
    )
    for name, field in declared.items():
        _require(bool(field.description), f"parameter {name} has no description")
        _require(
            defaults[name] is inspect.Parameter.empty or field.default == defaults[name],
            f"parameter {name}: declared default {field.default!r}, constructor default "
            f"{defaults[name]!r}",
        )
    given = {
        name: default
        for name, default in defaults.items()
        if default is not inspect.Parameter.empty
    }
    built = {name: getattr(model, name) for name in declared if hasattr(model, name)}
    for what, params in (("the constructor's defaults", given), ("its parameters", built)):
        try:
            check_params(schema, params, model=cls.__name__)
        except ParameterError as error:
            raise _Failed(f"{what} do not validate: {error}") from None


@_check
def check_not_fitted(factory: ModelFactory, data: torch.Tensor) -> None:
    """Before fit or load_state_dict, sample, log_prob and state_dict raise NotFittedError."""
    model = factory()
    _raises(NotFittedError, lambda: model.sample(3, generator=_seeded(0)), "unfitted sample")
    _raises(NotFittedError, lambda: model.log_prob(data[:3]), "unfitted log_prob")
    _raises(NotFittedError, model.state_dict, "unfitted state_dict")


@_check
def check_fit_returns_self(factory: ModelFactory, data: torch.Tensor) -> None:
    """fit returns the model itself (so that calls chain)."""
    model = factory()
    fitted = model.fit(data, generator=_seeded(0))
    _require(fitted is model, f"fit returned {type(fitted).__name__}, not the model")


@_check
def check_fit_does_not_mutate_input(factory: ModelFactory, data: torch.Tensor) -> None:
    """fit, log_prob and a refit leave their input as it was: numpy, float64 and float32
    tensors, and a read-only numpy array is accepted."""
    array = data.numpy().copy()
    before_array = array.copy()
    _fit_score_refit(factory, array)
    _require(
        np.array_equal(array, before_array), "fit or log_prob changed a numpy array passed to it"
    )
    tensors = {"a float64 tensor": data.clone(), "a float32 tensor": data.to(torch.float32)}
    for kind, tensor in tensors.items():
        before_tensor = tensor.clone()
        _fit_score_refit(factory, tensor)
        _require(torch.equal(tensor, before_tensor), f"fit or log_prob changed {kind} passed to it")
    read_only = data.numpy().copy()
    read_only.setflags(write=False)
    factory().fit(read_only, generator=_seeded(0))


def _fit_score_refit(factory: ModelFactory, x: np.ndarray | torch.Tensor) -> None:
    model = factory().fit(x, generator=_seeded(0))
    model.log_prob(x)
    model.fit(x, generator=_seeded(1))  # a refit (warm or cold) must not write either


@_check
def check_sample_contract(factory: ModelFactory, data: torch.Tensor) -> None:
    """sample(n) is a finite, contiguous CPU float32 tensor [n, d], at any bias in (0, 1]."""
    model = _fitted(factory, data)
    d = data.shape[1]
    for bias in (1.0, 0.5):
        draws = model.sample(17, bias=bias, generator=_seeded(1))
        _require(isinstance(draws, torch.Tensor), f"sample returned {type(draws).__name__}")
        shape = tuple(draws.shape)
        _require(shape == (17, d), f"sample(17) has shape {shape}, not (17, {d})")
        _require(draws.dtype == torch.float32, f"sample has dtype {draws.dtype}, not torch.float32")
        _require(draws.device.type == "cpu", f"sample is on {draws.device}, not the CPU")
        _require(draws.is_contiguous(), "sample is not contiguous")
        _require(bool(torch.isfinite(draws).all()), f"sample at bias {bias} is not finite")


@_check
def check_sample_zero(factory: ModelFactory, data: torch.Tensor) -> None:
    """sample(0) is an empty float32 tensor [0, d]."""
    draws = _fitted(factory, data).sample(0, generator=_seeded(1))
    d = data.shape[1]
    _require(
        isinstance(draws, torch.Tensor) and draws.shape == (0, d),
        f"sample(0) is {getattr(draws, 'shape', draws)!r}, not an empty tensor (0, {d})",
    )
    _require(draws.dtype == torch.float32, f"sample(0) has dtype {draws.dtype}, not torch.float32")


@_check
def check_fit_is_reproducible(factory: ModelFactory, data: torch.Tensor) -> None:
    """Two fits with equal generators give equal states and equal samples."""
    first, second = _fitted(factory, data, seed=3), _fitted(factory, data, seed=3)
    state, other = first.state_dict(), second.state_dict()
    _require(state.keys() == other.keys(), "two equal fits give states with different keys")
    differ = [key for key in state if not _same(state[key], other[key])]
    _require(not differ, f"two fits with equal generators differ in {', '.join(differ)}")
    a, b = first.sample(50, generator=_seeded(4)), second.sample(50, generator=_seeded(4))
    _require(torch.equal(a, b), "two fits with equal generators sample differently")


@_check
def check_sample_is_reproducible(factory: ModelFactory, data: torch.Tensor) -> None:
    """Equal generators give equal samples (at bias 1 and below); different seeds do not."""
    model = _fitted(factory, data)
    for bias in (1.0, 0.6):
        a = model.sample(50, bias=bias, generator=_seeded(4))
        b = model.sample(50, bias=bias, generator=_seeded(4))
        _require(torch.equal(a, b), f"equal generators give different samples at bias {bias}")
    a, b = model.sample(50, generator=_seeded(4)), model.sample(50, generator=_seeded(5))
    _require(not torch.equal(a, b), "generators of different seeds give the same sample")


@_check
def check_uses_only_the_given_generator(factory: ModelFactory, data: torch.Tensor) -> None:
    """fit, sample, log_prob and a state round trip leave torch's, numpy's and Python's global
    random states unchanged: every draw comes from the generator passed in."""

    def calls() -> None:
        model = _fitted(factory, data)
        model.sample(50, generator=_seeded(1))
        model.sample(50, bias=0.5, generator=_seeded(2))
        model.log_prob(data[:20])
        factory().load_state_dict(model.state_dict()).sample(5, generator=_seeded(3))

    changed = global_random_states_used(calls)
    _require(not changed, f"the global random state of {', '.join(changed)} was used")


def global_random_states_used(calls: Callable[[], None]) -> list[str]:
    """Which global random states (torch, numpy, random) ``calls`` changed; all three are
    restored afterwards."""
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()  # noqa: NPY002 (read to check that nothing draws from it)
    random_state = python_random.getstate()
    try:
        calls()
        return [
            name
            for name, same in (
                ("torch", torch.equal(torch.get_rng_state(), torch_state)),
                ("numpy", _same_numpy_state(np.random.get_state(), numpy_state)),  # noqa: NPY002
                ("random", python_random.getstate() == random_state),
            )
            if not same
        ]
    finally:
        torch.set_rng_state(torch_state)
        np.random.set_state(numpy_state)  # noqa: NPY002 (restores what it read)
        python_random.setstate(random_state)


def _same_numpy_state(a: object, b: object) -> bool:
    """Equal numpy random states: the legacy tuple of MT19937 (what `np.random.get_state()`
    returns) or the nested dict of another bit generator, arrays compared by value."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_numpy_state(a[key], b[key]) for key in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(map(_same_numpy_state, a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return bool(a == b)


@_check
def check_bias_bounds(factory: ModelFactory, data: torch.Tensor) -> None:
    """A bias outside (0, 1] (zero, negative, above one, NaN, infinite, a bool, text) is a
    ValueError; a small positive bias is accepted."""
    model = _fitted(factory, data)
    for bias in (0.0, -0.5, 1.5, math.nan, math.inf, True, "0.5"):

        def sample_at(bias: object = bias) -> Any:
            return model.sample(5, bias=bias, generator=_seeded(1))

        _raises(ValueError, sample_at, f"sample(bias={bias!r})")
    draws = model.sample(5, bias=0.05, generator=_seeded(1))
    _require(bool(torch.isfinite(draws).all()), "sample at bias 0.05 is not finite")


@_check
def check_log_prob_contract(factory: ModelFactory, data: torch.Tensor) -> None:
    """log_prob of m rows is a finite float64 tensor [m], the same for numpy and torch input."""
    model = _fitted(factory, data)
    scores = model.log_prob(data[:11])
    _require(isinstance(scores, torch.Tensor), f"log_prob returned {type(scores).__name__}")
    _require(scores.shape == (11,), f"log_prob of 11 rows has shape {tuple(scores.shape)}")
    _require(scores.dtype == torch.float64, f"log_prob has dtype {scores.dtype}, not float64")
    _require(bool(torch.isfinite(scores).all()), "log_prob of training points is not finite")
    from_numpy = model.log_prob(data[:11].numpy())
    _require(torch.equal(scores, from_numpy), "log_prob differs between numpy and torch input")


@_check
def check_state_dict_round_trip(factory: ModelFactory, data: torch.Tensor) -> None:
    """state_dict holds tensors and Python scalars; loading it into a fresh model returns
    that model, which samples and scores exactly as the original; an empty state is refused."""
    model = _fitted(factory, data)
    state = model.state_dict()
    odd = [k for k, v in state.items() if not isinstance(v, torch.Tensor | int | float | bool)]
    _require(not odd, f"state entries {odd} are not tensors or Python scalars")
    fresh = factory()
    restored = fresh.load_state_dict(state)
    _require(restored is fresh, "load_state_dict did not return the model")
    for bias in (1.0, 0.5):
        a = restored.sample(40, bias=bias, generator=_seeded(9))
        b = model.sample(40, bias=bias, generator=_seeded(9))
        _require(torch.equal(a, b), f"the restored model samples differently at bias {bias}")
    _require(
        torch.equal(restored.log_prob(data), model.log_prob(data)),
        "the restored model scores differently",
    )
    _raises(ValueError, lambda: factory().load_state_dict({}), "load_state_dict({})")


@_check
def check_rejects_bad_arguments(factory: ModelFactory, data: torch.Tensor) -> None:
    """A negative or fractional n, a missing generator and points of the wrong dimension are
    ValueErrors (no silent fallback to the global random state)."""
    model = _fitted(factory, data)
    _raises(ValueError, lambda: model.sample(-1, generator=_seeded(0)), "sample(-1)")
    _raises(ValueError, lambda: model.sample(2.5, generator=_seeded(0)), "sample(2.5)")
    _raises(ValueError, lambda: model.sample(3, generator=None), "sample(generator=None)")
    _raises(ValueError, lambda: factory().fit(data, generator=0), "fit(generator=0)")
    _raises(ValueError, lambda: model.log_prob(data[:, :-1]), "log_prob with a column too few")


@_check
def check_rejects_bad_training_data(factory: ModelFactory, data: torch.Tensor) -> None:
    """fit refuses data that is not 2-D, has no rows, holds NaN or is not numbers (ValueError)."""
    nan = data[:5].clone()
    nan[0, 0] = math.nan
    bad = {
        "1-D data": data[:, 0],
        "data with no rows": data[:0],
        "data with NaN": nan,
        "text": "text",
    }
    for what, x in bad.items():

        def fit_on(x: object = x) -> Any:
            return factory().fit(x, generator=_seeded(0))

        _raises(ValueError, fit_on, f"fit on {what}")

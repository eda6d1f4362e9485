"""Conformance suite of the language models: the `GenerativeModel` protocol on documents.

Core objects: `check_language_model` (run every check on a registered language model or a
model factory; raises `models.checks.ModelCheckError` naming each failed check and why),
`LANGUAGE_CHECKS` (the checks, each a function ``check_*(factory, data)`` that can be run
alone) and `language_check_data` (the default training documents). A language model fits
and samples `models.documents.Documents` over ``vocab`` words and scores their words. Every
check draws from explicit generators only and leaves the global random states as they were.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from models.base import GenerativeModel, NotFittedError, missing_methods
from models.checks import ModelCheckError, ModelFactory, _factory, global_random_states_used
from models.documents import Documents
from models.params import ModelParams, check_params

__all__ = ["LANGUAGE_CHECKS", "check_language_model", "language_check_data"]

LanguageCheck = Callable[[ModelFactory, Documents], None]

LANGUAGE_CHECKS: list[LanguageCheck] = []
"""Every check, in the order `check_language_model` runs them."""

VOCAB = 30
"""Words of the default training documents (ids 0 .. 29); models are built with this vocab."""


def language_check_data(n: int = 200, vocab: int = VOCAB) -> Documents:
    """Fixed documents (seed 0): 2 to 12 words each, Zipf-like word frequencies."""
    generator = np.random.default_rng(0)
    lengths = generator.integers(2, 13, n)
    weights = 1.0 / np.arange(1, vocab + 1)
    tokens = generator.choice(vocab, int(lengths.sum()), p=weights / weights.sum())
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return Documents(tokens.astype(np.int32), offsets)


def check_language_model(
    model: str | ModelFactory,
    *,
    params: Mapping[str, Any] | None = None,
    data: Documents | None = None,
) -> list[str]:
    """Run every check on the language model registered as ``model`` (built with ``params``,
    whose ``vocab`` must cover the data's words) or built by the callable ``model``; returns
    the names of the checks run."""
    factory = _factory(model, {"vocab": VOCAB} | dict(params or {}))
    data = language_check_data() if data is None else data
    failures: dict[str, str] = {}
    for check in LANGUAGE_CHECKS:
        try:
            check(factory, data)
        except ModelCheckError as error:
            failures.update(error.failures)
    if failures:
        label = model if isinstance(model, str) else getattr(model, "__name__", repr(model))
        reasons = "; ".join(f"{name}: {why}" for name, why in failures.items())
        message = f"model {label!r} failed {len(failures)} of {len(LANGUAGE_CHECKS)} checks: "
        raise ModelCheckError(message + reasons, failures)
    return [check.__name__ for check in LANGUAGE_CHECKS]


class _Failed(Exception):
    """One rule broken inside a check."""


def _check(function: LanguageCheck) -> LanguageCheck:
    @functools.wraps(function)
    def run(factory: ModelFactory, data: Documents) -> None:
        copy = Documents(data.tokens.copy(), data.offsets.copy())
        try:
            function(factory, copy)
        except _Failed as failed:
            why = str(failed)
        except Exception as error:  # a model that crashes fails the check, it does not stop it
            why = f"raised {type(error).__name__}: {error}"
        else:
            return
        raise ModelCheckError(f"{function.__name__}: {why}", {function.__name__: why})

    LANGUAGE_CHECKS.append(run)
    return run


def _require(condition: bool, why: str) -> None:
    if not condition:
        raise _Failed(why)


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _fitted(factory: ModelFactory, data: Documents, seed: int = 0) -> Any:
    return factory().fit(data, generator=_seeded(seed))


def _same(a: Documents, b: Documents) -> bool:
    return np.array_equal(a.tokens, b.tokens) and np.array_equal(a.offsets, b.offsets)


@_check
def check_protocol(factory: ModelFactory, data: Documents) -> None:
    """A fresh model defines every protocol method and says it models documents."""
    model = factory()
    missing = missing_methods(type(model))
    _require(not missing, f"{type(model).__name__} does not define {', '.join(missing)}")
    _require(isinstance(model, GenerativeModel), "not an instance of GenerativeModel")
    _require(getattr(type(model), "content", None) == "documents", "content is not 'documents'")


@_check
def check_declares_parameters(factory: ModelFactory, data: Documents) -> None:
    """A `Params` class declares the constructor's parameters, and the model's own validate."""
    model = factory()
    schema = getattr(type(model), "Params", None)
    _require(isinstance(schema, type) and issubclass(schema, ModelParams), "no Params class")
    assert schema is not None
    values = {name: getattr(model, name) for name in schema.model_fields}
    check_params(schema, values, model=type(model).__name__)


@_check
def check_not_fitted(factory: ModelFactory, data: Documents) -> None:
    """sample, log_prob and state_dict raise NotFittedError before fit."""
    model = factory()
    for name, call in (
        ("sample", lambda: model.sample(3, generator=_seeded(0))),
        ("log_prob", lambda: model.log_prob(data)),
        ("state_dict", model.state_dict),
    ):
        try:
            call()
        except NotFittedError:
            continue
        except Exception as error:
            raise _Failed(f"{name} before fit raised {type(error).__name__}") from None
        raise _Failed(f"{name} before fit did not raise NotFittedError")


@_check
def check_fit_returns_self_and_keeps_its_input(factory: ModelFactory, data: Documents) -> None:
    """fit returns the model itself and leaves the documents as they were."""
    before = Documents(data.tokens.copy(), data.offsets.copy())
    model = factory()
    _require(model.fit(data, generator=_seeded(0)) is model, "fit did not return self")
    _require(_same(data, before), "fit changed its input")


@_check
def check_sample_contract(factory: ModelFactory, data: Documents) -> None:
    """sample(n) gives n documents of int32 word ids in [0, vocab), at any bias in (0, 1];
    sample(0) gives none."""
    model = _fitted(factory, data)
    for bias in (1.0, 0.5):
        drawn = model.sample(25, bias=bias, generator=_seeded(1))
        _require(isinstance(drawn, Documents) and len(drawn) == 25, "not 25 Documents")
        _require(drawn.tokens.dtype == np.int32, f"tokens are {drawn.tokens.dtype}, not int32")
        tokens = drawn.tokens
        _require(
            len(tokens) == 0 or (tokens.min() >= 0 and tokens.max() < model.vocab),
            "word ids outside [0, vocab)",
        )
        _require(drawn.offsets[0] == 0 and drawn.offsets[-1] == len(tokens), "bad offsets")
    _require(len(model.sample(0, generator=_seeded(2))) == 0, "sample(0) is not empty")


@_check
def check_is_reproducible(factory: ModelFactory, data: Documents) -> None:
    """Equal generators give equal fits and samples; different seeds different samples."""
    a, b = _fitted(factory, data, 3), _fitted(factory, data, 3)
    for bias in (1.0, 0.7):
        first = a.sample(40, bias=bias, generator=_seeded(4))
        _require(_same(first, b.sample(40, bias=bias, generator=_seeded(4))), "not reproducible")
    other = a.sample(40, generator=_seeded(5))
    _require(not _same(a.sample(40, generator=_seeded(4)), other), "seeds give the same sample")


@_check
def check_uses_only_the_given_generator(factory: ModelFactory, data: Documents) -> None:
    """fit, sample, log_prob and a state round trip leave the global random states alone."""

    def calls() -> None:
        model = _fitted(factory, data)
        model.sample(20, generator=_seeded(1))
        model.sample(20, bias=0.5, generator=_seeded(2))
        model.log_prob(data)
        factory().load_state_dict(model.state_dict()).sample(5, generator=_seeded(3))

    changed = global_random_states_used(calls)
    _require(not changed, f"the global random state of {', '.join(changed)} was used")


@_check
def check_bias_bounds(factory: ModelFactory, data: Documents) -> None:
    """sample refuses a bias outside (0, 1] with a ValueError."""
    model = _fitted(factory, data)
    for bias in (0.0, 1.5, -1.0, float("nan")):
        try:
            model.sample(3, bias=bias, generator=_seeded(0))
        except ValueError:
            continue
        raise _Failed(f"bias {bias} was accepted")


@_check
def check_log_prob_contract(factory: ModelFactory, data: Documents) -> None:
    """log_prob gives one float64 score per document, finite and <= 0 on the training data,
    and the same for the same documents in another order."""
    model = _fitted(factory, data)
    scores = model.log_prob(data)
    _require(isinstance(scores, torch.Tensor) and scores.dtype == torch.float64, "not float64")
    _require(scores.shape == (len(data),), f"shape {tuple(scores.shape)}, not ({len(data)},)")
    _require(bool(torch.isfinite(scores).all()) and bool((scores <= 0).all()), "not finite <= 0")
    order = np.arange(len(data))[::-1].copy()
    reversed_documents = Documents.from_lists([data.document(int(i)).tolist() for i in order])
    again = model.log_prob(reversed_documents)
    _require(torch.equal(again, scores[torch.from_numpy(order)]), "depends on document order")


@_check
def check_state_dict_round_trip(factory: ModelFactory, data: Documents) -> None:
    """A fresh model loaded with state_dict() scores and samples exactly as the fitted one."""
    model = _fitted(factory, data)
    restored = factory().load_state_dict(model.state_dict())
    _require(torch.equal(model.log_prob(data), restored.log_prob(data)), "scores differ")
    a = model.sample(30, bias=0.8, generator=_seeded(6))
    _require(_same(a, restored.sample(30, bias=0.8, generator=_seeded(6))), "samples differ")


@_check
def check_rejects_bad_documents(factory: ModelFactory, data: Documents) -> None:
    """fit and log_prob refuse word ids outside [0, vocab) with a ValueError."""
    model = _fitted(factory, data)
    bad = Documents.from_lists([[0, model.vocab]])
    for name, call in (
        ("fit", lambda: factory().fit(bad, generator=_seeded(0))),
        ("log_prob", lambda: model.log_prob(bad)),
    ):
        try:
            call()
        except ValueError:
            continue
        raise _Failed(f"{name} accepted a word id of {model.vocab}")

"""The conformance suite (models.checks) run on every registered model, then model-specific tests.

Core objects: `FAST_PARAMS` (small, quick settings per model), `TRUTH` (a known 2-component
3-D Gaussian mixture the models must recover), deliberately broken models the suite must
catch, and the tests.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import models
from models import (
    GenerativeModel,
    ModelParams,
    ParameterError,
    available,
    make,
    params_schema,
    validate_params,
)
from models.base import as_data, check_bias
from models.checks import CHECKS, ModelCheckError, check_data, check_model
from models.gaussian import GaussianModel
from models.gmm import GaussianMixtureModel
from models.kde import KernelDensityModel
from models.params import describe_params

FAST_PARAMS: dict[str, dict] = {
    "gaussian": {},
    "gmm": {"components": 3, "max_iter": 200},
    "kde": {"max_points": 5000},
    "flow": {"transforms": 3, "hidden": 32, "epochs": 15},
    "vae": {"latent": 2, "epochs": 60},
    "diffusion": {"epochs": 30},
}
"""Small budgets for the neural models: they still recover the truth's moments (below)."""
CONFORMANCE_PARAMS: dict[str, dict] = {
    "flow": {"transforms": 2, "hidden": 16, "epochs": 5},
    "vae": {"latent": 2, "hidden": 16, "epochs": 5},
    "diffusion": {"steps": 20, "hidden": 32, "epochs": 5},
}
"""Smaller still for the conformance checks, which fit many times and test the contract only."""
MODEL_NAMES = available("vectors")
CHECK_DATA = check_data()


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def fast_model(name: str):
    return make(name, **FAST_PARAMS.get(name, {}))


class Mixture:
    """A Gaussian mixture with exact moments, sampling and log-density (the ground truth)."""

    def __init__(self, weights, means, covariances) -> None:
        self.weights = torch.tensor(weights, dtype=torch.float64)
        self.means = torch.tensor(means, dtype=torch.float64)
        self.covariances = torch.tensor(covariances, dtype=torch.float64)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        labels = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        chols = torch.linalg.cholesky(self.covariances)
        return self.means[labels] + torch.einsum("nde,ne->nd", chols[labels], noise)

    def mean(self) -> torch.Tensor:
        return self.weights @ self.means

    def covariance(self) -> torch.Tensor:
        second = self.covariances + self.means[:, :, None] * self.means[:, None, :]
        mean = self.mean()
        return (self.weights[:, None, None] * second).sum(dim=0) - torch.outer(mean, mean)

    def log_prob(self, x: torch.Tensor) -> np.ndarray:
        per_component = np.stack(
            [
                multivariate_normal(m.numpy(), c.numpy()).logpdf(x.numpy())
                for m, c in zip(self.means, self.covariances, strict=True)
            ],
            axis=1,
        )
        return logsumexp(per_component + np.log(self.weights.numpy()), axis=1)


TRUTH = Mixture(
    weights=[0.4, 0.6],
    means=[[-1.5, 0.0, 0.5], [1.0, 0.5, -0.5]],
    covariances=[
        [[0.5, 0.1, 0.0], [0.1, 0.4, 0.05], [0.0, 0.05, 0.3]],
        [[0.3, -0.05, 0.0], [-0.05, 0.5, 0.1], [0.0, 0.1, 0.4]],
    ],
)
SINGLE_GAUSSIAN = Mixture(
    weights=[1.0], means=[[0.5, -1.0, 2.0]], covariances=[TRUTH.covariance().tolist()]
)


@pytest.fixture(scope="module")
def truth_data() -> torch.Tensor:
    return TRUTH.sample(4000, seeded(100))


_FITTED: dict[str, object] = {}


def fitted_on_truth(name: str, data: torch.Tensor):
    """The model ``name`` with its fast parameters fitted on the truth's 4000 points (once
    per test session: the neural fits take seconds)."""
    if name not in _FITTED:
        _FITTED[name] = fast_model(name).fit(data, generator=seeded(0))
    return _FITTED[name]


@pytest.fixture(scope="module")
def small_data() -> torch.Tensor:
    return TRUTH.sample(300, seeded(101))


# --------------------------------------------------------------------------- conformance


def test_registry_lists_the_models():
    assert sorted(MODEL_NAMES) == MODEL_NAMES
    assert {"gaussian", "gmm", "kde"} <= set(MODEL_NAMES)
    assert "ngram" in available("documents") and "ngram" not in MODEL_NAMES
    assert set(available()) == set(MODEL_NAMES) | set(available("documents"))


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_constructor_only_stores_parameters(name):
    model = fast_model(name)
    assert isinstance(model, GenerativeModel)
    assert set(vars(model)) == set(make(name).__dict__)  # no fitted state before fit
    assert not [key for key in vars(model) if key.endswith("_")]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_registered_model_passes_each_check(name, check):
    params = CONFORMANCE_PARAMS.get(name, FAST_PARAMS.get(name, {}))
    check(functools.partial(make, name, **params), CHECK_DATA)


def test_check_model_runs_every_check_on_a_name_or_a_factory():
    names = [check.__name__ for check in CHECKS]
    assert check_model("gaussian") == names
    assert check_model(GaussianModel, params={"ridge": 0.1}) == names
    assert len(set(names)) == len(names) >= 14
    with pytest.raises(ValueError, match="unknown model 'gm'"):
        check_model("gm")


class GlobalRandomModel(GaussianModel):
    """Draws (and discards) noise from torch's global random state."""

    def sample(self, n, *, bias=1.0, generator):
        draws = super().sample(n, bias=bias, generator=generator)
        return draws + 0.0 * torch.randn(draws.shape)


class Float64Model(GaussianModel):
    """Samples in float64 instead of float32."""

    def sample(self, n, *, bias=1.0, generator):
        return super().sample(n, bias=bias, generator=generator).double()


class FixedSeedModel(GaussianModel):
    """Ignores the generator it is given and samples from a fixed seed."""

    def sample(self, n, *, bias=1.0, generator):
        return super().sample(n, bias=bias, generator=torch.Generator().manual_seed(0))


class IgnoresBiasModel(GaussianModel):
    """Accepts any bias (and ignores it)."""

    def sample(self, n, *, bias=1.0, generator):
        return super().sample(n, generator=generator)


class CentresInPlaceModel(GaussianModel):
    """Centres float64 tensor input in place before fitting."""

    def fit(self, x, *, generator):
        if isinstance(x, torch.Tensor) and x.dtype == torch.float64:
            x -= x.mean(dim=0)
        return super().fit(x, generator=generator)


class ForgetfulModel(GaussianModel):
    """Saves a covariance twice as large as the fitted one."""

    def state_dict(self):
        state = super().state_dict()
        return {**state, "covariance_": 2 * state["covariance_"]}


class UndeclaredParameterModel(GaussianModel):
    """Takes a constructor parameter that its Params do not declare."""

    def __init__(self, covariance="mle", ridge=0.0, shrink=0.5) -> None:
        super().__init__(covariance, ridge)
        self.shrink = shrink


class NoLogProbModel:
    """Fits and samples but has no log_prob, state_dict or load_state_dict."""

    def fit(self, x, *, generator):
        return self

    def sample(self, n, *, bias=1.0, generator):
        return torch.zeros(n, 3)


@pytest.mark.parametrize(
    ("broken", "failed"),
    [
        (GlobalRandomModel, {"check_uses_only_the_given_generator"}),
        (Float64Model, {"check_sample_contract", "check_sample_zero"}),
        (FixedSeedModel, {"check_sample_is_reproducible", "check_rejects_bad_arguments"}),
        (IgnoresBiasModel, {"check_bias_bounds"}),
        (CentresInPlaceModel, {"check_fit_does_not_mutate_input"}),
        (ForgetfulModel, {"check_state_dict_round_trip"}),
        (UndeclaredParameterModel, {"check_declares_parameters"}),
        (
            NoLogProbModel,
            {"check_protocol", "check_log_prob_contract", "check_declares_parameters"},
        ),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else "",
)
def test_the_suite_names_the_checks_a_broken_model_fails(broken, failed):
    with pytest.raises(ModelCheckError) as caught:
        check_model(broken)
    failures = caught.value.failures
    assert failed <= set(failures)
    if broken is not NoLogProbModel and broken is not CentresInPlaceModel:
        assert set(failures) == failed  # the other checks still pass
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"model {broken.__name__!r} failed")
    assert all(f"{name}: {failures[name]}" in message for name in failed)


def test_register_refuses_a_class_missing_protocol_methods():
    with pytest.raises(TypeError) as caught:
        models.register("half-a-model")(NoLogProbModel)
    message = str(caught.value)
    assert "\n" not in message
    assert "NoLogProbModel" in message and "GenerativeModel" in message
    assert message.endswith("missing log_prob, state_dict, load_state_dict")
    assert "half-a-model" not in available()


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_fit_then_sample_recovers_the_truths_moments(name, truth_data):
    """Sample mean within 0.1 and covariance entries within 0.15 of the truth's (20k draws).

    A KDE inflates the covariance by h^2 I (the kernel), so that is added to its target.
    """
    model = fitted_on_truth(name, truth_data)
    draws = model.sample(20_000, generator=seeded(1)).double()
    expected_covariance = TRUTH.covariance()
    if isinstance(model, KernelDensityModel):
        expected_covariance = expected_covariance + model.bandwidth_**2 * torch.eye(3)
    torch.testing.assert_close(draws.mean(dim=0), TRUTH.mean(), atol=0.1, rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), expected_covariance, atol=0.15, rtol=0)


@pytest.mark.parametrize(
    ("name", "truth"),
    [("gmm", TRUTH), ("gaussian", SINGLE_GAUSSIAN), ("flow", TRUTH)],
    ids=["gmm", "gaussian", "flow"],
)
def test_held_out_log_prob_close_to_the_truths(name, truth):
    """Mean held-out log-density within 0.15 nats of the true density's (4000 train, 4000 test)."""
    model = fast_model(name).fit(truth.sample(4000, seeded(10)), generator=seeded(0))
    held_out = truth.sample(4000, seeded(11))
    gap = float(model.log_prob(held_out).mean()) - truth.log_prob(held_out).mean()
    assert abs(gap) < 0.15


@pytest.mark.parametrize(("name", "lowest"), [("vae", -0.3), ("diffusion", -8.0)])
def test_neural_log_densities_are_lower_bounds_near_the_truth(name, lowest, truth_data):
    """The VAE's importance-weighted estimate and the diffusion model's variational bound lie
    below the true held-out log-density (by Gibbs' inequality, up to sampling error) and
    within their stated distance of it."""
    model = fitted_on_truth(name, truth_data)
    held_out = TRUTH.sample(2000, seeded(11))
    gap = float(model.log_prob(held_out).mean()) - TRUTH.log_prob(held_out).mean()
    assert lowest < gap < 0.05


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_bias_below_one_shrinks_the_spread(name, truth_data):
    model = fitted_on_truth(name, truth_data)
    spread = {
        bias: float(
            torch.cov(model.sample(5000, bias=bias, generator=seeded(1)).double().T).trace()
        )
        for bias in (1.0, 0.7, 0.4)
    }
    assert spread[1.0] > spread[0.7] > spread[0.4]


BAD_PARAMS = {
    "gaussian": [({"covariance": "biased"}, "covariance"), ({"ridge": -1.0}, "ridge")],
    "gmm": [
        ({"components": 0}, "components"),
        ({"max_iter": 1.5}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"reg_covar": math.inf}, "reg_covar"),
        ({"warm_start": "yes"}, "warm_start"),
        ({"init": "kmeans"}, "init"),
    ],
    "flow": [({"transforms": 0}, "transforms"), ({"device": "gpu"}, "device")],
    "vae": [({"latent": 0}, "latent"), ({"learning_rate": 0.0}, "learning_rate")],
    "diffusion": [({"steps": 1}, "steps"), ({"epochs": 2.5}, "epochs")],
    "kde": [
        ({"bandwidth": "wide"}, "bandwidth"),
        ({"bandwidth": 0.0}, "bandwidth"),
        ({"max_points": 0}, "max_points"),
    ],
}


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [(name, params, message) for name, cases in BAD_PARAMS.items() for params, message in cases],
)
def test_bad_hyperparameters_fail_at_fit_not_construction(name, params, message, small_data):
    model = make(name, **params)  # scikit-learn contract: the constructor only stores
    with pytest.raises(ValueError, match=message):
        model.fit(small_data, generator=seeded(0))


@pytest.mark.parametrize(
    ("name", "params", "parameter"),
    [(name, params, message) for name, cases in BAD_PARAMS.items() for params, message in cases],
)
def test_declared_parameters_refuse_what_fit_refuses_naming_the_parameter(name, params, parameter):
    with pytest.raises(ParameterError) as caught:
        validate_params(name, params)
    assert caught.value.parameter == parameter
    assert "allowed: " in caught.value.reason and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("gmm", {"components": -3}, "components: Input should be greater than or equal to 1"),
        ("gmm", {"components": "abc"}, "components: Input should be a valid integer (got 'abc')"),
        ("gmm", {"components": True}, "components: Input should be a valid integer (got True)"),
        ("gmm", {"max_iter": 0}, "max_iter: Input should be greater than or equal to 1"),
        ("gmm", {"tol": math.nan}, "tol: Input should be a finite number"),
        ("gmm", {"warm_start": 1}, "warm_start: Input should be a valid boolean"),
        ("kde", {"max_points": 0}, "max_points: Input should be greater than or equal to 1"),
        ("kde", {"bandwidth": 1e-300}, "allowed: a number >= 1e-12 and <= 1000000.0; or 'scott'"),
        (
            "gmm",
            {"component": 3},
            "component: unknown parameter of model 'gmm'; did you mean 'components'? allowed: "
            "components, max_iter, tol, reg_covar, warm_start, init",
        ),
    ],
)
def test_declared_parameters_give_one_line_naming_the_parameter(name, params, message):
    with pytest.raises(ParameterError) as caught:
        validate_params(name, params)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_model_declares_its_parameters_with_defaults_that_validate(name):
    schema = params_schema(name)
    assert schema is not None and issubclass(schema, ModelParams)
    defaults = schema().model_dump()
    validate_params(name, defaults)
    assert make(name, **defaults).__dict__ == make(name).__dict__
    validate_params(name, FAST_PARAMS[name])
    docs = describe_params(schema)
    assert [doc.name for doc in docs] == list(defaults)
    assert all(doc.type and doc.allowed and doc.description for doc in docs)


def test_make_rejects_unknown_names_and_parameters():
    with pytest.raises(ValueError, match=r"unknown model 'gm'.*available: .*did you mean 'gmm'"):
        make("gm")
    with pytest.raises(ValueError, match=r"unknown parameter 'component'.*accepted: components"):
        make("gmm", component=3)
    assert isinstance(make("gmm", components=4), GaussianMixtureModel)


def test_register_refuses_to_reuse_a_name():
    with pytest.raises(ValueError, match="already registered"):

        @models.register("gmm")
        class Impostor:
            pass


@settings(max_examples=50, deadline=None)
@given(bias=st.floats(min_value=0.0, max_value=1.0, exclude_min=True))
def test_check_bias_accepts_the_unit_interval(bias):
    assert check_bias(bias) == bias


@settings(max_examples=50, deadline=None)
@given(
    bias=st.one_of(
        st.floats(max_value=0.0),
        st.floats(min_value=1.0, exclude_min=True),
        st.just(math.nan),
        st.just(True),
    )
)
def test_check_bias_rejects_everything_else(bias):
    with pytest.raises(ValueError, match=r"bias must be in \(0, 1\]"):
        check_bias(bias)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (np.zeros(5), "2-D"),
        (np.zeros((0, 3)), "at least 1 row"),
        (np.array([[0.0, math.nan]]), "NaN"),
        ("text", "array-like"),
    ],
)
def test_as_data_names_what_is_wrong(bad, message):
    with pytest.raises(ValueError, match=message):
        as_data(bad)


def test_as_data_returns_float64_without_copying_float64_tensors():
    data = torch.zeros(4, 2, dtype=torch.float64)
    assert as_data(data).data_ptr() == data.data_ptr()
    read_only = np.zeros((3, 2), dtype=np.float32)
    read_only.setflags(write=False)
    assert as_data(read_only).dtype == torch.float64


# --------------------------------------------------------------------------- gaussian


@pytest.mark.parametrize(("covariance", "ddof"), [("mle", 0), ("unbiased", 1)])
def test_gaussian_covariance_estimators_match_numpy(covariance, ddof, small_data):
    model = GaussianModel(covariance=covariance).fit(small_data.numpy(), generator=seeded(0))
    expected = np.cov(small_data.numpy().T, ddof=ddof)
    np.testing.assert_allclose(model.covariance_.numpy(), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.mean_.numpy(), small_data.numpy().mean(axis=0), rtol=1e-12)


def test_gaussian_ridge_is_added_to_the_diagonal(small_data):
    plain = GaussianModel().fit(small_data, generator=seeded(0))
    ridged = GaussianModel(ridge=0.25).fit(small_data, generator=seeded(0))
    torch.testing.assert_close(ridged.covariance_ - plain.covariance_, 0.25 * torch.eye(3).double())


def test_gaussian_in_one_dimension():
    data = 2.0 + 3.0 * torch.randn(2000, 1, generator=seeded(0), dtype=torch.float64)
    model = GaussianModel().fit(data, generator=seeded(0))
    assert model.covariance_.shape == (1, 1)
    mean, std = float(data.mean()), float(data.std(correction=0))
    points = torch.tensor([[0.0], [2.0], [7.5]], dtype=torch.float64)
    np.testing.assert_allclose(
        model.log_prob(points).numpy(),
        -0.5 * ((points[:, 0].numpy() - mean) / std) ** 2 - math.log(std * math.sqrt(2 * math.pi)),
        rtol=1e-12,
    )
    draws = model.sample(50_000, bias=0.25, generator=seeded(1)).double()
    assert abs(float(draws.var()) - 0.25 * std**2) < 0.05 * 0.25 * std**2


def test_gaussian_unbiased_needs_two_points():
    with pytest.raises(ValueError, match="at least 2 row"):
        GaussianModel(covariance="unbiased").fit([[1.0, 2.0]], generator=seeded(0))
    GaussianModel().fit([[1.0, 2.0]], generator=seeded(0)).sample(3, generator=seeded(0))


# --------------------------------------------------------------------------- gmm

SEPARATED = Mixture(
    weights=[0.6, 0.3, 0.1],
    means=[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]],
    covariances=[np.eye(2).tolist(), [[1.0, 0.5], [0.5, 1.0]], (0.5 * np.eye(2)).tolist()],
)


@pytest.fixture(scope="module")
def separated_model() -> GaussianMixtureModel:
    data = SEPARATED.sample(3000, seeded(20))
    return GaussianMixtureModel(components=3).fit(data, generator=seeded(0))


def test_gmm_recovers_well_separated_components(separated_model):
    """Means within 0.1, weights within 0.03, covariance entries within 0.15 (3000 points)."""
    model = separated_model
    order = torch.argsort(model.weights_, descending=True)
    torch.testing.assert_close(model.means_[order], SEPARATED.means, atol=0.1, rtol=0)
    torch.testing.assert_close(model.weights_[order], SEPARATED.weights, atol=0.03, rtol=0)
    torch.testing.assert_close(model.covariances_[order], SEPARATED.covariances, atol=0.15, rtol=0)
    assert model.converged_


def test_gmm_sampling_bias_sharpens_the_weights(separated_model):
    """Component frequencies at bias lambda follow w^(1/lambda) renormalised (20k draws)."""
    for bias in (1.0, 0.5):
        draws = separated_model.sample(20_000, bias=bias, generator=seeded(2)).double()
        nearest = torch.cdist(draws, separated_model.means_).argmin(dim=1)
        frequencies = torch.bincount(nearest, minlength=3).double() / len(draws)
        sharpened = separated_model.weights_ ** (1.0 / bias)
        torch.testing.assert_close(frequencies, sharpened / sharpened.sum(), atol=0.015, rtol=0)


def test_gmm_lower_bound_is_the_training_log_likelihood(separated_model):
    data = SEPARATED.sample(3000, seeded(20))
    assert separated_model.lower_bound_ <= float(separated_model.log_prob(data).mean()) + 1e-9
    assert float(separated_model.log_prob(data).mean()) - separated_model.lower_bound_ < 1e-3


def test_gmm_warm_start_converges_faster_than_cold_start(truth_data):
    """Refitting from the previous generation's mixture needs fewer EM passes than k-means++."""
    warm = GaussianMixtureModel(components=3, warm_start=True)
    warm.fit(TRUTH.sample(4000, seeded(30)), generator=seeded(0))
    previous_means = warm.means_.clone()
    cold = GaussianMixtureModel(components=3).fit(truth_data, generator=seeded(0))
    warm.fit(truth_data, generator=seeded(0))
    assert warm.converged_ and cold.converged_
    assert warm.n_iter_ < cold.n_iter_
    assert (warm.means_ - previous_means).abs().max() < 0.3  # started from, stayed near, gen one


def test_gmm_uses_at_most_n_components():
    model = GaussianMixtureModel(components=50).fit(
        torch.randn(5, 2, generator=seeded(0)), generator=seeded(0)
    )
    assert model.means_.shape == (5, 2) and model.weights_.shape == (5,)


def test_gmm_survives_duplicated_points():
    """Fewer distinct points than components: empty components are handled, output is finite."""
    distinct = torch.randn(6, 3, generator=seeded(0), dtype=torch.float64)
    data = distinct.repeat(50, 1)
    model = GaussianMixtureModel(components=10, max_iter=30).fit(data, generator=seeded(0))
    assert torch.isfinite(model.means_).all() and torch.isfinite(model.covariances_).all()
    assert math.isclose(float(model.weights_.sum()), 1.0)
    assert torch.isfinite(model.sample(100, generator=seeded(1))).all()
    assert torch.isfinite(model.log_prob(distinct)).all()


def test_gmm_random_init_also_fits(truth_data):
    model = GaussianMixtureModel(components=2, init="random").fit(truth_data, generator=seeded(0))
    held_out = TRUTH.sample(2000, seeded(12))
    assert abs(float(model.log_prob(held_out).mean()) - TRUTH.log_prob(held_out).mean()) < 0.15


# --------------------------------------------------------------------------- kde


def test_kde_scott_and_silverman_bandwidths(small_data):
    m, d = small_data.shape
    spread = float(small_data.std(dim=0).mean())
    scott = KernelDensityModel().fit(small_data, generator=seeded(0))
    assert math.isclose(scott.bandwidth_, m ** (-1 / (d + 4)) * spread, rel_tol=1e-12)
    silverman = KernelDensityModel(bandwidth="silverman").fit(small_data, generator=seeded(0))
    assert math.isclose(
        silverman.bandwidth_, (m * (d + 2) / 4) ** (-1 / (d + 4)) * spread, rel_tol=1e-12
    )
    fixed = KernelDensityModel(bandwidth=0.3).fit(small_data, generator=seeded(0))
    assert fixed.bandwidth_ == 0.3


def test_kde_subsamples_to_max_points(small_data):
    model = KernelDensityModel(max_points=100).fit(small_data, generator=seeded(0))
    assert model.points_.shape == (100, 3)
    matches = (model.points_[:, None, :] == small_data[None, :, :]).all(dim=2).any(dim=1)
    assert matches.all()
    assert len(torch.unique(model.points_, dim=0)) == 100


def test_kde_log_prob_matches_the_definition(small_data):
    model = KernelDensityModel(bandwidth=0.4).fit(small_data, generator=seeded(0))
    queries = small_data[:7] + 0.1
    kernels = np.stack(
        [
            multivariate_normal(p.numpy(), 0.16 * np.eye(3)).logpdf(queries.numpy())
            for p in small_data
        ],
        axis=1,
    )
    expected = logsumexp(kernels, axis=1) - math.log(len(small_data))
    np.testing.assert_allclose(model.log_prob(queries).numpy(), expected, rtol=1e-10)


def test_kde_leave_one_out_density_and_biased_choice(small_data):
    model = KernelDensityModel(bandwidth=0.5).fit(small_data[:40], generator=seeded(0))
    loo = model._leave_one_out_log_density()
    points = small_data[:40].numpy()
    for i in (0, 17, 39):
        others = np.delete(points, i, axis=0)
        kernels = multivariate_normal(points[i], 0.25 * np.eye(3)).logpdf(others)
        assert math.isclose(float(loo[i]), logsumexp(kernels) - math.log(39), rel_tol=1e-10)
    # at a low bias the draws concentrate around the densest stored point
    densest = model.points_[int(loo.argmax())]
    draws = model.sample(2000, bias=0.05, generator=seeded(1)).double()
    near = (draws - densest).norm(dim=1) < 4 * math.sqrt(0.05) * 0.5
    assert float(near.double().mean()) > 0.5


def test_kde_handles_collapsed_data():
    data = torch.ones(20, 2)
    model = KernelDensityModel().fit(data, generator=seeded(0))
    assert model.bandwidth_ > 0
    assert torch.isfinite(model.log_prob(data)).all()
    assert torch.isfinite(model.sample(5, bias=0.5, generator=seeded(0))).all()

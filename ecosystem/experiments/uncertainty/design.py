"""Experimental designs over a study's uncertainties: Sobol, Morris and Latin hypercube samples.

Core objects: :func:`sample_design` (a :class:`Design`: the points in the unit hypercube,
drawn by SALib's samplers or SciPy's Latin hypercube, and the values they map to through each
uncertainty's inverse distribution function) and :func:`salib_problem`. Samplers are seeded
from the study's seed through :class:`ecosystem.randomness.Streams`, never from a global
generator, so a study plans the same runs every time.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ecosystem.experiments.uncertainty.study import Study, Uncertainty
from ecosystem.randomness import Streams
from ecosystem.scenario import ScenarioError

__all__ = ["METHODS", "Design", "design_size", "salib_problem", "sample_design", "to_values"]

METHODS = ("sobol", "morris", "lhs")
"""Samplers: Saltelli's scheme for Sobol indices, Morris trajectories, a Latin hypercube."""


@dataclass
class Design:
    """Points of a design: ``unit`` in [0, 1]^D (what SALib analyses), ``values`` (what the
    runs are given), the uncertainty ``names`` (columns) and how it was drawn."""

    method: str
    n: int
    names: list[str]
    unit: np.ndarray
    values: np.ndarray
    options: dict = field(default_factory=dict)

    @property
    def rows(self) -> int:
        """How many points (futures) the design has."""
        return int(self.unit.shape[0])

    def record(self) -> dict:
        """The design as recorded in ``study.json`` and ``sweep.json``."""
        return {"method": self.method, "n": self.n, "rows": self.rows, **self.options}


def salib_problem(names: list[str]) -> dict:
    """SALib's problem over the unit hypercube: the study's distributions are applied after
    sampling (:func:`to_values`), so indices are in the outcome's units per unit of range."""
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def design_size(method: str, n: int, dimensions: int) -> int:
    """Points of a design: Sobol N(D + 2) (first and total order), Morris N(D + 1), LHS N."""
    if method == "sobol":
        return n * (dimensions + 2)
    if method == "morris":
        return n * (dimensions + 1)
    return n


def sample_design(study: Study, method: str, n: int, *, levels: int = 4) -> Design:
    """The ``method`` design of ``n`` (Sobol base samples, Morris trajectories, LHS points)
    over the study's uncertainties; raises :class:`ScenarioError` (one line) on bad input."""
    if method not in METHODS:
        raise ScenarioError(f"--method {method!r}: allowed: {', '.join(METHODS)}")
    names = list(study.uncertainties)
    problem = salib_problem(names)
    seed = int(Streams(study.seed).numpy(f"study-{method}").integers(2**31 - 1))
    options: dict = {"seed": study.seed}
    if method == "sobol":
        if n < 2 or n & (n - 1):
            raise ScenarioError(
                f"--n {n}: a Sobol design needs a power of two base samples (allowed: 2, 4, 8, "
                "..., 1024, ...)"
            )
        from SALib.sample import sobol

        unit = sobol.sample(problem, n, calc_second_order=False, seed=seed)
    elif method == "morris":
        if n < 2:
            raise ScenarioError(f"--n {n}: a Morris design needs at least 2 trajectories")
        from SALib.sample import morris

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            unit = morris.sample(problem, n, num_levels=levels, seed=seed)
        options["levels"] = levels
    else:
        if n < 2:
            raise ScenarioError(f"--n {n}: a Latin hypercube needs at least 2 points")
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(names), rng=np.random.default_rng(seed)).random(n)
    unit = np.clip(np.asarray(unit, dtype=float), 0.0, 1.0)
    values = to_values(study, unit)
    return Design(method, n, names, unit, values, options)


def to_values(study: Study, unit: np.ndarray) -> np.ndarray:
    """Points of the unit hypercube as the uncertainties' values (inverse CDF per column)."""
    columns = [_inverse(u, unit[:, j]) for j, u in enumerate(study.uncertainties.values())]
    return np.column_stack(columns) if columns else np.empty((unit.shape[0], 0))


def _inverse(uncertainty: Uncertainty, q: np.ndarray) -> np.ndarray:
    low, high = uncertainty.low, uncertainty.high
    if uncertainty.distribution == "uniform":
        return low + q * (high - low)
    if uncertainty.distribution == "triangular":
        mode = float(uncertainty.mode if uncertainty.mode is not None else low)
        peak = (mode - low) / (high - low)
        return np.asarray(stats.triang.ppf(q, peak, loc=low, scale=high - low), dtype=float)
    mean, sd = float(uncertainty.mean or 0.0), float(uncertainty.sd or 1.0)
    a, b = (low - mean) / sd, (high - mean) / sd
    values = stats.truncnorm.ppf(q, a, b, loc=mean, scale=sd)
    return np.clip(np.asarray(values, dtype=float), low, high)

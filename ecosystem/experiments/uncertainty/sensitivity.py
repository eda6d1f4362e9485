"""Global sensitivity: Sobol indices or Morris elementary effects of every outcome, by SALib.

Core object: :func:`analyse_sensitivity` (the tidy ``indices`` table, one row per outcome,
uncertainty and index with its bootstrap confidence interval and rank, and the ranked bar
figure ``indices.png``). Sobol gives ``S1`` (first order) and ``ST`` (total order); Morris
gives ``mu_star`` (mean absolute elementary effect), ``sigma`` (its spread: interactions or
non-linearity) and ``mu``. The indices are in the outcome's units per whole range of the
uncertainty for Morris, shares of the variance for Sobol.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ecosystem.experiments.figures.uncertainty import indices_figure_png
from ecosystem.experiments.uncertainty.design import salib_problem
from ecosystem.experiments.uncertainty.ensemble import AnalysisResult, StudyPlan, futures
from ecosystem.experiments.uncertainty.outcomes import window_description
from ecosystem.randomness import Streams

__all__ = ["CONFIDENCE", "INDEX_LABELS", "analyse_sensitivity", "sensitivity_indices"]

CONFIDENCE = 0.95
"""Level of SALib's bootstrap confidence intervals."""
INDEX_LABELS = {
    "S1": "first-order Sobol index",
    "ST": "total-order Sobol index",
    "mu_star": "Morris μ* (mean |elementary effect|)",
    "sigma": "Morris σ (spread of the elementary effects)",
    "mu": "Morris μ (mean elementary effect)",
}
RANKED_BY = {"sobol": "ST", "morris": "mu_star"}
"""The index that ranks the uncertainties of each method."""


def sensitivity_indices(
    method: str,
    names: list[str],
    unit: np.ndarray,
    y: np.ndarray,
    *,
    resamples: int = 1000,
    levels: int = 4,
    seed: int = 0,
) -> pd.DataFrame:
    """SALib's indices of one outcome ``y`` over the design ``unit``: columns ``uncertainty,
    index, value, conf`` (the half-width of the bootstrap interval)."""
    problem = salib_problem(names)
    rng_seed = int(Streams(seed).numpy(f"study-{method}-bootstrap").integers(2**31 - 1))
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "sobol":
            from SALib.analyze import sobol

            found = sobol.analyze(
                problem,
                y,
                calc_second_order=False,
                num_resamples=resamples,
                conf_level=CONFIDENCE,
                seed=rng_seed,
            )
            for index in ("S1", "ST"):
                for j, name in enumerate(names):
                    rows.append((name, index, found[index][j], found[f"{index}_conf"][j]))
        else:
            from SALib.analyze import morris

            found = morris.analyze(
                problem,
                unit,
                y,
                num_resamples=resamples,
                conf_level=CONFIDENCE,
                num_levels=levels,
                seed=rng_seed,
            )
            for j, name in enumerate(names):
                rows.append((name, "mu_star", found["mu_star"][j], found["mu_star_conf"][j]))
                rows.append((name, "sigma", found["sigma"][j], np.nan))
                rows.append((name, "mu", found["mu"][j], np.nan))
    return pd.DataFrame(rows, columns=["uncertainty", "index", "value", "conf"]).astype(
        {"value": float, "conf": float}
    )


def analyse_sensitivity(plan: StudyPlan, cases: pd.DataFrame) -> AnalysisResult:
    """The indices of every outcome of the study's sensitivity design."""
    study, design = plan.study, plan.design
    frame = futures(cases, study).sort_values("future")
    tables = []
    for outcome_name, outcome in study.outcomes.items():
        y = frame[outcome_name].to_numpy(dtype=float)
        indices = sensitivity_indices(
            design.method,
            design.names,
            design.unit,
            y,
            resamples=study.sensitivity.resamples,
            levels=int(design.options.get("levels", study.sensitivity.levels)),
            seed=study.seed,
        )
        ranked = indices[indices["index"] == RANKED_BY[design.method]]
        order = ranked.sort_values("value", ascending=False)["uncertainty"].tolist()
        indices["rank"] = indices["uncertainty"].map({name: i + 1 for i, name in enumerate(order)})
        indices.insert(0, "outcome", outcome_name)
        indices.insert(1, "scope", outcome.scope)
        indices.insert(2, "metric", outcome.metric)
        indices.insert(3, "statistic", window_description(outcome))
        indices["label"] = indices["uncertainty"].map(
            {name: u.label or name for name, u in study.uncertainties.items()}
        )
        indices["conf_low"] = indices["value"] - indices["conf"]
        indices["conf_high"] = indices["value"] + indices["conf"]
        indices["y_mean"] = float(np.mean(y))
        indices["y_sd"] = float(np.std(y, ddof=1)) if len(y) > 1 else float("nan")
        tables.append(indices)
    table = pd.concat(tables, ignore_index=True)
    table = table.sort_values(["outcome", "index", "rank"], kind="stable").reset_index(drop=True)
    figure = indices_figure_png(
        table,
        plan.out / "indices.png",
        method=design.method,
        title=f"{study.name}: {design.method} sensitivity ({len(frame)} futures, "
        f"{len(plan.sweep.runs)} runs, policy {plan.policies[0]})",
        labels={name: o.label or name for name, o in study.outcomes.items()},
    )
    summary: dict = {"method": design.method, "ranked_by": RANKED_BY[design.method], "top": {}}
    lines = []
    key = RANKED_BY[design.method]
    for outcome_name in study.outcomes:
        ranked = table[(table["outcome"] == outcome_name) & (table["index"] == key)]
        top = ranked.sort_values("rank").head(3)
        summary["top"][outcome_name] = [
            {"uncertainty": row.uncertainty, key: row.value, "conf": row.conf}
            for row in top.itertuples()
        ]
        drivers = ", ".join(
            f"{row.uncertainty} {row.value:.3g} ± {row.conf:.2g}" for row in top.itertuples()
        )
        lines.append(f"{outcome_name}: top drivers by {key}: {drivers}")
    return AnalysisResult({"indices": table}, [figure], summary, lines)

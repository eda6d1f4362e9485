"""Robust policy comparison: every policy on the same futures and seeds, scored over them all.

Core objects: :func:`robustness_table` (per outcome and policy: the mean, the 10th and
90th percentiles, the share of futures meeting the outcome's threshold and the maximum and
mean regret against the best policy of each future), :func:`most_robust` (the policy a
criterion prefers) and :func:`analyse_robustness` (both on a study's ensemble, with the
figure ``robustness.png``).

Regret in a future is how far a policy falls short of the best policy in that future
(Savage's regret, as in the EMA Workbench): zero for the policy that does best there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ecosystem.experiments.figures.uncertainty import robustness_png
from ecosystem.experiments.uncertainty.ensemble import AnalysisResult, StudyPlan, futures
from ecosystem.experiments.uncertainty.outcomes import window_description
from ecosystem.experiments.uncertainty.study import Outcome

__all__ = ["CRITERIA", "analyse_robustness", "most_robust", "regrets", "robustness_table"]

CRITERIA = {
    "regret": "minimax regret: the smallest maximum regret",
    "satisficing": "the largest share of futures meeting the threshold",
    "mean": "the best mean over the futures",
    "p10": "the best bad tail: 10th percentile when maximizing, 90th when minimizing",
}
"""How the most robust policy is chosen."""


def regrets(values: pd.DataFrame, direction: str) -> pd.DataFrame:
    """Regret of every policy (columns) in every future (rows) of one outcome."""
    if direction == "maximize":
        return values.max(axis=1).to_numpy()[:, None] - values
    return values - values.min(axis=1).to_numpy()[:, None]


def robustness_table(values: pd.DataFrame, outcome: Outcome) -> pd.DataFrame:
    """Per policy (a column of ``values``, one row per future) the robustness measures."""
    regret = regrets(values, outcome.direction)
    maximize = outcome.direction == "maximize"
    if outcome.threshold is None:
        satisficing = pd.Series(np.nan, index=values.columns)
    elif maximize:
        satisficing = (values >= outcome.threshold).mean()
    else:
        satisficing = (values <= outcome.threshold).mean()
    return pd.DataFrame(
        {
            "policy": list(values.columns),
            "mean": values.mean().to_numpy(),
            "p10": values.quantile(0.1).to_numpy(),
            "p90": values.quantile(0.9).to_numpy(),
            "satisficing": satisficing.to_numpy(),
            "max_regret": regret.max().to_numpy(),
            "mean_regret": regret.mean().to_numpy(),
            "futures": len(values),
        }
    )


def most_robust(table: pd.DataFrame, criterion: str, direction: str) -> str:
    """The policy of ``table`` that ``criterion`` (:data:`CRITERIA`) prefers; ties go to the
    policy listed first."""
    if criterion == "regret":
        column, best_is_high = "max_regret", False
    elif criterion == "satisficing":
        if table["satisficing"].isna().all():
            raise ValueError("--criterion satisficing: the outcome has no threshold")
        column, best_is_high = "satisficing", True
    elif criterion == "mean":
        column, best_is_high = "mean", direction == "maximize"
    else:
        column = "p10" if direction == "maximize" else "p90"
        best_is_high = direction == "maximize"
    scores = table[column].to_numpy(dtype=float)
    index = int(np.nanargmax(scores) if best_is_high else np.nanargmin(scores))
    return str(table["policy"].iloc[index])


def analyse_robustness(plan: StudyPlan, cases: pd.DataFrame) -> AnalysisResult:
    """The robustness table of every outcome and the most robust policy (``options``:
    criterion, outcome)."""
    study = plan.study
    criterion = plan.options.get("criterion") or study.robustness.criterion
    primary = plan.options.get("outcome") or next(iter(study.outcomes))
    frame = futures(cases, study)
    tables, regret_rows = [], []
    for name, outcome in study.outcomes.items():
        values = frame.pivot(index="future", columns="policy", values=name)[plan.policies]
        table = robustness_table(values, outcome)
        table["rank"] = _ranks(table, criterion, outcome.direction)
        table.insert(0, "outcome", name)
        table.insert(1, "statistic", window_description(outcome))
        table.insert(2, "direction", outcome.direction)
        table["threshold"] = outcome.threshold
        table["most_robust"] = table["policy"] == most_robust(table, criterion, outcome.direction)
        tables.append(table)
        regret = regrets(values, outcome.direction)
        long = values.reset_index().melt(id_vars="future", var_name="policy", value_name="value")
        long["regret"] = regret.reset_index().melt(id_vars="future", value_name="r")["r"]
        regret_rows.append(long.assign(outcome=name))
    table = pd.concat(tables, ignore_index=True)
    per_future = pd.concat(regret_rows, ignore_index=True)[
        ["outcome", "future", "policy", "value", "regret"]
    ]
    figure = robustness_png(
        per_future,
        table,
        plan.out / "robustness.png",
        labels={name: o.label or name for name, o in study.outcomes.items()},
        title=f"{study.name}: {len(plan.policies)} policies on the same "
        f"{frame['future'].nunique()} futures",
    )
    winners = {
        name: str(table[(table["outcome"] == name) & table["most_robust"]]["policy"].iloc[0])
        for name in study.outcomes
    }
    summary = {
        "criterion": criterion,
        "criterion_text": CRITERIA[criterion],
        "outcome": primary,
        "most_robust": winners[primary],
        "most_robust_by_outcome": winners,
    }
    lines = [
        f"{name}: most robust policy {policy} by {CRITERIA[criterion]}"
        for name, policy in winners.items()
    ]
    lines.append(
        f"most robust policy: {winners[primary]} (outcome {primary}, {CRITERIA[criterion]})"
    )
    return AnalysisResult({"robustness": table, "regret": per_future}, [figure], summary, lines)


def _ranks(table: pd.DataFrame, criterion: str, direction: str) -> list[int]:
    maximize = direction == "maximize"
    if criterion == "regret":
        scores, ascending = table["max_regret"], True
    elif criterion == "satisficing":
        scores, ascending = table["satisficing"].fillna(-1.0), False
    elif criterion == "mean":
        scores, ascending = table["mean"], not maximize
    else:
        scores, ascending = (table["p10"], False) if maximize else (table["p90"], True)
    return scores.rank(method="min", ascending=ascending).astype(int).tolist()

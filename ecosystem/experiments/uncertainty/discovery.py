"""Scenario discovery: PRIM boxes of the futures in which an outcome falls below (or above) X.

Core objects: :func:`prim_boxes` (the EMA Workbench's PRIM on any table of uncertainty
values and a boolean case of interest: the chosen boxes with their limits, coverage, density
and case counts, and every peeling step) and :func:`analyse_discovery` (PRIM on a study's
Latin hypercube ensemble, with the figures ``peeling.png`` and ``box-limits.png``).

From each peeling trajectory the box kept is the one of highest coverage among those whose
density reaches the threshold (``--density``, default the study's); the next box is sought
in the cases outside it, until ``--boxes`` boxes or no box reaches the threshold.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from ecosystem.experiments.figures.uncertainty import box_limits_png, peeling_png
from ecosystem.experiments.uncertainty.ensemble import AnalysisResult, StudyPlan, futures
from ecosystem.experiments.uncertainty.outcomes import window_description

__all__ = ["analyse_discovery", "prim_boxes"]

KEEP_EVERY_BOX = 1e-9
PEELING_COLUMNS = ["box", "step", "coverage", "density", "mass", "mean", "res_dim", "n", "k"]


def prim_boxes(
    x: pd.DataFrame,
    interesting: np.ndarray,
    *,
    density: float = 0.8,
    boxes: int = 2,
    mass_min: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """PRIM boxes of the cases ``interesting`` (bool per row of ``x``).

    Returns the boxes (one row per box and uncertainty: ``box, uncertainty, lower, upper,
    low, high, restricted, coverage, density, mass, cases, cases_of_interest``) and the peeling
    trajectories (``box, step, coverage, density, mass, mean, res_dim, n, k, chosen``).
    """
    prim_module = _prim()
    y = np.asarray(interesting, dtype=bool)
    if not y.any():
        raise ValueError(
            "no future is of interest (the outcome never crosses the threshold); choose "
            "another --below/--above value"
        )
    x = x.reset_index(drop=True).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # the Workbench counts y >= threshold as of interest (y = 1 for any threshold in
        # (0, 1]) and replaces a box whose last peel has a mean below it by the whole space:
        # a tiny threshold keeps every trajectory, and the box is chosen from it here
        prim = prim_module.Prim(x, y.astype(float), threshold=KEEP_EVERY_BOX, mass_min=mass_min)
    limits, peeling = [], []
    initial = x.agg(["min", "max"])
    for number in range(1, boxes + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            box = prim.find_box()
        if box is None:
            break
        trajectory = box.peeling_trajectory.reset_index(drop=True)
        dense = trajectory[trajectory["density"] >= density]
        if dense.empty or len(trajectory) == 1:
            break
        chosen = int(dense["coverage"].idxmax())
        box.select(chosen)
        peeling.append(
            trajectory.assign(box=number, step=trajectory.index, chosen=trajectory.index == chosen)
        )
        point = trajectory.iloc[chosen]
        lims = box.box_lims[chosen]
        for name in x.columns:
            lower, upper = float(lims[name].iloc[0]), float(lims[name].iloc[1])
            low, high = float(initial[name].iloc[0]), float(initial[name].iloc[1])
            limits.append(
                {
                    "box": number,
                    "uncertainty": name,
                    "lower": lower,
                    "upper": upper,
                    "low": low,
                    "high": high,
                    "restricted": bool(lower > low or upper < high),
                    "coverage": float(point["coverage"]),
                    "density": float(point["density"]),
                    "mass": float(point["mass"]),
                    "cases": int(point["n"]),
                    "cases_of_interest": int(point["k"]),
                }
            )
    columns = [
        "box",
        "uncertainty",
        "lower",
        "upper",
        "low",
        "high",
        "restricted",
        "coverage",
        "density",
        "mass",
        "cases",
        "cases_of_interest",
    ]
    peel = (
        pd.concat(peeling, ignore_index=True)[[*PEELING_COLUMNS, "chosen"]]
        if peeling
        else pd.DataFrame(columns=[*PEELING_COLUMNS, "chosen"])
    )
    table = pd.DataFrame(limits, columns=columns)
    if table.empty:
        types = {"box": int, "uncertainty": str, "restricted": bool, "cases": int}
        table = table.astype({name: types.get(name, float) for name in columns})
    return table, peel


def analyse_discovery(plan: StudyPlan, cases: pd.DataFrame) -> AnalysisResult:
    """PRIM on the study's ensemble for ``options``: outcome, below or above, density, boxes."""
    study, options = plan.study, plan.options
    name = options["outcome"]
    outcome = study.outcomes[name]
    frame = futures(cases, study)
    values = frame[name].to_numpy(dtype=float)
    threshold = float(options["threshold"])
    below = options["side"] == "below"
    interesting = values < threshold if below else values > threshold
    side = "<" if below else ">"
    x = frame[list(study.uncertainties)]
    boxes, peeling = prim_boxes(
        x, interesting, density=float(options["density"]), boxes=int(options["boxes"])
    )
    labels = {key: u.label or key for key, u in study.uncertainties.items()}
    boxes["label"] = boxes["uncertainty"].map(labels)
    condition = f"{name} {side} {threshold:g}"
    boxes.insert(0, "condition", condition)
    peeling.insert(0, "condition", condition)
    what = f"{outcome.label or name} ({window_description(outcome)}) {side} {threshold:g}"
    figures = [
        peeling_png(peeling, plan.out / "peeling.png", title=f"PRIM peeling trajectory: {what}"),
        box_limits_png(boxes, plan.out / "box-limits.png", title=f"PRIM box limits: {what}"),
    ]
    count = int(interesting.sum())
    summary: dict = {
        "condition": condition,
        "futures": len(frame),
        "futures_of_interest": count,
        "boxes": [],
    }
    lines = [f"{count} of {len(frame)} futures have {condition}"]
    if boxes.empty:
        lines.append(
            f"no box reaches density {options['density']}: the futures of interest are not "
            "concentrated in a box of the uncertainties"
        )
    for number, rows in boxes.groupby("box", sort=True):
        first = rows.iloc[0]
        limits = rows[rows["restricted"]]
        ranges = {
            row.uncertainty: [float(row.lower), float(row.upper)] for row in limits.itertuples()
        }
        summary["boxes"].append(
            {
                "box": int(number),
                "coverage": float(first.coverage),
                "density": float(first.density),
                "cases": int(first.cases),
                "cases_of_interest": int(first.cases_of_interest),
                "limits": ranges,
            }
        )
        text = "; ".join(f"{key} {lo:.3g}..{hi:.3g}" for key, (lo, hi) in ranges.items())
        lines.append(
            f"box {number}: coverage {first.coverage:.2f}, density {first.density:.2f}, "
            f"{first.cases} cases ({first.cases_of_interest} of interest): {text or 'no limits'}"
        )
    return AnalysisResult({"boxes": boxes, "peeling": peeling}, figures, summary, lines)


def _prim():
    """The EMA Workbench's PRIM module, imported quietly (it warns about optional parts)."""
    logging.getLogger("EMA").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import prim

    return prim

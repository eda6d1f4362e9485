"""The figures of studies under uncertainty (matplotlib, Agg backend, written as PNG).

Core objects: :func:`indices_figure_png` (sensitivity indices as ranked bars with their
confidence intervals, a panel per outcome), :func:`peeling_png` (PRIM's peeling trajectory:
coverage against density, the kept box marked), :func:`box_limits_png` (each box's limits
on every restricted uncertainty, within its whole range) and :func:`robustness_png` (each
policy's outcome across the futures and its regret).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ecosystem.experiments.figures.series import PALETTE
from ecosystem.runs.results import atomic_write_bytes

__all__ = ["box_limits_png", "indices_figure_png", "peeling_png", "robustness_png"]

DPI = 110


def indices_figure_png(
    table: pd.DataFrame,
    path: Path,
    *,
    method: str,
    title: str,
    labels: Mapping[str, str] | None = None,
) -> Path:
    """Ranked horizontal bars of each outcome's indices (Sobol S1 and ST side by side; Morris
    μ* with σ beside it), error bars the bootstrap intervals."""
    labels = labels or {}
    outcomes = list(pd.unique(table["outcome"]))
    shown = ("S1", "ST") if method == "sobol" else ("mu_star", "sigma")
    names = {"S1": "S1 (first order)", "ST": "ST (total order)", "mu_star": "μ*", "sigma": "σ"}
    count = len(pd.unique(table["uncertainty"]))
    figure = Figure(
        figsize=(6.2 * len(outcomes), 1.2 + 0.42 * count * len(shown)), layout="constrained"
    )
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(outcomes), squeeze=False).ravel()
    for ax, outcome in zip(axes, outcomes, strict=True):
        rows = table[table["outcome"] == outcome]
        order = (
            rows[rows["rank"].notna()]
            .drop_duplicates("uncertainty")
            .sort_values("rank", ascending=False)["uncertainty"]
            .tolist()
        )
        height = 0.8 / len(shown)
        for slot, index in enumerate(shown):
            values = rows[rows["index"] == index].set_index("uncertainty").reindex(order)
            positions = np.arange(len(order)) + (slot - (len(shown) - 1) / 2) * height
            conf = values["conf"].to_numpy(dtype=float)
            ax.barh(
                positions,
                values["value"].to_numpy(dtype=float),
                height=height * 0.92,
                xerr=np.where(np.isfinite(conf), conf, 0.0),
                color=PALETTE[slot % len(PALETTE)],
                ecolor="#333333",
                capsize=2.5,
                label=names[index],
            )
        ax.set_yticks(np.arange(len(order)), [_label(rows, name) for name in order], fontsize=8)
        ax.axvline(0.0, color="#888888", linewidth=0.8)
        ax.set_title(labels.get(outcome, outcome), fontsize=10)
        ax.set_xlabel(
            "index (95% bootstrap interval)"
            if method == "sobol"
            else "effect over the range (95% interval on μ*)"
        )
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    figure.suptitle(textwrap.fill(title, 110), fontsize=11)
    return _save(figure, path)


def peeling_png(peeling: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Coverage against density along each box's peeling trajectory, coloured by the number of
    restricted uncertainties; the kept box is ringed."""
    figure = Figure(figsize=(6.4, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    if peeling.empty:
        ax.text(0.5, 0.5, "no box reached the density threshold", ha="center", va="center")
    for number, rows in peeling.groupby("box", sort=True):
        points = ax.scatter(
            rows["coverage"],
            rows["density"],
            c=rows["res_dim"],
            cmap="viridis",
            s=22,
            marker="o" if number == 1 else "s",
            label=f"box {number}",
        )
        kept = rows[rows["chosen"].astype(bool)]
        ax.scatter(
            kept["coverage"], kept["density"], s=140, facecolors="none", edgecolors="#d62728"
        )
        for row in kept.itertuples():
            ax.annotate(
                f"box {number}: {row.res_dim} restricted, {row.n} cases",
                (row.coverage, row.density),
                textcoords="offset points",
                xytext=(-10, -14),
                ha="right",
                fontsize=8,
            )
        figure.colorbar(points, ax=ax, label="restricted uncertainties")
    ax.set_xlabel("coverage (share of the futures of interest inside the box)")
    ax.set_ylabel("density (share of the box's futures that are of interest)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    if not peeling.empty:
        ax.legend(fontsize=8, loc="lower left")
    ax.set_title(textwrap.fill(title, 70), fontsize=10)
    return _save(figure, path)


def box_limits_png(boxes: pd.DataFrame, path: Path, *, title: str) -> Path:
    """Each box's range of every uncertainty it restricts, as a share of the whole range."""
    restricted = boxes[boxes["restricted"].astype(bool)]
    names = list(pd.unique(restricted["uncertainty"]))
    figure = Figure(figsize=(7.0, 1.4 + 0.55 * max(len(names), 1)), layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    if restricted.empty:
        ax.text(0.5, 0.5, "no box restricts an uncertainty", ha="center", va="center")
    numbers = list(pd.unique(restricted["box"]))
    height = 0.7 / max(len(numbers), 1)
    for slot, number in enumerate(numbers):
        rows = restricted[restricted["box"] == number].set_index("uncertainty")
        for position, name in enumerate(names):
            if name not in rows.index:
                continue
            row = rows.loc[name]
            span = row["high"] - row["low"]
            lower = (row["lower"] - row["low"]) / span
            upper = (row["upper"] - row["low"]) / span
            y = position + (slot - (len(numbers) - 1) / 2) * height
            ax.barh(
                y,
                upper - lower,
                left=lower,
                height=height * 0.9,
                color=PALETTE[slot % len(PALETTE)],
                label=f"box {number}" if position == names.index(rows.index[0]) else None,
            )
            ax.text(1.01, y, f"{row['lower']:.3g} – {row['upper']:.3g}", va="center", fontsize=8)
    ax.set_yticks(np.arange(len(names)), [_label(boxes, name) for name in names], fontsize=8)
    ax.set_xlim(0, 1.25)
    ax.set_xticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("share of the uncertainty's range (0 = low, 1 = high)")
    ax.grid(axis="x", alpha=0.3)
    if numbers:
        ax.legend(fontsize=8, loc="lower right")
    ax.set_title(textwrap.fill(title, 70), fontsize=10)
    return _save(figure, path)


def robustness_png(
    per_future: pd.DataFrame,
    table: pd.DataFrame,
    path: Path,
    *,
    labels: Mapping[str, str],
    title: str,
) -> Path:
    """Per outcome: each policy's value in every future (points, mean as a bar) and its
    maximum regret."""
    outcomes = list(pd.unique(table["outcome"]))
    figure = Figure(figsize=(5.6 * len(outcomes), 7.0), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, len(outcomes), squeeze=False)
    for column, outcome in enumerate(outcomes):
        rows = table[table["outcome"] == outcome]
        policies = rows["policy"].tolist()
        values = per_future[per_future["outcome"] == outcome]
        top, bottom = axes[0, column], axes[1, column]
        for slot, policy in enumerate(policies):
            points = values[values["policy"] == policy]["value"].to_numpy(dtype=float)
            jitter = np.linspace(-0.18, 0.18, len(points)) if len(points) > 1 else np.zeros(1)
            colour = PALETTE[slot % len(PALETTE)]
            top.scatter(slot + jitter, points, s=14, color=colour, alpha=0.75)
            top.hlines(float(np.mean(points)), slot - 0.3, slot + 0.3, color=colour, linewidth=2)
        top.set_xticks(range(len(policies)), policies, rotation=20, fontsize=8)
        top.set_title(f"{labels.get(outcome, outcome)}: every future (line: mean)", fontsize=10)
        threshold = rows["threshold"].iloc[0]
        if threshold is not None and np.isfinite(threshold):
            top.axhline(threshold, color="#888888", linestyle="--", linewidth=1, label="threshold")
            top.legend(fontsize=8)
        top.grid(axis="y", alpha=0.3)
        colours = ["#d62728" if best else "#7f7f7f" for best in rows["most_robust"]]
        bottom.bar(range(len(policies)), rows["max_regret"], color=colours)
        bottom.set_xticks(range(len(policies)), policies, rotation=20, fontsize=8)
        bottom.set_title("maximum regret across the futures (red: most robust)", fontsize=10)
        bottom.grid(axis="y", alpha=0.3)
    figure.suptitle(textwrap.fill(title, 110), fontsize=11)
    return _save(figure, path)


def _label(rows: pd.DataFrame, name: str) -> str:
    if "label" not in rows.columns:
        return name
    found = rows[rows["uncertainty"] == name]["label"]
    text = str(found.iloc[0]) if len(found) else name
    return name if text in ("", name) else f"{text}\n({name})"


def _save(figure: Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    atomic_write_bytes(Path(path), buffer.getvalue())
    return Path(path)

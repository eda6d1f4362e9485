"""Comparisons that read themselves: runs named after what differs, and their effect on every
key outcome against a chosen base, with intervals, Welch p and better or worse.

Core objects: :class:`Arm` (the runs of one setting, one per seed), :func:`group_arms`
(run manifests into arms), :func:`arm_names` (each arm named after the settings that set it
apart, e.g. ``detection on``), :func:`differing_settings` (the table of those settings) and
:func:`effect_table` (per key outcome: the base and each arm's end-of-run mean with its 95%
interval, the change, the change in %, Welch's p and whether it is better or worse for the
web, by the catalogue's direction). Used by the explorer app; UI-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ecosystem.experiments.compare import (
    DEFAULT_WINDOW,
    SIGNIFICANCE,
    compare_metrics,
    end_of_run,
    format_number,
    key_metrics,
)
from ecosystem.measure import catalogue
from ecosystem.scenario import flatten_settings

__all__ = [
    "Arm",
    "arm_names",
    "differing_settings",
    "effect_table",
    "group_arms",
    "setting_label",
    "verdict",
]

IGNORED = {"seed", "name", "description", "group"}
"""Resolved-scenario keys that never name an arm (the seed is what replicates vary)."""
MAX_NAME_PARTS = 3


@dataclass
class Arm:
    """The runs of one setting (the resolved scenario but its seed), one per seed.

    ``frames`` are the runs' tidy series; ``settings`` the flattened resolved scenario
    without its seed; ``name`` is set by :func:`arm_names`.
    """

    key: str
    settings: dict[str, Any]
    scenario: str
    directories: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    frames: list[pd.DataFrame] = field(default_factory=list)
    name: str = ""

    @property
    def frame(self) -> pd.DataFrame:
        """Every seed's series in one frame, with its ``seed`` and this arm's ``scenario``
        column (the arm's name)."""
        pieces = [
            frame.assign(seed=seed, scenario=self.name, label=self.name)
            for frame, seed in zip(self.frames, self.seeds, strict=True)
        ]
        return pd.concat(pieces, ignore_index=True)


def group_arms(runs: Sequence[tuple[str, Mapping, pd.DataFrame]]) -> list[Arm]:
    """``(directory, manifest, frame)`` of runs, grouped into arms by their resolved scenario
    without the seed, in the order the arms first appear (seeds sorted within an arm)."""
    arms: dict[str, Arm] = {}
    for directory, manifest, frame in runs:
        resolved = dict(manifest.get("resolved_scenario") or {})
        settings = {
            k: v for k, v in flatten_settings(resolved).items() if k.split(".")[0] not in IGNORED
        }
        key = repr(sorted(settings.items(), key=lambda item: item[0]))
        arm = arms.setdefault(
            key, Arm(key, settings, str(manifest.get("scenario", resolved.get("name", "?"))))
        )
        seed = int(manifest.get("seed", resolved.get("seed", 0)))
        if seed in arm.seeds:
            continue
        arm.directories.append(str(directory))
        arm.seeds.append(seed)
        arm.frames.append(frame)
    for arm in arms.values():
        order = sorted(range(len(arm.seeds)), key=arm.seeds.__getitem__)
        arm.seeds = [arm.seeds[i] for i in order]
        arm.frames = [arm.frames[i] for i in order]
        arm.directories = [arm.directories[i] for i in order]
    found = list(arms.values())
    for arm, name in zip(found, arm_names(found), strict=True):
        arm.name = name
    return found


def differing_settings(arms: Sequence[Arm]) -> pd.DataFrame:
    """The settings whose values differ between arms: one row per setting (its readable label
    and path), one column per arm (its name), in schema order."""
    keys = _differing_keys(arms)
    rows = [
        {
            "setting": setting_label(key),
            "field": key,
            **{arm.name or arm.scenario: _value_text(arm.settings.get(key)) for arm in arms},
        }
        for key in keys
    ]
    columns = ["setting", "field", *(arm.name or arm.scenario for arm in arms)]
    return pd.DataFrame(rows, columns=columns)


def arm_names(arms: Sequence[Arm]) -> list[str]:
    """A short, unique name per arm from what sets it apart: ``detection on``, ``cap: ai share
    max 0.25``; its scenario's name when nothing does; numbered when two would share a name."""
    keys = _differing_keys(arms)
    names = []
    for arm in arms:
        parts = [_part(key, arm.settings.get(key)) for key in keys[:MAX_NAME_PARTS]]
        if len(keys) > MAX_NAME_PARTS:
            parts.append(f"+{len(keys) - MAX_NAME_PARTS} more")
        names.append(", ".join(parts) if parts else arm.scenario)
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def setting_label(path: str) -> str:
    """A readable name for a scenario field: ``policy.detection.enabled`` -> ``detection``,
    ``policy.cap.ai_share_max`` -> ``cap: ai share max``, ``companies.alpha.bias`` ->
    ``alpha: bias``."""
    parts = path.split(".")
    if parts[0] in {"policy", "companies"} and len(parts) > 2:
        owner, rest = parts[1], parts[2:]
        if rest == ["enabled"]:
            return owner.replace("_", " ")
        return f"{owner.replace('_', ' ')}: {' '.join(rest).replace('_', ' ')}"
    if parts[0] in {"creators", "attention", "web", "lab", "archive", "culture"}:
        return f"{parts[0]}: {' '.join(parts[1:]).replace('_', ' ')}"
    return path.replace("_", " ")


def verdict(difference: float, p_value: float, direction: str, seeds: int) -> str:
    """``better``, ``worse`` (significant at 5% where there are seeds to test), ``no clear
    change`` or, with one seed per arm, ``better?``/``worse?`` (no test possible)."""
    if not direction or difference is None or math.isnan(difference):
        return ""
    if difference == 0:
        return "no change"
    good = (difference > 0) == (direction == "higher")
    word = "better" if good else "worse"
    if seeds < 2 or math.isnan(p_value):
        return f"{word}?"
    return word if p_value < SIGNIFICANCE else "no clear change"


def effect_table(
    arms: Sequence[Arm], base: str, *, window: int = DEFAULT_WINDOW, every: bool = False
) -> pd.DataFrame:
    """Per key outcome (then every other series, with ``every``; ``key`` says which) and arm
    other than ``base``: the base's and the arm's end-of-run mean with 95% t-interval across
    seeds, the change ``Δ``, the change in % of the base, Welch's ``p`` and the verdict for the
    web; with a single arm, its own intervals."""
    by_name = {arm.name: arm for arm in arms}
    if base not in by_name:
        raise ValueError(f"base run {base!r} is not one of {', '.join(by_name)}")
    order = [base, *(name for name in by_name if name != base)]
    frame = pd.concat([by_name[name].frame for name in order], ignore_index=True)
    end = end_of_run(frame, window)
    keys = key_metrics(frame)
    metrics = keys
    if every:
        metrics = list(dict.fromkeys([*keys, *zip(end["scope"], end["metric"], strict=True)]))
    stats = compare_metrics(end, order, metrics)
    rows = []
    base_rows = stats[stats["scenario"] == base].set_index(["scope", "metric"])
    others = [name for name in order if name != base] or [base]
    for name in others:
        mine = stats[stats["scenario"] == name]
        for row in mine.itertuples(index=False):
            reference = base_rows.loc[(row.scope, row.metric)]
            direction = catalogue.better(row.metric)
            seeds = int(min(row.n, reference["n"]))
            difference = float(row.difference)
            percent = (
                100.0 * difference / abs(reference["mean"])
                if reference["mean"] and not math.isnan(difference)
                else math.nan
            )
            rows.append(
                {
                    "outcome": catalogue.series_title(row.scope, row.metric),
                    "scope": row.scope,
                    "metric": row.metric,
                    "run": name,
                    "base": _interval_text(reference["mean"], reference["low"], reference["high"]),
                    "value": _interval_text(row.mean, row.low, row.high),
                    "Δ": difference,
                    "Δ %": percent,
                    "p": float(row.p_value),
                    "seeds": seeds,
                    "key": (row.scope, row.metric) in keys,
                    "better": direction,
                    "verdict": verdict(difference, float(row.p_value), direction, seeds),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------- helpers


def _differing_keys(arms: Sequence[Arm]) -> list[str]:
    if len(arms) < 2:
        return []
    keys = list(dict.fromkeys(key for arm in arms for key in arm.settings))
    return [key for key in keys if len({_value_text(arm.settings.get(key)) for arm in arms}) > 1]


def _part(key: str, value: Any) -> str:
    label = setting_label(key)
    if isinstance(value, bool):
        return f"{label} {'on' if value else 'off'}"
    return f"{label} {_value_text(value)}"


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_value_text(v)}" for k, v in value.items())
    return "–" if value is None else str(value)


def _interval_text(mean: float, low: float, high: float) -> str:
    if mean is None or math.isnan(mean):
        return "–"
    if math.isclose(low, high):
        return format_number(mean)
    return f"{format_number(mean)} [{format_number(low)}, {format_number(high)}]"

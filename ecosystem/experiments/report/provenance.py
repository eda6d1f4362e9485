"""The provenance section of a report: what produced the runs, read from their manifests.

Core object: :func:`provenance_blocks` (the commands, code versions, run times, package
versions and resolved scenarios, with the fields in which the runs differ).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Set

import pandas as pd

from ecosystem.experiments.report.html import esc, facts_html, json_text, note_html, table_html
from ecosystem.scenario import flatten_settings

__all__ = ["provenance_blocks"]


def provenance_blocks(
    manifests: Mapping[str, Mapping],
    *,
    compare_to_first: bool = False,
    varying: Set[str] = frozenset(),
) -> list[str]:
    """What produced the runs (manifests by run label): commands, code versions, package
    versions, resolved scenarios.

    ``compare_to_first``: one table per other scenario of the fields that differ from the
    first's; else one resolved scenario, naming the fields beyond the seed and ``varying``
    in which the runs differ.
    """
    blocks = [
        facts_html(
            [
                ("command", _distinct(manifests, "command")),
                ("git commit", _distinct(manifests, "git_commit")),
                ("started", _span(manifests, "started_at")),
                ("finished", _span(manifests, "finished_at")),
            ],
            code=True,
        ),
        "<h3>Versions</h3>",
        table_html(_versions_table(manifests), index=True, text=True),
    ]
    trees = {label: m.get("resolved_scenario") for label, m in manifests.items()}
    resolved = {label: tree for label, tree in trees.items() if tree}
    if not resolved:
        return blocks
    first_label, first = next(iter(resolved.items()))
    if compare_to_first:
        blocks.append(f"<h3>Resolved scenario of {esc(first_label)}</h3>")
        blocks.append(f"<pre>{esc(json.dumps(first, indent=2))}</pre>")
        flat_first = flatten_settings(first)
        seen_names = {first.get("name")}
        for label, tree in resolved.items():
            if tree.get("name") in seen_names:
                continue
            seen_names.add(tree.get("name"))
            flat = flatten_settings(tree)
            keys = [
                k
                for k in {**flat_first, **flat}
                if k != "seed" and flat.get(k) != flat_first.get(k)
            ]
            rows = [
                {
                    "field": key,
                    first_label: json_text(flat_first.get(key)),
                    label: json_text(flat.get(key)),
                }
                for key in keys
            ]
            blocks.append(f"<h3>Resolved scenario of {esc(label)}: fields that differ</h3>")
            blocks.append(table_html(pd.DataFrame(rows), text=True) if rows else note_html("none"))
    else:
        flat_first = flatten_settings(first)
        differing = sorted(
            {
                key
                for tree in resolved.values()
                for key, value in flatten_settings(tree).items()
                if flat_first.get(key) != value
            }
            - {"seed"}
            - varying
        )
        note = "the seed and the swept parameters vary between runs"
        if differing:
            note += f"; so do {', '.join(differing)}"
        blocks.append(f"<h3>Resolved scenario of {esc(first_label)}</h3>")
        blocks.append(note_html(f"Every run resolves to this scenario except that {note}."))
        blocks.append(f"<pre>{esc(json.dumps(first, indent=2))}</pre>")
    return blocks


def _versions_table(manifests: Mapping[str, Mapping]) -> pd.DataFrame:
    """Package versions: one column per distinct set, headed by the runs that used it."""
    sets: dict[str, list[str]] = {}
    versions: dict[str, dict] = {}
    for label, manifest in manifests.items():
        found = manifest.get("versions") or {}
        key = json.dumps(found, sort_keys=True)
        sets.setdefault(key, []).append(label)
        versions[key] = found
    columns = {}
    for key, labels in sets.items():
        header = "all runs" if len(sets) == 1 else ", ".join(labels)
        columns[header] = versions[key]
    table = pd.DataFrame(columns).fillna("–")
    table.index.name = "package"
    return table


def _distinct(manifests: Mapping[str, Mapping], key: str) -> str:
    values: dict[str, list[str]] = {}
    for label, manifest in manifests.items():
        values.setdefault(str(manifest.get(key) or "unknown"), []).append(label)
    if len(values) == 1:
        return next(iter(values))
    return "\n".join(f"{value}  ({', '.join(labels)})" for value, labels in values.items())


def _span(manifests: Mapping[str, Mapping], key: str) -> str:
    times = sorted(str(m[key]) for m in manifests.values() if m.get(key))
    if not times:
        return "unknown"
    return times[0] if times[0] == times[-1] else f"{times[0]} to {times[-1]}"

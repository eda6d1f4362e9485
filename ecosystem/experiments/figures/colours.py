"""Fixed line colours, so a scope or a company has the same colour in every figure.

Core objects: :data:`PALETTE` (the colours of other lines, in order), :data:`SCOPE_COLOURS`
(the legend names of scopes), :data:`COMPANY_COLOURS` (the known company names),
:func:`company_of` (the company a legend name speaks of), :func:`company_colour` and
:func:`line_colours` (the colour of every line of one figure). The explorer, the reports
and the exported PNGs all draw with these, so a line reads the same wherever it is shown.
"""

from __future__ import annotations

import zlib
from collections.abc import Hashable, Iterable

from matplotlib import colors as mcolors

from ecosystem.measure.catalogue import SCOPE_KINDS

__all__ = [
    "COMPANY_COLOURS",
    "PALETTE",
    "SCOPE_COLOURS",
    "company_colour",
    "company_of",
    "line_colours",
]

PALETTE: list[str] = [mcolors.to_hex(c) for c in mcolors.TABLEAU_COLORS.values()]
"""The ten Tableau colours: lines with no fixed colour take them in order."""

SCOPE_COLOURS: dict[str, str] = {
    "whole web": "#1f77b4",
    "new pages": "#ff7f0e",
    "creators": "#17becf",
    "readers": "#7f7f7f",
    "all models": "#393b79",
}
"""The scopes that are not a company's, by legend name (:func:`catalogue.scope_label`)."""

COMPANY_SLOTS: tuple[str, ...] = (
    "#d62728",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#637939",
    "#843c39",
    "#7b4173",
    "#5254a3",
    "#8c6d31",
    "#ad494a",
)
"""Company colours, none of them a colour of :data:`SCOPE_COLOURS`."""

GREEK: tuple[str, ...] = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
)
"""Company names with a fixed slot, in slot order (the packaged scenarios use the first four)."""

COMPANY_COLOURS: dict[str, str] = dict(zip(GREEK, COMPANY_SLOTS, strict=True))
"""The colour of each known company name."""

_COMPANY_PREFIXES = tuple(f"{kind.label} " for kind in SCOPE_KINDS if kind.named)
"""Legend names of a company's scopes start with one of these (``model ``, ``training set ``)."""


def company_of(name: str) -> str | None:
    """The company a legend name speaks of: a known company name (``alpha``), or the last word
    of a company scope's label (``model acme``, ``training set alpha``); None for others."""
    text = str(name).strip()
    last = text.rsplit(" ", 1)[-1] if text else ""
    if last.lower() in COMPANY_COLOURS:
        return last.lower()
    if text.startswith(_COMPANY_PREFIXES) and last:
        return last
    return None


def company_colour(company: str) -> str:
    """The colour of a company: its fixed slot if known, else a slot chosen by the name's
    CRC-32 (the same in every figure and every process)."""
    known = COMPANY_COLOURS.get(company.lower())
    if known is not None:
        return known
    return COMPANY_SLOTS[zlib.crc32(company.encode("utf-8")) % len(COMPANY_SLOTS)]


def line_colours(names: Iterable[Hashable]) -> dict:
    """The colour (hex) of each line of one figure, keyed by the names given.

    Scope legend names and companies get their fixed colour; any other name (a run or a
    scenario in a comparison) the next :data:`PALETTE` colour not yet used in this figure,
    in the order given (colours repeat only once the palette is used up).
    """
    names = list(dict.fromkeys(names))
    colours: dict = {}
    for name in names:
        text = str(name)
        company = company_of(text)
        if text in SCOPE_COLOURS:
            colours[name] = SCOPE_COLOURS[text]
        elif company is not None:
            colours[name] = company_colour(company)
    free = [colour for colour in PALETTE if colour not in set(colours.values())]
    others = [name for name in names if name not in colours]
    for number, name in enumerate(others):
        pool = free if number < len(free) else PALETTE
        index = number if number < len(free) else number - len(free)
        colours[name] = pool[index % len(pool)]
    return {name: colours[name] for name in names}

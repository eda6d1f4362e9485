"""The policy levers: one module per lever, each hooked into named points of the month.

Core objects: :class:`Levers` (the levers of a scenario), :func:`registry`
(lever name -> class), :func:`settings_model` (the scenario's ``policy``
section, one field per lever), the :class:`Lever` protocol and its hook
protocols, and the :class:`Stamps` / :class:`Screening` data types.

A lever module holds its settings section (``policy.<name>``) and its hooks,
and declares ``LEVER = TheClass``: the registry finds it, the ``policy``
section gains its settings, ``ecosystem schema`` and the explorer show them.

Hook order. :class:`Levers` calls the hooks at these points, in this order,
and at each point the levers that have the hook in lever order (``order``:
detection, watermark, provenance, opt-out, licensing, cap):

=============  ======================  =============================================
point          hook                    levers
=============  ======================  =============================================
publishing     ``limit_output``        cap (the companies' output cut to the cap)
publication    ``stamp``               detection (verdict), watermark, provenance
                                       (certificate): one ``rng.random((3, pages))``
                                       draw, row 0 watermark, 1 certificate, 2 verdict
                                       (each lever's ``stamp_row``)
crawl          ``crawlable``           opt-out (draws only when opted-out pages exist)
screening      ``screen``              detection, then watermark (a page both flagged
                                       and marked counts as detected)
assembly       ``assemble``            provenance (the human-data quota; draws only
                                       when it binds)
payment        ``fee``                 licensing (per crawled creator page, paid with
                                       the authors' next income)
=============  ======================  =============================================

Enabled levers. Every registered lever is enabled in every ecosystem
scenario: the ``policy`` section always holds a section per lever, and a
lever is pulled or left at rest by its settings (``cap.ai_share_max = 1``,
``watermark.share = 0``, ``licensing.fee_per_page = 0``,
``detection.enabled = false`` leave the world as it is), never by its
absence. So the random draws do not depend on which levers a scenario pulls:
stamping always draws one row per stamping lever, and the only draws that
depend on the state (crawl eligibility, the quota) depend on the web and the
training set, not on whether a lever is listed.

Data accumulation and the archive share are not levers of this package: they
are company settings (``companies.<name>.data`` and ``archive_share``)
applied in :meth:`ecosystem.world.agents.AICompany.retrain`.
"""

from ecosystem.world.levers.chain import Levers
from ecosystem.world.levers.protocol import (
    HOOKS,
    AssemblesTraining,
    FiltersCrawl,
    Lever,
    LimitsOutput,
    PaysAuthors,
    Screening,
    ScreensCrawl,
    Stamps,
    StampsPages,
)
from ecosystem.world.levers.registry import implemented_hooks, registry, settings_model

__all__ = [
    "HOOKS",
    "AssemblesTraining",
    "FiltersCrawl",
    "Lever",
    "Levers",
    "LimitsOutput",
    "PaysAuthors",
    "Screening",
    "ScreensCrawl",
    "Stamps",
    "StampsPages",
    "implemented_hooks",
    "registry",
    "settings_model",
]

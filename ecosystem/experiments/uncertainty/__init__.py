"""Studies under uncertainty: which assumptions drive the outcomes, under which futures the
web degrades, and which policy holds up across them all.

Core objects: :class:`Study` and :func:`load_study` (:mod:`.study`), :func:`sample_design`
(:mod:`.design`), :func:`plan_study`, :func:`run_study` and :func:`read_study`
(:mod:`.ensemble`), and the three analyses :func:`analyse_sensitivity` (SALib's Sobol and
Morris, :mod:`.sensitivity`), :func:`analyse_discovery` (the EMA Workbench's PRIM,
:mod:`.discovery`) and :func:`analyse_robustness` (regret and satisficing,
:mod:`.robustness`).
"""

from ecosystem.experiments.uncertainty.design import Design, sample_design
from ecosystem.experiments.uncertainty.discovery import analyse_discovery, prim_boxes
from ecosystem.experiments.uncertainty.ensemble import (
    ANALYSES,
    AnalysisResult,
    StudyPlan,
    plan_study,
    read_study,
    run_study,
)
from ecosystem.experiments.uncertainty.robustness import (
    analyse_robustness,
    most_robust,
    robustness_table,
)
from ecosystem.experiments.uncertainty.sensitivity import analyse_sensitivity
from ecosystem.experiments.uncertainty.study import Study, available_studies, load_study

ANALYSERS = {
    "sensitivity": analyse_sensitivity,
    "discovery": analyse_discovery,
    "robustness": analyse_robustness,
}
"""The analysis of each kind of study directory."""

__all__ = [
    "ANALYSERS",
    "ANALYSES",
    "AnalysisResult",
    "Design",
    "Study",
    "StudyPlan",
    "analyse_discovery",
    "analyse_robustness",
    "analyse_sensitivity",
    "available_studies",
    "load_study",
    "most_robust",
    "plan_study",
    "prim_boxes",
    "read_study",
    "robustness_table",
    "run_study",
    "sample_design",
]

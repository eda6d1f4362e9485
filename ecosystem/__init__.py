"""Simulator of the open web's content ecosystem under self-consuming generative models.

Public entry points: :class:`Culture` (the ground truth), :func:`load_scenario`
and :class:`Scenario` (run definitions), :func:`simulate` and
:func:`run_scenario` and :func:`resume_run` (running, and continuing a run cut short
from its checkpoint), :func:`read_timeseries`, :func:`read_excerpts` and
:func:`run_status` (results),
:func:`read_sweep` (every run of a sweep as one table) and
:func:`run_checks` (validation against published results).
"""

from ecosystem.experiments.sweep import read_sweep
from ecosystem.runs.results import read_excerpts, read_manifest, read_timeseries, run_status
from ecosystem.runs.runner import resume_run, run_scenario, simulate
from ecosystem.scenario import Scenario, ScenarioError, available_scenarios, load_scenario
from ecosystem.world.culture import Culture

__all__ = [
    "Culture",
    "Scenario",
    "ScenarioError",
    "available_scenarios",
    "load_scenario",
    "read_excerpts",
    "read_manifest",
    "read_sweep",
    "read_timeseries",
    "resume_run",
    "run_scenario",
    "run_status",
    "simulate",
]

__version__ = "0.2.0"

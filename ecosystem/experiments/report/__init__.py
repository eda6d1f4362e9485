"""Reports: one self-contained HTML page on a run, a comparison or a sweep directory.

Core objects: :func:`write_report`, :func:`report_kind`, :func:`report_paths` and
:class:`Report`, re-exported from the modules of the package.
"""

from ecosystem.experiments.report.writer import Report, report_kind, report_paths, write_report

__all__ = ["Report", "report_kind", "report_paths", "write_report"]

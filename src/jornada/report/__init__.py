"""The report: a journey map told with its data, in one self-contained HTML or PDF file.

:func:`build_report` gathers the living map, the stage funnel, paths, touches before
conversion, attribution, KPIs, retention, CLV, churn, stalled customers, departments and
ranked improvement opportunities into a :class:`Report`; :func:`write_report` writes it.

>>> from jornada.report import REPORT_SUFFIXES
>>> REPORT_SUFFIXES
('.html', '.pdf')
"""

from jornada.report._parts import Chart, Claim, Column, Opportunity, Section, Table
from jornada.report.build import (
    DEFAULT_PURCHASE,
    REPORT_SUFFIXES,
    Progress,
    Report,
    ReportError,
    build_report,
    write_report,
)

__all__ = [
    "DEFAULT_PURCHASE",
    "REPORT_SUFFIXES",
    "Chart",
    "Claim",
    "Column",
    "Opportunity",
    "Progress",
    "Report",
    "ReportError",
    "Section",
    "Table",
    "build_report",
    "write_report",
]

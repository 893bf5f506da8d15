"""The demo workspace and its report, built once for the report tests (read them, do not
change them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jornada.demo import create_demo_workspace
from jornada.model import Journey
from jornada.report import Report, build_report
from jornada.workspace import Workspace

DEMO_CUSTOMERS = 1500
MAP_ID = "b2c-ecommerce"


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = create_demo_workspace(
        tmp_path_factory.mktemp("report") / "ws", customers=DEMO_CUSTOMERS
    )
    yield workspace
    workspace.close()


@pytest.fixture(scope="session")
def journey(demo: Workspace) -> Journey:
    return demo.load_map(MAP_ID)


@pytest.fixture(scope="session")
def progress_calls() -> list[tuple[str, int, int]]:
    return []


@pytest.fixture(scope="session")
def report(demo: Workspace, journey: Journey, progress_calls: list[tuple[str, int, int]]) -> Report:
    def record(what: str, done: int, total: int) -> None:
        progress_calls.append((what, done, total))

    return build_report(demo, journey, language="en", progress=record)


@pytest.fixture(scope="session")
def report_html(report: Report) -> str:
    return report.to_html()

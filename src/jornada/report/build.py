"""The report: one self-contained file telling a journey with its data.

:func:`build_report` runs the analyses on a workspace's events (or any events table) and
a journey map, and gathers their results into a :class:`Report`: a typed list of
:class:`~jornada.report._parts.Section` (id, title, the analysis results behind it,
tables, charts, and claims linked to the numbers behind them) plus the ranked
improvement :class:`~jornada.report._parts.Opportunity` list. ``to_dict()`` is its JSON
twin; ``to_html()`` one HTML page that opens offline (plotly.js embedded once, charts
interactive); :func:`write_report` writes ``.html`` or ``.pdf`` (printed by Chromium).

>>> from jornada.model.templates import load_template
>>> report = Report("Shop", load_template("b2c-ecommerce"), "es", dt.datetime(2026, 3, 2),
...                 "first_order", "purchase", (Section("story", "Persona e historia"),))
>>> report.section_ids(), report.to_dict()["sections"][0]["title"]
(['story'], 'Persona e historia')
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from jornada.analytics.churn import ChurnDefinition
from jornada.analytics.stages import StageTables
from jornada.engine.concurrent import interrupt, own_connection
from jornada.engine.kept import StoreMode
from jornada.errors import JornadaError
from jornada.events.filters import EventScope, scope_events
from jornada.living.overlay import default_conversion, living_map
from jornada.model import Journey, Language
from jornada.report._parts import Opportunity, Section
from jornada.report._sections import (
    BUILDERS,
    STAGE_TABLE_READERS,
    Basics,
    Context,
    Texts,
    churn_of,
    opportunities,
)
from jornada.workspace import Workspace

__all__ = [
    "DEFAULT_PURCHASE",
    "REPORT_SUFFIXES",
    "Progress",
    "Report",
    "ReportError",
    "build_report",
    "write_report",
]

DEFAULT_PURCHASE: Final = "purchase"
REPORT_SUFFIXES: Final = (".html", ".pdf")
CONCURRENT_EVENTS: Final = 25_000_000
"""Up to this many events (in the workspace), churn (the longest section, reading no
other's results) runs beside the living map and the other sections, on a connection of
its own: both cores stay busy while one side is in Python. Beyond it they run one after
the other, as their memory would add up."""
BESIDE: Final = "churn"
"""The section that runs beside the others."""
SECTION_ORDER: Final = (
    "story",
    "opportunities",
    "living-map",
    "stages",
    "paths",
    "touches",
    "attribution",
    "kpis",
    "retention",
    "clv",
    "churn",
    "stalled",
    "departments",
)

Progress = Callable[[str, int, int], None]
"""Called as each step starts: ``(what, steps done, steps in all)``."""


class ReportError(JornadaError):
    """A report that cannot be built or written as asked."""


@dataclass(frozen=True)
class Report:
    """A journey told with its data: see the module."""

    title: str
    journey: Journey = field(repr=False)
    language: Language
    generated: dt.datetime
    conversion: str | None
    purchase: str
    sections: tuple[Section, ...]
    opportunities: tuple[Opportunity, ...] = ()
    scope: EventScope = field(default_factory=EventScope)
    """The events reported on (the default: all of them)."""

    def section_ids(self) -> list[str]:
        return [s.id for s in self.sections]

    def section(self, section_id: str) -> Section:
        """One section, by id."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(f"no section {section_id!r}; sections: {', '.join(self.section_ids())}")

    def to_dict(self, *, analyses: bool = True) -> dict[str, Any]:
        """The report as JSON-ready data (``analyses=False`` leaves out the analyses'
        own results and keeps what the page shows)."""
        return {
            "title": self.title,
            "journey_id": self.journey.id,
            "language": self.language,
            "generated": self.generated.isoformat(),
            "conversion": self.conversion,
            "purchase": self.purchase,
            "scope": self.scope.to_dict(),
            "currency": self.journey.currency,
            "sections": [s.to_dict(analyses=analyses) for s in self.sections],
            "opportunities": [o.to_dict() for o in self.opportunities],
        }

    def to_html(self) -> str:
        """One self-contained HTML page (plotly.js inside, nothing fetched)."""
        from jornada.report._html import render_report

        return render_report(self)


def build_report(
    source: Workspace | Any,
    journey: Journey,
    *,
    language: Language = "en",
    conversion: str | None = None,
    purchase: str = DEFAULT_PURCHASE,
    churn_definition: ChurnDefinition | None = None,
    progress: Progress | None = None,
    scope: EventScope | None = None,
    concurrent: bool | None = None,
) -> Report:
    """Run the analyses on ``source`` (a :class:`~jornada.workspace.Workspace` or an
    events table) for ``journey`` and gather them into a :class:`Report`.

    ``conversion`` (a step) defaults to the map's
    (:func:`~jornada.living.overlay.default_conversion`); ``purchase`` is the step whose
    values make the customer lifetime value. With a workspace, churn follows its
    ``[churn]`` settings unless ``churn_definition`` is given. Sections whose analysis
    cannot run on this data (too little history for churn, say) say why instead.
    ``scope`` (a period, channels, a segment) cuts the events every section measures; the
    report says so under its title and in its story. ``concurrent`` runs churn beside
    the other sections (on DuckDB; the same report): by default up to
    :data:`CONCURRENT_EVENTS` events.
    """
    if isinstance(source, Workspace):
        events = source.events()
        if churn_definition is None:
            settings = (source.settings.model_extra or {}).get("churn")
            if isinstance(settings, dict):
                churn_definition = ChurnDefinition.from_settings(settings)
    else:
        events = source
    scope = scope if scope is not None else EventScope()
    if not journey.stages:
        raise ReportError(f"map {journey.id!r} has no stages: a report needs a journey to tell")
    conversion = conversion if conversion is not None else default_conversion(journey)
    say = progress or (lambda _what, _done, _total: None)
    t = Texts(language)
    total = len(BUILDERS) + 2
    say(t("progress.living"), 0, total)
    scoped = scope_events(events, scope)
    # A workspace's events carry the store's facts (a scope recomputes them); a table
    # given by the caller may have been filtered since they were computed.
    facts = isinstance(source, Workspace)
    with contextlib.ExitStack() as stack:
        # Churn first, beside everything else (the living map included): leaving the block
        # waits for it, even on an error, then closes its connection.
        beside = _start_beside(
            stack, events, scoped, Basics(scoped, journey, language, churn_definition), concurrent
        )
        # One set of stage tables for the living map and the sections that need more of
        # the stages (reach per arrival channel, stalled customers), released at the end.
        try:
            # A report reads the tables a living map or `jornada bind` kept, but writes
            # none: writing costs more than the one run it would serve (decision 0007).
            store: StoreMode = "reuse" if facts and scope.everything else "no"
            tables = StageTables(scoped, journey, facts=facts, store=store)
            try:
                # The living map scopes the events itself (and records the scope); the
                # other sections get them scoped.
                living = living_map(
                    events,
                    journey,
                    conversion=conversion,
                    scope=scope,
                    stage_tables=tables,
                    facts=facts,
                    store=store,
                )
            except BaseException:
                tables.close()
                raise
        except JornadaError as error:
            raise ReportError(
                f"the living map of {journey.id!r} could not be measured: {error}"
            ) from error
        context = Context(
            events=scoped,
            journey=journey,
            language=language,
            conversion=conversion,
            purchase=purchase,
            living=living,
            churn_definition=churn_definition,
            _stage_tables=tables,
        )
        try:
            return _sections(context, scope, say, total, beside)
        finally:
            context.close()


def _start_beside(
    stack: contextlib.ExitStack,
    events: Any,
    scoped: Any,
    basics: Basics,
    concurrent: bool | None,
) -> Future[Section] | None:
    """The :data:`BESIDE` section started on a thread and a connection of its own (both
    closed by ``stack``), or None: it then runs in its turn (``concurrent`` False, another
    backend than DuckDB, or more than :data:`CONCURRENT_EVENTS` when it is None)."""
    if concurrent is False:
        return None
    apart = stack.enter_context(own_connection(scoped))
    if apart is None:
        return None
    if concurrent is None and int(events.count().execute()) > CONCURRENT_EVENTS:
        return None
    pool = stack.enter_context(ThreadPoolExecutor(1, "jornada-report"))
    future = pool.submit(churn_of, dataclasses.replace(basics, events=apart))

    def stop_on_error(kind: type[BaseException] | None, *_: object) -> None:
        # Leaving on an error (Ctrl-C included): its queries are interrupted one after
        # the other until it ends, instead of waiting for the whole analysis.
        while kind is not None and not future.done():
            interrupt(apart)
            wait([future], timeout=0.1)

    stack.push(stop_on_error)  # runs before the pool waits (last in, first out)
    return future


def _sections(
    context: Context,
    scope: EventScope,
    say: Progress,
    total: int,
    beside: Future[Section] | None,
) -> Report:
    """Check there is something to report on, then build every section (:data:`BESIDE`
    from ``beside`` when it was started apart)."""
    living, journey, t = context.living, context.journey, context.t
    if living.total_events == 0 and not scope.everything:
        raise ReportError(f"there are no events to report on in the scope ({scope}): widen it")
    if living.total_events == 0:
        raise ReportError(
            "there are no events to report on: load some first "
            "(`jornada load WORKSPACE FILE`, or `jornada demo` for an example)"
        )
    built: dict[str, Section] = {}
    last_reader = max(k for k, (id_, _) in enumerate(BUILDERS) if id_ in STAGE_TABLE_READERS)
    for done, (section_id, builder) in enumerate(BUILDERS, start=1):
        say(t(f"progress.{section_id.replace('-', '_')}"), done, total)
        if beside is not None and section_id == BESIDE:
            built[section_id] = beside.result()
        else:
            built[section_id] = builder(context)
        if done - 1 == last_reader:
            context.close()  # the engine's memory back for the sections left
    say(t("progress.opportunities"), total - 1, total)
    built["opportunities"], ranked = opportunities(context)
    say(t("progress.done"), total, total)
    return Report(
        title=t("title", journey=journey.title),
        journey=journey,
        language=context.language,
        generated=dt.datetime.now(dt.UTC).replace(microsecond=0),
        conversion=context.conversion,
        purchase=context.purchase,
        sections=tuple(built[section_id] for section_id in SECTION_ORDER),
        opportunities=ranked,
        scope=scope,
    )


def write_report(report: Report, path: str | os.PathLike[str]) -> Path:
    """Write ``report`` to ``path``: ``.html`` (self-contained) or ``.pdf``."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in REPORT_SUFFIXES:
        shown = repr(suffix) if suffix else "(no suffix)"
        raise ReportError(
            f"cannot write {target.name!r}: unsupported format {shown}; name the file .html or .pdf"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    html = report.to_html()
    if suffix == ".html":
        target.write_text(html, encoding="utf-8")
        return target
    from jornada.report._pdf import print_pdf

    print_pdf(html, target)
    return target

"""The report on the demo workspace: its structure (golden file), its numbers (those of
the analyses, run again here), the demo's checkout-bug week among the opportunities,
the links from claims to numbers, errors, and the CLI in Portuguese."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path
from typing import Any, cast

import pytest

from jornada.analytics.attribution import attribution
from jornada.analytics.churn import ChurnDefinition, ChurnResult
from jornada.analytics.funnel import FunnelBreakdown, FunnelResult
from jornada.analytics.stages import analyse_stages
from jornada.cli import run
from jornada.demo.generator import STORIES
from jornada.living.overlay import LivingMap, default_conversion
from jornada.model import Journey
from jornada.report import Report, ReportError, build_report, write_report
from jornada.report import _opportunities as opp
from jornada.report._sections import Context, attribution_section, churn_section
from jornada.workspace import Workspace
from tests.render.snapshots import assert_snapshot

SECTIONS = [
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
]


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 3)
    return value


def structure(report: Report) -> dict[str, Any]:
    """What the golden file holds: sections, headings, table shapes, a few rounded numbers
    (not the CLV fits or chart pixels, which depend on optimisers and fonts)."""
    funnel = report.section("stages").table("stage-funnel")
    return {
        "title": report.title,
        "conversion": report.conversion,
        "sections": [
            {
                "id": s.id,
                "title": s.title,
                "tables": [
                    {"id": t.id, "columns": [c.key for c in t.columns], "shape": list(t.shape)}
                    for t in s.tables
                ],
                "charts": [c.id for c in s.charts],
                "claims": len(s.claims),
            }
            for s in report.sections
        ],
        "stage_funnel": [[_rounded(v) for v in row] for row in funnel.rows],
        "opportunities": [
            {
                "kind": o.kind,
                "stage": o.stage_id,
                "touchpoint": o.touchpoint_id,
                "customers": round(o.customers),
            }
            for o in report.opportunities
        ],
    }


def _golden(data: dict[str, Any]) -> str:
    """JSON with one line per list item: short lines that diff well."""

    def value(v: Any) -> str:
        if not isinstance(v, list):
            return json.dumps(v, ensure_ascii=False)
        items = ",\n".join("  " + json.dumps(x, ensure_ascii=False) for x in v)
        return "[\n" + items + "\n ]"

    return "{\n" + ",\n".join(f" {json.dumps(k)}: {value(v)}" for k, v in data.items()) + "\n}\n"


def test_structure_matches_the_golden_file(report: Report) -> None:
    assert report.section_ids() == SECTIONS
    assert_snapshot("report/demo.en.json", _golden(structure(report)))


def test_numbers_are_the_analyses_numbers(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    events = demo.events()
    stages = analyse_stages(events, journey)
    table = report.section("stages").table("stage-funnel")
    assert [row[:5] for row in table.rows] == [
        (s.name, s.reached, s.currently_in, s.conversion_to_next, s.conversion_from_first)
        for s in stages.stages
    ]
    credited = attribution(events, conversion=default_conversion(journey) or "", journey=journey)
    rows = {
        row[0]: row[1:] for row in report.section("attribution").table("attribution-table").rows
    }
    for i, channel in enumerate(credited.channels):
        assert rows[channel] == tuple(credited.conversions[m][i] for m in credited.models)


def test_stage_gap_is_the_best_channel_rate_times_reached(report: Report) -> None:
    gaps = [o for o in report.opportunities if o.kind == "stage_gap"]
    assert gaps, "the referral arrivals move on far more often: a gap must show"
    channels = report.section("stages").table("stage-channels")
    keys = [c.key for c in channels.columns]
    for gap in gaps:
        n = gap.claim.numbers
        row = channels.rows[channels.row_ids.index(gap.claim.target)]
        assert row[keys.index(f"channel_{n['best_channel']}")] == pytest.approx(n["best_rate"])
        assert n["best_rate_low"] > n["rate"]
        assert gap.customers == pytest.approx((n["best_rate"] - n["rate"]) * n["reached"])


def test_the_checkout_bug_week_is_an_opportunity_with_its_evidence(report: Report) -> None:
    story = STORIES["checkout_bug_week"]
    weeks = [o for o in report.opportunities if o.kind == "bad_week"]
    found = [o for o in weeks if o.claim.numbers["week"] == story.start.isoformat()]
    assert found, [o.claim.text for o in report.opportunities]
    week = found[0]
    assert week.claim.numbers["channel"] == story.channel == "web"
    assert week.touchpoint_id in {"checkout", "cart"}
    assert week.claim.numbers["rate"] < week.claim.numbers["usual_rate"] / 2
    assert week.value is not None
    assert week.value > 0
    evidence = report.section("opportunities").table("bad-weeks")
    row = evidence.rows[evidence.row_ids.index(week.claim.target)]
    assert row[0] == story.start.isoformat()
    assert row[1] == "web"
    assert "2 Mar 2026" in week.claim.text


def test_every_claim_links_to_its_numbers(report: Report, report_html: str) -> None:
    ids = set(re.findall(r'\sid="([^"]+)"', report_html))
    claims = [c for s in report.sections for c in s.claims]
    assert len(claims) >= len(report.opportunities) > 3
    for claim in claims:
        assert claim.target in ids, claim
    # The living map's findings are shown by its own fragment and listed in the table the
    # claims point to; every other claim is a link (in a list, or the opportunity table).
    for section in report.sections:
        if section.id != "living-map":
            for claim in section.claims:
                assert f'href="#{claim.target}"' in report_html, claim
    row_ids = {r for s in report.sections for t in s.tables for r in t.row_ids if r}
    assert all(c.target in row_ids for c in claims)


def test_progress_is_reported_to_the_end(
    report: Report, progress_calls: list[tuple[str, int, int]]
) -> None:
    done = [d for _, d, _ in progress_calls]
    assert done == sorted(done)
    assert done[0] == 0
    assert progress_calls[-1][1] == progress_calls[-1][2] == len(progress_calls) - 1
    assert report.sections  # the calls are those of building it
    assert not [what for what, _, _ in progress_calls if what.startswith("report.")]


def test_json_twin(report: Report) -> None:
    data = json.loads(json.dumps(report.to_dict()))
    assert [s["id"] for s in data["sections"]] == SECTIONS
    stages = next(s for s in data["sections"] if s["id"] == "stages")
    assert (
        stages["analyses"]["stages"]["stages"][0]["reached"]
        == stages["tables"][0]["rows"][0]["reached"]
    )
    assert len(data["opportunities"]) == len(report.opportunities)


def test_html_is_self_contained(report_html: str) -> None:
    assert report_html.count("<script>") == 2  # plotly.js once, then the chart drawing
    assert not re.search(r'<(script|link|img)[^>]+(src|href)="(https?:)?//', report_html)
    assert "cdn.plot.ly" not in report_html.split("</head>")[1]


def test_churn_section_shows_the_model_drivers_and_triggers(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    # Churn by inactivity alone has enough history in the small demo.
    living = cast(LivingMap, report.section("living-map").analyses["living"])
    context = Context(demo.events(), journey, "en", "first_order", "purchase", living)
    context.churn_definition = ChurnDefinition(inactive_days=60)
    section = churn_section(context)
    result = cast(ChurnResult, section.analyses["churn"])
    assert section.notes == ()
    drivers = section.table("churn-drivers")
    assert drivers.rows == tuple(
        (i.description or i.feature, i.importance) for i in result.importance[:8]
    )
    assert result.triggers is not None
    triggers = section.table("churn-triggers")
    assert [row[0] for row in triggers.rows] == [t.trigger for t in result.triggers.triggers[:10]]
    assert all(claim.numbers["ci_low"] > 1 for claim in section.claims)
    assert [c.target for c in section.claims] == [
        f"trigger-{i + 1}" for i in range(len(section.claims))
    ]


def test_churn_section_says_why_it_could_not_run(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    events = demo.events()
    first_week = events.filter(events.ts < dt.datetime(2026, 1, 8))
    living = cast(LivingMap, report.section("living-map").analyses["living"])
    context = Context(first_week, journey, "es", "first_order", "purchase", living)
    section = churn_section(context)
    assert section.tables == ()
    assert section.claims == ()
    assert len(section.notes) == 1
    assert section.notes[0].startswith("Este análisis no se pudo hacer")


def _funnel(groups: dict[str, tuple[int, int]]) -> FunnelResult:
    breakdown = FunnelBreakdown(
        "week", tuple(groups), tuple(groups.values()), math.nan, math.nan, 0
    )
    return FunnelResult((), "ordered", 86400.0, "session", breakdown=breakdown)


def test_bad_weeks_by_hand() -> None:
    # Web: 5 usual weeks at 16/20 converting, then a week at 3/20; the app's weeks are steady.
    groups = {f"2026-02-{2 + 7 * k:02d} web": (20, 16) for k in range(4)}
    groups |= {"2026-03-02 web": (20, 3), "2026-03-09 web": (20, 16)}
    groups |= {f"2026-02-{2 + 7 * k:02d} app": (12, 9) for k in range(4)}
    groups |= {"2026-03-16 web": (20, 0)}  # ends after the data: not judged
    found = opp.bad_weeks({"checkout": _funnel(groups)}, dt.datetime(2026, 3, 20, 12))
    assert [(w.week.isoformat(), w.channel) for w in found] == [("2026-03-02", "web")]
    week = found[0]
    assert (week.sessions, week.converted, week.other_sessions, week.other_converted) == (
        20,
        3,
        100,
        80,
    )
    assert week.lost == pytest.approx((0.8 - 0.15) * 20)
    pooled = 83 / 120
    z = (0.15 - 0.8) / math.sqrt(pooled * (1 - pooled) * (1 / 20 + 1 / 100))
    assert week.p_value == pytest.approx(0.5 * math.erfc(-z / math.sqrt(2)))
    # A smaller drop, or too few sessions, is not reported.
    assert (
        opp.bad_weeks(
            {"checkout": _funnel(groups | {"2026-03-02 web": (20, 13)})}, dt.datetime(2026, 3, 20)
        )
        == []
    )
    assert (
        opp.bad_weeks(
            {"checkout": _funnel(groups | {"2026-03-02 web": (9, 0)})}, dt.datetime(2026, 3, 20)
        )
        == []
    )


def test_unsupported_suffix_is_a_clear_error(report: Report, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"\.docx.*\.html or \.pdf"):
        write_report(report, tmp_path / "report.docx")
    assert run(["report", str(tmp_path), "--map", "x", "-o", str(tmp_path / "r.txt")]) == 2


def test_missing_workspace_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(["report", str(tmp_path / "nowhere"), "--map", "x", "-o", str(tmp_path / "r.html")])
        == 1
    )
    assert "not a jornada workspace" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_in_portuguese(
    demo: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "relatorio.html"
    arguments = ["report", str(demo.root), "--map", "b2c-ecommerce", "-o", str(target)]
    code = run([*arguments, "--lang", "pt", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "wrote" in captured.err
    twin = json.loads(captured.out)
    assert [s["id"] for s in twin["sections"]] == SECTIONS
    assert twin["language"] == "pt-BR"
    assert "analyses" not in twin["sections"][0]
    html = target.read_text("utf-8")
    assert '<html lang="pt-BR">' in html
    for label in (
        "Funil de etapas",
        "Oportunidades de melhoria",
        "Persona e história",
        "Clientes parados",
        "Conversões perdidas",
    ):
        assert f">{label}<" in html, label
    assert ">Stage funnel<" not in html
    # Numbers and dates are written the Brazilian way: 1.234 and 12,5% and 02/03/2026.
    assert re.search(r">\d{1,3}(\.\d{3})+<", html)
    assert re.search(r">\d+,\d%<", html)
    assert ">02/03/2026<" in html
    # Written once: again only with --force.
    assert run([*arguments, "--lang", "pt"]) == 2


def test_a_conversion_nobody_reaches_is_named(
    report: Report, demo: Workspace, journey: Journey
) -> None:
    living = cast(LivingMap, report.section("living-map").analyses["living"])
    context = Context(demo.events(), journey, "pt-BR", "no_such_event", "purchase", living)
    section = attribution_section(context)
    assert section.tables == ()
    assert section.notes == (
        "Nenhum cliente chegou à etapa de conversão no_such_event nestes dados: confira "
        "--conversion (um nome de evento, um id de ponto de contato, etapa ou marco do mapa, "
        "ou uma regra).",
    )


def test_a_workspace_without_events_is_a_clear_error(journey: Journey, tmp_path: Path) -> None:
    empty = Workspace.init(tmp_path / "empty")
    try:
        with pytest.raises(ReportError, match="no events to report on: load some first"):
            build_report(empty, journey)
    finally:
        empty.close()


def test_every_report_label_exists_in_every_language() -> None:
    from typing import get_args

    from jornada.analytics.attribution import MODELS
    from jornada.i18n import _read
    from jornada.report._parts import OpportunityKind
    from jornada.report._sections import BUILDERS

    source = Path(__file__).resolve().parents[2] / "src" / "jornada" / "report"
    used = {
        key
        for path in source.glob("*.py")
        for key in re.findall(
            r"""\bt\(\s*["']([a-z_]+(?:\.[a-z_0-9]+)+)["']""", path.read_text("utf-8")
        )
    }
    used |= {f"progress.{section_id.replace('-', '_')}" for section_id, _ in BUILDERS}
    used |= {f"kind.{kind}" for kind in get_args(OpportunityKind)}
    used |= {f"model.{model}" for model in MODELS}
    assert len(used) > 100
    english = {k.removeprefix("report.") for k in _read("en") if k.startswith("report.")}
    assert used - english == set()
    for language in ("pt-BR", "es"):
        own = {k.removeprefix("report.") for k in _read(language) if k.startswith("report.")}
        assert english - own == set(), language

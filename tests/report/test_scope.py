"""The report on a scope: ``jornada report --period --segment`` measures those events only
and says so under its title, in its story and in its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jornada.cli import run
from jornada.events.filters import EventScope, parse_period, scope_events
from jornada.living.overlay import living_map
from jornada.model import Journey
from jornada.workspace import Workspace


@pytest.mark.slow
def test_report_on_a_period_and_segment(
    demo: Workspace, journey: Journey, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "q1.html"
    segment = "channel = 'app'"
    arguments = ["report", str(demo.root), "--map", "b2c-ecommerce", "-o", str(target)]
    code = run([*arguments, "--period", "2026-02..2026-03", "--segment", segment, "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    twin = json.loads(captured.out)
    assert twin["scope"] == {
        "from": "2026-02-01",
        "to": "2026-03-31",
        "channels": [],
        "segment": segment,
    }
    story = next(s for s in twin["sections"] if s["id"] == "story")
    note = "Measured on: 1 Feb 2026 to 31 Mar 2026 · customers with an event matching"
    assert story["notes"][0].startswith(note)
    # The numbers are those of the scoped events, checked with pandas on them.
    scope = EventScope(*parse_period("2026-02..2026-03"), segment=segment)
    frame = scope_events(demo.events(), scope).select("customer_id", "ts").to_pandas()
    facts = story["tables"][0]["rows"][0]
    assert facts["customers"] == frame.customer_id.nunique()
    assert facts["events"] == len(frame)
    assert facts["first_seen"] >= "2026-02-01"
    assert facts["last_seen"] <= "2026-03-31"
    everything = living_map(demo.events(), journey)
    assert facts["customers"] < everything.total_customers
    html = target.read_text("utf-8")
    header = html[html.index('<header class="rp-header">') : html.index("</header>")]
    assert '<p class="rp-scope">Measured on: 1 Feb 2026 to 31 Mar 2026' in header
    assert "channel = &#39;app&#39;" in header


def test_report_scope_errors_name_the_option(
    demo: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["report", str(demo.root), "--map", "b2c-ecommerce", "-o", str(tmp_path / "r.html")]
    assert run([*arguments, "--period", "2026-Q5"]) == 2
    assert "--period" in capsys.readouterr().err
    assert run([*arguments, "--segment", "value > 'ten'"]) == 2
    error = capsys.readouterr().err
    assert "--segment" in error
    assert "'value' is a number" in error
    assert not (tmp_path / "r.html").exists()
    # A scope with no events is refused, saying which scope.
    assert run([*arguments, "--period", "2019"]) == 1
    assert "no events to report on in the scope (2019-01-01..2019-12-31)" in capsys.readouterr().err

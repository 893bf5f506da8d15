"""The event commands end to end: generate, load (flags and saved mappings), quarantine,
identities and bind, on real files and a real workspace."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from jornada.cli import run
from jornada.living.overlay import living_map
from jornada.model.validation import load_journey
from jornada.workspace import Workspace


def _kept(workspace: Workspace) -> int:
    row = workspace.engine.sql("SELECT count(*) FROM kept_tables").fetchone()
    return int(row[0]) if row else 0


def test_generate_load_identities_bind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["generate", "--customers", "300", "--out", str(tmp_path / "data"), "--json"]) == 0
    generated = json.loads(capsys.readouterr().out)
    assert generated["events"] > 3000
    assert run(["init", str(tmp_path / "ws")]) == 0
    mapping = generated["mapping"]
    flags = [
        "--customer", mapping["customer"], "--time", mapping["time"], "--event", mapping["event"],
        "--channel", mapping["channel"], "--value", mapping["value"], "--id", mapping["id"],
        "--identity", "email=email", "--identity", "phone=phone", "--identity", "device=device_id",
    ]  # fmt: skip
    args = [
        "load",
        str(tmp_path / "ws"),
        generated["events_path"],
        *flags,
        "--save-mapping",
        "shop",
        "--json",
    ]
    assert run(args) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["rows_read"] == generated["events"]
    assert loaded["loaded"] + loaded["duplicates"] + loaded["quarantined"] == loaded["rows_read"]
    assert loaded["loaded"] == generated["events"]

    # The saved mapping loads the same file again: nothing new.
    assert (
        run(["load", str(tmp_path / "ws"), generated["events_path"], "--mapping", "shop", "--json"])
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert (again["loaded"], again["duplicates"]) == (0, generated["events"])

    assert run(["identities", str(tmp_path / "ws"), "--json"]) == 0
    identities = json.loads(capsys.readouterr().out)
    assert 0 < identities["customers"] < 300 * 2
    assert identities["merges"] > 0

    profiles = [
        "load-customers",
        str(tmp_path / "ws"),
        generated["customers_path"],
        "--id",
        "crm_id",
    ]
    assert run([*profiles, "--identity", "email=email", "--identity", "phone=phone", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["profiles"] > 0
    assert run(["identities", str(tmp_path / "ws"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["customers"] <= identities["customers"]

    template = tmp_path / "shop.yaml"
    assert run(["map", "new", "--template", "b2c-ecommerce", "-o", str(template)]) == 0
    capsys.readouterr()
    bind = ["bind", str(tmp_path / "ws"), "--map", str(template), "--json"]
    assert run([*bind, "--no-keep"]) == 0
    bound = json.loads(capsys.readouterr().out)
    assert bound["event_coverage"] > 0.5
    assert bound["matched_events"] <= bound["total_events"]
    workspace = Workspace.open(tmp_path / "ws")
    assert _kept(workspace) == 0
    # By default the map's labelled events are kept: the living map then reads them (and
    # makes no table of its own).
    assert run(bind) == 0
    assert json.loads(capsys.readouterr().out) == bound
    kept = _kept(workspace)
    assert kept > 0
    living_map(workspace.events(), load_journey(template), facts=True)
    assert _kept(workspace) == kept

    # A workspace knows its columns: a column flag on one is refused, not ignored.
    funnel = ["funnel", str(tmp_path / "ws"), "--steps", "product_view,purchase", "--json"]
    assert run(funnel) == 0
    capsys.readouterr()
    assert run([*funnel, "--channel", "web", "--tz", "Europe/Lisbon"]) == 2
    error = capsys.readouterr().err
    assert "--channel, --tz" in error
    assert "--only-channel" in error


def test_load_quarantine_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "events.csv"
    source.write_text(
        "who,when,what\nu1,2026-01-01T10:00:00Z,visit\n,2026-01-01,visit\nu2,soon,visit\n"
    )
    assert run(["init", str(tmp_path / "ws")]) == 0
    assert (
        run(
            [
                "load",
                str(tmp_path / "ws"),
                str(source),
                "--customer",
                "who",
                "--time",
                "when",
                "--event",
                "what",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert "3 rows read → 1 loaded, 0 duplicates, 2 quarantined" in out.out
    assert run(["quarantine", str(tmp_path / "ws"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["total"] == 2
    assert [(r["row"], r["column"], r["reason"]) for r in shown["rows"]] == [
        (2, "who", "missing customer"),
        (3, "when", "unparseable timestamp"),
    ]
    export = tmp_path / "bad.csv"
    assert run(["quarantine", str(tmp_path / "ws"), "--export", str(export)]) == 0
    with export.open(encoding="utf-8") as handle:
        assert len(list(csv.DictReader(handle))) == 2


def test_load_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "events.csv"
    source.write_text("who,when,what\nu1,2026-01-01,visit\n")
    assert run(["init", str(tmp_path / "ws")]) == 0
    assert run(["load", str(tmp_path / "ws"), str(source), "--customer", "who"]) == 2
    assert "--time, --event" in capsys.readouterr().err
    assert (
        run(
            [
                "load",
                str(tmp_path / "ws"),
                str(source),
                "--customer",
                "who",
                "--time",
                "when",
                "--event",
                "kind",
            ]
        )
        == 1
    )
    assert "no column 'kind' for event; the columns are: who, when, what" in capsys.readouterr().err
    assert run(["load", str(tmp_path / "ws"), str(source), "--mapping", "nope"]) == 1
    assert "no mapping 'nope'" in capsys.readouterr().err
    assert (
        run(
            [
                "load",
                str(tmp_path / "ws"),
                str(source),
                "--customer",
                "who",
                "--time",
                "when",
                "--event",
                "what",
                "--identity",
                "email",
            ]
        )
        == 2
    )


def test_a_load_labels_the_events_for_the_saved_maps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a load that adds events, each valid saved map's labels are kept (what its
    living map reads), an invalid map is named and skipped, and --no-bind or a load
    that adds nothing leaves the labels alone."""
    for seed, part in ((3, "a"), (4, "b")):
        out = str(tmp_path / part)
        assert run(["generate", "--customers", "60", "--out", out, "--seed", str(seed), "--json"]) == 0  # fmt: skip
        generated = json.loads(capsys.readouterr().out)
    mapping = generated["mapping"]
    flags = [
        "--customer", mapping["customer"], "--time", mapping["time"], "--event", mapping["event"],
        "--channel", mapping["channel"], "--id", mapping["id"], "--id-scope", "x",
    ]  # fmt: skip
    ws = tmp_path / "ws"
    assert run(["init", str(ws)]) == 0
    assert run(["map", "new", "--template", "b2c-ecommerce", "-o", str(ws / "maps" / "shop.yaml")]) == 0  # fmt: skip
    (ws / "maps" / "broken.yaml").write_text("id: broken\nstages: 3\n", encoding="utf-8")
    capsys.readouterr()
    load = ["load", str(ws), str(tmp_path / "a" / "events.parquet"), *flags, "--json"]

    assert run(load) == 0
    loaded = json.loads(capsys.readouterr().out)
    assert loaded["loaded"] > 0
    assert loaded["maps_bound"] == ["shop"]
    assert list(loaded["maps_not_bound"]) == ["broken"]
    assert "broken.yaml" in loaded["maps_not_bound"]["broken"]
    workspace = Workspace.open(ws)
    kept = _kept(workspace)
    assert kept > 0
    # What was kept is what the living map reads: it makes no table of its own.
    living_map(workspace.events(), workspace.load_map("shop"), facts=True)
    assert _kept(workspace) == kept
    workspace.close()

    # The same file again adds nothing: the labels still hold and are not made again.
    assert run(load) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["loaded"], again["maps_bound"]) == (0, [])
    workspace = Workspace.open(ws)
    assert _kept(workspace) == kept
    workspace.close()

    # New events without binding: the old labels are forgotten, none made.
    other = ["load", str(ws), str(tmp_path / "b" / "events.parquet"), *flags, "--no-bind", "--json"]
    assert run(other) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["loaded"] > 0
    assert (added["maps_bound"], added["maps_not_bound"]) == ([], {})
    workspace = Workspace.open(ws)
    assert _kept(workspace) == 0
    workspace.close()

"""The department view: each department's touchpoints with the living map's own numbers,
and the ``living`` and ``departments`` commands on the demo workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jornada.cli import run
from jornada.living.departments import department_groups, departments
from jornada.living.overlay import LivingMap, living_map
from jornada.workspace import Workspace


@pytest.fixture(scope="module")
def living(demo_workspace: Workspace) -> LivingMap:
    return living_map(demo_workspace.events(), demo_workspace.load_map("b2c-ecommerce"))


def test_each_department_lists_the_touchpoints_naming_it(living: LivingMap) -> None:
    journey = living.journey
    result = departments(living)
    declared = [d.id for d in journey.departments]
    assert [d.department_id for d in result.departments][: len(declared)] == declared
    for view in result.departments:
        expected = [
            tp.id
            for _, tp in journey.iter_touchpoints()
            if (view.department_id in tp.departments)
            or (view.department_id is None and not tp.departments)
        ]
        assert [tp.touchpoint_id for tp in view.touchpoints] == expected
        for tp in view.touchpoints:
            # The same objects as the living map's cells: no number of its own.
            assert tp is living.touchpoint(tp.touchpoint_id)
        assert list(view.findings) == sorted(
            (f for tp in view.touchpoints for f in tp.findings),
            key=lambda f: (-f.severity, -f.customers),
        )
    owner = result.department(journey.departments[0].id)
    assert owner.name == journey.departments[0].name
    assert sum(owner.kpi_summary().values()) == sum(k.status is not None for k in owner.kpis)


def test_frame_dict_and_chart(living: LivingMap) -> None:
    result = departments(living)
    frame = result.to_frame()
    assert len(frame) == sum(len(d.touchpoints) for d in result.departments)
    data = result.to_dict()
    json.dumps(data)
    assert data["journey_id"] == "b2c-ecommerce"
    assert len(result.chart().data) == 5


def test_undeclared_and_unassigned_departments() -> None:
    from jornada.model import Journey, Stage, Touchpoint

    journey = Journey(
        id="j",
        title="J",
        stages=[
            Stage(
                id="s",
                name="S",
                touchpoints=[
                    Touchpoint(id="a", name="A", departments=["ops", "ops"]),
                    Touchpoint(id="b", name="B"),
                ],
            )
        ],
    )
    groups = department_groups(journey)
    assert [
        (g.department_id, g.name, [r.touchpoint_id for r in g.touchpoints]) for g in groups
    ] == [
        ("ops", "ops", ["a"]),
        (None, None, ["b"]),
    ]


@pytest.mark.slow
def test_living_and_departments_commands(
    demo_workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(demo_workspace.root)
    map_file = str(demo_workspace.map_path("b2c-ecommerce"))
    out = tmp_path / "living.html"
    assert run(["living", root, "--map", map_file, "-o", str(out), "--lang", "es", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["journey_id"] == "b2c-ecommerce"
    assert data["attribution_model"] == "position_based"
    assert '<html lang="es">' in out.read_text(encoding="utf-8")
    assert run(["departments", root, "--map", map_file, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [d["department_id"] for d in listed["departments"]][:1] == ["marketing"]
    assert run(["living", root]) == 2
    assert "give --map" in capsys.readouterr().err
    assert run(["living", root, "--map", map_file, "--model", "magic"]) == 1
    assert "choose from" in capsys.readouterr().err

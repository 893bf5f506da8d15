"""What changed between two versions of a map, said in journey terms.

>>> from jornada.model import Journey, Stage, Touchpoint, Emotion
>>> a = Journey(id="j", title="J", stages=[Stage(id="s", name="Buy", touchpoints=[
...     Touchpoint(id="pay", name="Payment", emotion=Emotion(score=-1))])])
>>> b = a.model_copy(update={"stages": [a.stages[0].model_copy(update={"touchpoints": [
...     a.stages[0].touchpoints[0].model_copy(update={"emotion": Emotion(score=1)})]})]})
>>> [str(c) for c in diff_journeys(a, b)]
["touchpoint 'Payment' (stage 'Buy'): emotion -1 → +1"]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from jornada.model.journey import Journey
from jornada.model.stage import Stage
from jornada.model.touchpoint import Emotion, Touchpoint

__all__ = ["Change", "diff_journeys"]


@dataclass(frozen=True)
class Change:
    """One difference: ``kind`` is a stable code (``stage_added``, ``emotion_changed``...)
    for scripts, ``subject`` names the element and ``detail`` says what happened to it."""

    kind: str
    subject: str
    detail: str
    before: Any = None
    after: Any = None

    def __str__(self) -> str:
        return f"{self.subject}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "subject": self.subject,
            "detail": self.detail,
            "before": _plain(self.before),
            "after": _plain(self.after),
        }


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _show(value: Any) -> str:
    if value is None or value == []:
        return "(none)"
    if isinstance(value, Emotion):
        label = f" ({value.label})" if value.label else ""
        return f"{value.score:+d}{label}" if value.score else f"0{label}"
    if isinstance(value, BaseModel):
        text = getattr(value, "text", None) or getattr(value, "name", None)
        return repr(text) if text else str(_plain(value))
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return str(value)


def _by_id(items: Sequence[_HasId]) -> dict[str, Any]:
    return {item.id: item for item in items}


def _fields(
    before: BaseModel, after: BaseModel, subject: str, skip: frozenset[str]
) -> Iterator[Change]:
    """Field-by-field changes; lists of text say which items came and went."""
    for name in type(before).model_fields:
        if name in skip:
            continue
        old, new = getattr(before, name), getattr(after, name)
        if old == new:
            continue
        if (
            isinstance(old, list)
            and isinstance(new, list)
            and all(isinstance(v, str | BaseModel) and not hasattr(v, "id") for v in old + new)
        ):
            label = name.replace("_", " ")
            added = [v for v in new if v not in old]
            removed = [v for v in old if v not in new]
            for value in added:
                yield Change(f"{name}_added", subject, f"{label} + {_show(value)}", None, value)
            for value in removed:
                yield Change(f"{name}_removed", subject, f"{label} − {_show(value)}", value, None)
            if not added and not removed:
                how = (
                    "reordered" if Counter(map(repr, old)) == Counter(map(repr, new)) else "changed"
                )
                yield Change(f"{name}_{how}", subject, f"{label} {how}", old, new)
            continue
        kind = "emotion_changed" if name == "emotion" else f"{name}_changed"
        yield Change(
            kind, subject, f"{name.replace('_', ' ')} {_show(old)} → {_show(new)}", old, new
        )


def _collection(
    before: Sequence[_HasId], after: Sequence[_HasId], noun: str, where: str = ""
) -> Iterator[Change]:
    """Added, removed and changed elements of an id-keyed list (personas, milestones...)."""
    old, new = _by_id(before), _by_id(after)
    for item_id, item in new.items():
        if item_id not in old:
            yield Change(f"{noun}_added", f"{noun} {_name(item)}{where}", "added", None, item)
    for item_id, item in old.items():
        if item_id not in new:
            yield Change(f"{noun}_removed", f"{noun} {_name(item)}{where}", "removed", item, None)
    common = [item_id for item_id in new if item_id in old]
    if common != [item_id for item_id in old if item_id in new]:
        yield Change(f"{noun}_reordered", f"{noun}s{where}", "reordered", list(old), list(new))
    for item_id in common:
        subject = f"{noun} {_name(new[item_id])}{where}"
        yield from _fields(old[item_id], new[item_id], subject, frozenset({"id"}))


def _name(item: Any) -> str:
    return repr(getattr(item, "name", None) or getattr(item, "id", "?"))


def _kpis(before: BaseModel, after: BaseModel, subject: str) -> Iterator[Change]:
    old = {k.kpi: k for k in getattr(before, "kpis")}  # noqa: B009 - stages and touchpoints
    new = {k.kpi: k for k in getattr(after, "kpis")}  # noqa: B009
    for kpi_id in [kpi_id for kpi_id in new if kpi_id not in old]:
        yield Change("kpi_added", subject, f"KPI {kpi_id} added", None, new[kpi_id])
    for kpi_id in [kpi_id for kpi_id in old if kpi_id not in new]:
        yield Change("kpi_removed", subject, f"KPI {kpi_id} removed", old[kpi_id], None)
    if [k for k in new if k in old] != [k for k in old if k in new]:
        yield Change("kpis_reordered", subject, "KPIs reordered", list(old), list(new))
    for kpi_id in [kpi_id for kpi_id in new if kpi_id in old]:
        a, b = old[kpi_id], new[kpi_id]
        if a.target != b.target:
            yield Change(
                "kpi_target_changed", subject, f"KPI {kpi_id} target {a.target} → {b.target}", a, b
            )
        elif a != b:
            yield Change("kpi_changed", subject, f"KPI {kpi_id} changed", a, b)


def _stayed(stage: Stage, other: dict[str, tuple[Stage, Touchpoint]]) -> list[str]:
    """Ids of the stage's touchpoints that sit in the same stage in the other version."""
    return [t.id for t in stage.touchpoints if t.id in other and other[t.id][0].id == stage.id]


def _touchpoints(before: Journey, after: Journey) -> Iterator[Change]:
    old = {t.id: (s, t) for s, t in before.iter_touchpoints()}
    new = {t.id: (s, t) for s, t in after.iter_touchpoints()}

    def subject(stage: Stage, touchpoint: Touchpoint) -> str:
        return f"touchpoint {touchpoint.name!r} (stage {stage.name!r})"

    for tid, (stage, touchpoint) in new.items():
        if tid not in old:
            yield Change("touchpoint_added", subject(stage, touchpoint), "added", None, touchpoint)
    for tid, (stage, touchpoint) in old.items():
        if tid not in new:
            yield Change(
                "touchpoint_removed", subject(stage, touchpoint), "removed", touchpoint, None
            )
    for tid in [tid for tid in new if tid in old]:
        (old_stage, a), (new_stage, b) = old[tid], new[tid]
        name = subject(new_stage, b)
        if old_stage.id != new_stage.id:
            yield Change(
                "touchpoint_moved",
                name,
                f"moved from stage {old_stage.name!r}",
                old_stage.id,
                new_stage.id,
            )
        else:
            # Positions among the touchpoints that stayed in this stage, so that one
            # touchpoint leaving does not make all the others look reordered.
            old_pos = _stayed(old_stage, new).index(tid)
            new_pos = _stayed(new_stage, old).index(tid)
            if old_pos != new_pos:
                yield Change(
                    "touchpoint_reordered",
                    name,
                    f"position {old_pos + 1} → {new_pos + 1}",
                    old_pos,
                    new_pos,
                )
        if a.name != b.name:
            yield Change("touchpoint_renamed", name, f"renamed from {a.name!r}", a.name, b.name)
        yield from _fields(a, b, name, frozenset({"id", "name", "kpis"}))
        yield from _kpis(a, b, name)


def _stages(before: Journey, after: Journey) -> Iterator[Change]:
    old, new = _by_id(before.stages), _by_id(after.stages)
    for stage_id, stage in new.items():
        if stage_id not in old:
            yield Change("stage_added", f"stage {stage.name!r}", "added", None, stage)
    for stage_id, stage in old.items():
        if stage_id not in new:
            yield Change("stage_removed", f"stage {stage.name!r}", "removed", stage, None)
    old_order = [s.id for s in before.ordered_stages() if s.id in new]
    new_order = [s.id for s in after.ordered_stages() if s.id in old]
    for stage_id in [stage_id for stage_id in new if stage_id in old]:
        a, b = old[stage_id], new[stage_id]
        name = f"stage {b.name!r}"
        if old_order.index(stage_id) != new_order.index(stage_id):
            yield Change(
                "stage_moved",
                name,
                f"position {old_order.index(stage_id) + 1} → {new_order.index(stage_id) + 1}",
                old_order.index(stage_id),
                new_order.index(stage_id),
            )
        if a.name != b.name:
            yield Change("stage_renamed", name, f"renamed from {a.name!r}", a.name, b.name)
        skip = frozenset({"id", "name", "touchpoints", "milestones", "kpis"})
        yield from _fields(a, b, name, skip)
        yield from _kpis(a, b, name)
        yield from _collection(a.milestones, b.milestones, "milestone", f" (stage {b.name!r})")


def diff_journeys(before: Journey, after: Journey) -> list[Change]:
    """Every change from ``before`` to ``after``; empty when the maps are equal."""
    skip = frozenset({"personas", "departments", "stages", "kpis", "lanes"})
    changes = list(_fields(before, after, "map", skip))
    changes += _collection(before.personas, after.personas, "persona")
    changes += _collection(before.departments, after.departments, "department")
    changes += _stages(before, after)
    changes += _touchpoints(before, after)
    changes += _collection(before.kpis, after.kpis, "KPI definition")
    if before.visible_lanes() != after.visible_lanes() or before.lanes != after.lanes:
        changes.append(Change("lanes_changed", "lanes", "lanes changed", before.lanes, after.lanes))
    return changes

"""Map diffs speak in journey terms, and an unchanged map has no diff."""

from __future__ import annotations

from hypothesis import given, settings

from jornada.model import Emotion, Journey, KpiTarget, PainPoint, Stage, Touchpoint
from jornada.model.diff import diff_journeys
from tests.model.test_io import journeys

BASE = Journey(
    id="shop",
    title="Shop",
    stages=[
        Stage(
            id="discover",
            name="Discover",
            touchpoints=[
                Touchpoint(id="ads", name="Ads", channel="ads"),
                Touchpoint(id="blog", name="Blog", channel="web"),
            ],
        ),
        Stage(
            id="buy",
            name="Buy",
            touchpoints=[
                Touchpoint(
                    id="checkout",
                    name="Checkout",
                    emotion=Emotion(score=-1, label="anxious"),
                    pain_points=[PainPoint(text="Hidden shipping cost", severity=4)],
                    kpis=[KpiTarget(kpi="conversion_rate", target=0.03)],
                )
            ],
        ),
    ],
)


def changed(journey: Journey, **stage_updates: object) -> Journey:
    return journey.model_copy(update=stage_updates)


def describe(before: Journey, after: Journey) -> list[tuple[str, str]]:
    return [(c.kind, str(c)) for c in diff_journeys(before, after)]


def test_no_changes() -> None:
    assert diff_journeys(BASE, BASE) == []


def test_stage_added_removed_renamed_and_moved() -> None:
    discover, buy = BASE.stages
    after = BASE.model_copy(
        update={
            "stages": [
                buy.model_copy(update={"name": "Purchase"}),
                Stage(id="loyal", name="Loyalty", touchpoints=[Touchpoint(id="club", name="Club")]),
            ]
        }
    )
    found = describe(BASE, after)
    assert ("stage_added", "stage 'Loyalty': added") in found
    assert ("stage_removed", "stage 'Discover': removed") in found
    assert ("stage_renamed", "stage 'Purchase': renamed from 'Buy'") in found
    assert ("touchpoint_removed", "touchpoint 'Ads' (stage 'Discover'): removed") in found
    assert ("touchpoint_added", "touchpoint 'Club' (stage 'Loyalty'): added") in found
    moved = BASE.model_copy(update={"stages": [buy, discover]})
    assert describe(BASE, moved) == [
        ("stage_moved", "stage 'Buy': position 2 → 1"),
        ("stage_moved", "stage 'Discover': position 1 → 2"),
    ]


def test_touchpoint_moves_between_stages_and_within_a_stage() -> None:
    discover, buy = BASE.stages
    ads, blog = discover.touchpoints
    after = BASE.model_copy(
        update={
            "stages": [
                discover.model_copy(update={"touchpoints": [blog]}),
                buy.model_copy(update={"touchpoints": [*buy.touchpoints, ads]}),
            ]
        }
    )
    assert describe(BASE, after) == [
        ("touchpoint_moved", "touchpoint 'Ads' (stage 'Buy'): moved from stage 'Discover'")
    ]
    swapped = BASE.model_copy(
        update={"stages": [discover.model_copy(update={"touchpoints": [blog, ads]}), buy]}
    )
    assert (
        "touchpoint_reordered",
        "touchpoint 'Ads' (stage 'Discover'): position 1 → 2",
    ) in describe(BASE, swapped)


def test_emotion_pain_points_kpis_and_fields() -> None:
    discover, buy = BASE.stages
    checkout = buy.touchpoints[0]
    new_checkout = checkout.model_copy(
        update={
            "emotion": Emotion(score=1, label="relieved"),
            "pain_points": [PainPoint(text="Only two payment options", severity=3)],
            "kpis": [KpiTarget(kpi="conversion_rate", target=0.05)],
            "channel": "web",
            "actions": ["pays with pix"],
        }
    )
    after = BASE.model_copy(
        update={
            "title": "Shop 2",
            "stages": [discover, buy.model_copy(update={"touchpoints": [new_checkout]})],
        }
    )
    subject = "touchpoint 'Checkout' (stage 'Buy')"
    assert describe(BASE, after) == [
        ("title_changed", "map: title 'Shop' → 'Shop 2'"),
        ("channel_changed", f"{subject}: channel (none) → 'web'"),
        ("actions_added", f"{subject}: actions + 'pays with pix'"),
        ("emotion_changed", f"{subject}: emotion -1 (anxious) → +1 (relieved)"),
        ("pain_points_added", f"{subject}: pain points + 'Only two payment options'"),
        ("pain_points_removed", f"{subject}: pain points − 'Hidden shipping cost'"),
        ("kpi_target_changed", f"{subject}: KPI conversion_rate target 0.03 → 0.05"),
    ]


@settings(max_examples=25)
@given(journeys(), journeys())
def test_diff_is_empty_exactly_when_maps_are_equal(a: Journey, b: Journey) -> None:
    assert diff_journeys(a, a) == []
    if a != b:
        assert diff_journeys(a, b), "two different maps must have a non-empty diff"

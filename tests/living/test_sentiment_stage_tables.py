"""The measured emotion read from the stage tables' labelled events (the living map's
way: the responses, their labels and their survey and language properties come from the
one labelling scan) gives the numbers of labelling the responses on their own; where the
tables cannot give the responses (built with ``as_of``, grouped by another column, events
without a time) the measure falls back to its own way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings

from jornada.analytics.stages import StageTables
from jornada.living.sentiment import _labelled_responses, measured_emotions
from jornada.model.templates import load_template
from tests.living.conftest import Row, Store
from tests.living.test_sentiment import feedback

SHOP = load_template("b2c-ecommerce")
BY = ("touchpoint_id", "stage_id", None)

# Events of the map's touchpoints whose rules read properties (page, reason, campaign),
# survey answers, and events outside the map.
EVENTS = [
    ("chat_started", "chat", {"topic": "sizing"}),
    ("chat_started", "chat", {"topic": "returns"}),
    ("support_ticket", "email", {"reason": "order_status"}),
    ("survey_response", "email", {}),
    ("review_submitted", "web", {}),
    ("page_view", "web", {"page": "/blog/shoes"}),
    ("email_click", "email", {"campaign": "post_purchase"}),
    ("purchase", "web", {"order_index": "1"}),
    ("login", "web", {}),
]


@settings(max_examples=20, deadline=None)
@given(rows=feedback(EVENTS))
def test_responses_from_the_stage_tables(store: Store, rows: Sequence[Row]) -> None:
    events = store.load(rows).table
    alone = measured_emotions(events, by=BY, journey=SHOP)
    with StageTables(events, SHOP, facts=True) as tables:
        assert _labelled_responses(events, ["touchpoint_id", "stage_id"], SHOP, tables) is not None
        shared = measured_emotions(events, by=BY, journey=SHOP, stage_tables=tables)
    assert shared == alone


def test_falls_back_where_the_tables_cannot_give_the_responses(store: Store) -> None:
    rows = [
        Row("u", 0, "survey_response", "email", score=4.0, properties={"survey": "csat"}),
        Row("u", 5, "chat_started", "chat", text="Adorei!", properties={"topic": "sizing"}),
        Row("v", 1, "review_submitted", "web", text="Péssimo."),
    ]
    events = store.load(rows).table
    alone = measured_emotions(events, by=BY, journey=SHOP)
    assert alone["touchpoint_id"].group("csat_survey").responses == 1
    early = dt.datetime(2026, 1, 1)
    with StageTables(events, SHOP, as_of=early) as tables:
        # as_of leaves later events out: the responses are not read from the tables
        assert _labelled_responses(events, ["touchpoint_id"], SHOP, tables) is None
        assert measured_emotions(events, by=BY, journey=SHOP, stage_tables=tables) == alone
    with StageTables(events, SHOP) as tables:
        assert _labelled_responses(events, ["touchpoint_id", "channel"], SHOP, tables) is None
        by_channel = measured_emotions(events, by=("channel",), journey=SHOP, stage_tables=tables)
        assert by_channel == measured_emotions(events, by=("channel",), journey=SHOP)
    # A plain table with an event without a time: the tables leave it out, the measure
    # does not.
    plain = events.select(
        "customer_id", "event", "channel", "text", "score", "properties", "idx", "ts"
    ).to_pyarrow()
    review = pc.equal(plain["event"], "review_submitted")
    ts = pc.if_else(review, pa.scalar(None, plain["ts"].type), plain["ts"])
    untimed = ibis.memtable(plain.set_column(plain.schema.get_field_index("ts"), "ts", ts))
    untimed_alone = measured_emotions(untimed, by=BY, journey=SHOP)
    assert untimed_alone["stage_id"].group("loyalty").responses == 1
    with StageTables(untimed, SHOP) as tables:
        assert _labelled_responses(untimed, ["stage_id"], SHOP, tables) is None
        assert measured_emotions(untimed, by=BY, journey=SHOP, stage_tables=tables) == untimed_alone

"""A load reads text values as trimmed text, NULL when empty, skipping the trim where it
cannot change the text (``engine/loading.py``, ``_as_text``): the values stored are the
ones DuckDB's ``nullif(trim(x), '')`` gives, whatever spaces (ASCII or Unicode) or
other characters they start and end with."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jornada.engine import Engine
from jornada.engine.store import ensure_store
from jornada.events.load import ColumnMapping, load_events

# Spaces DuckDB trims (space, no-break, ideographic, em, narrow no-break), characters it
# keeps at the ends (tab, newline), and letters in one and two bytes.
TEXTS = st.none() | st.text(
    alphabet=st.sampled_from([" ", "\u00a0", "\u3000", "\u2003", "\u202f", "\t", "\n", "a", "é"]),
    max_size=4,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(TEXTS, TEXTS), min_size=1, max_size=12))
def test_text_is_stored_as_duckdbs_trim_gives_it(rows: list[tuple[str | None, str | None]]) -> None:
    events, notes = [row[0] for row in rows], [row[1] for row in rows]
    engine = Engine.duckdb()
    ensure_store(engine)
    oracle = engine.sql(
        "SELECT i, nullif(trim(e), ''), nullif(trim(n), '') FROM ("
        "SELECT unnest(range(1, ?)) AS i, unnest(?::VARCHAR[]) AS e, unnest(?::VARCHAR[]) AS n)",
        [len(rows) + 1, events, notes],
    ).fetchall()
    source = pa.table(
        {
            "user": [f"u{i}" for i in range(len(rows))],
            "when": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * len(rows),
            "what": pa.array(events, pa.string()),
            "note": pa.array(notes, pa.string()),
        }
    )
    load_events(engine, source, ColumnMapping(customer="user", time="when", event="what"))
    stored = engine.sql("SELECT seq, event, properties['note'] FROM events ORDER BY seq").fetchall()
    assert stored == [(i, event, note) for i, event, note in oracle if event is not None]
    quarantined = engine.sql('SELECT "row" FROM quarantine ORDER BY "row"').fetchall()
    assert quarantined == [(i,) for i, event, _ in oracle if event is None]

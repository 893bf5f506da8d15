"""Identity resolution on keys whose DuckDB ``hash(kind, value, salt)`` collides under
every salt (found among the 16.5M identifiers of 100M demo events)."""

from __future__ import annotations

from jornada.engine import Engine
from jornada.events.identity import resolve_identities


def test_keys_that_collide_in_duckdbs_combined_hash_stay_apart() -> None:
    engine = Engine.duckdb()
    pairs = [("+52 55 5366 8935", "+52 55 2366 8930"), ("+52 81 8199 5960", "+52 81 3199 5965")]
    for salt in (0, 1, 5):  # the collision this test is about
        for a, b in pairs:
            row = engine.sql(
                "SELECT hash('customer', ?, ?) = hash('customer', ?, ?)", [a, salt, b, salt]
            ).fetchone()
            assert row == (True,)
    engine.sql("CREATE TABLE identifiers (event_id VARCHAR, kind VARCHAR, value VARCHAR)")
    keys = [key for pair in pairs for key in pair]
    engine.duck.executemany(
        "INSERT INTO identifiers VALUES (?, 'customer', ?)",
        [(f"e{i}", key) for i, key in enumerate(keys)],
    )
    assert resolve_identities(engine).customers == len(keys)
    row = engine.sql("SELECT count(DISTINCT customer_id) FROM event_customers").fetchone()
    assert row == (len(keys),)

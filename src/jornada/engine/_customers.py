"""The ``customers`` table of the event store, rebuilt from ``events`` in ranges of
customers so that its memory stays bounded however many events there are.

In one statement, 100M events ran out of engine memory under a 3 GB limit: DuckDB spills
plain aggregates to disk, but not list aggregates (the identifiers by kind) nor
``count(DISTINCT ...)`` (the sessions). Here each range of ``customer_no`` (about
:func:`~jornada.engine.store.range_rows_for` events, as the ranged ``events`` build)
is one statement appended in ``customer_id`` order, and the sessions are counted as
their first events (``session_idx = 0``, one per customer and session id), a plain
aggregate that spills.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from jornada.engine.backend import Engine
from jornada.engine.kept import replace_table

__all__ = [
    "build_customers",
    "changed_identities_query",
    "customers_query",
    "materialise_customers",
]

_COLUMNS = """
    customer_id VARCHAR,
    first_seen TIMESTAMP,
    last_seen TIMESTAMP,
    events BIGINT,
    sessions BIGINT,
    identifiers MAP(VARCHAR, VARCHAR[]),
    attributes MAP(VARCHAR, VARCHAR)
"""
"""The columns of ``customers`` (as the one-statement build made them)."""


def materialise_customers(engine: Engine, *, range_rows: int | None = None) -> None:
    """Rebuild ``customers``: one row per resolved customer of ``events`` with first/last
    seen, counts of events and distinct sessions, every identifier by kind (values
    sorted, kinds in order) and the attributes of their profile (customer file) if any;
    rows in ``customer_id`` order.

    Built in ranges of ``customer_no`` of about ``range_rows`` events each (by default
    :func:`~jornada.engine.store.range_rows_for` the engine's memory limit); an
    ``events`` table without ``customer_no`` (a store older than version 3, rebuilt
    next) in one range.

    >>> from jornada.engine.store import ensure_store, materialise_events
    >>> engine = Engine.duckdb(); ensure_store(engine)
    >>> _ = engine.sql(
    ...     "INSERT INTO events_raw (event_id, customer_key, ts, event, source_session,"
    ...     " source, load_id, seq) SELECT 'e' || i, c, TIMESTAMP '2026-01-01'"
    ...     " + INTERVAL (i) MINUTE, 'view', s, 'f', 1, i FROM (VALUES (0, 'a', 's1'),"
    ...     " (1, 'a', 's2'), (2, 'a', 's1'), (3, 'b', NULL)) AS t(i, c, s)")
    >>> materialise_events(engine, session_gap_seconds=1800)
    >>> materialise_customers(engine, range_rows=1)
    >>> engine.sql("SELECT customer_id, events, sessions FROM customers").fetchall()
    [('a', 3, 2), ('b', 1, 1)]
    """
    build_customers(engine, source="events", range_rows=range_rows)
    replace_table(engine, "customers", "_rebuild_customers")


def build_customers(
    engine: Engine,
    *,
    source: str,
    range_rows: int | None = None,
    after: int | None = None,
    on_range: Callable[[int], None] | None = None,
) -> None:
    """Build the new ``customers`` from the events table ``source`` as
    ``_rebuild_customers`` (see :func:`materialise_customers`).

    ``after``: the table holds the customers up to this ``customer_no`` already (a
    rebuild stopped half-way), the ranges start past it. ``on_range``: each range is
    appended in a transaction of its own, in which ``on_range`` is called with the
    range's last ``customer_no`` (to record it)."""
    if range_rows is None:
        # Imported here: store re-exports this module's functions, so it imports it first.
        from jornada.engine.store import range_rows_for

        range_rows = range_rows_for(engine)
    columns = {
        str(name)
        for (name,) in engine.sql(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [source]
        ).fetchall()
    }
    if after is None:
        engine.sql(f"CREATE OR REPLACE TABLE _rebuild_customers ({_COLUMNS})")
    if "customer_no" not in columns:
        engine.sql(
            "INSERT INTO _rebuild_customers "
            + _range_query(
                engine, source=source, key="customer_id", where="TRUE", starts_only=False
            )
        )
        return
    for low, high in _ranges(engine, source, range_rows, after or 0):
        with engine.transaction() if on_range is not None else contextlib.nullcontext():
            engine.sql(
                "INSERT INTO _rebuild_customers "
                + _range_query(
                    engine,
                    source=source,
                    key="customer_no",
                    where=f"customer_no BETWEEN {int(low)} AND {int(high)}",
                    starts_only="session_start" in columns,  # per session id (v4)
                    ids=_id_bounds(engine, source, low, high),
                )
            )
            if on_range is not None:
                on_range(high)


def _ranges(engine: Engine, source: str, range_rows: int, after: int) -> list[tuple[int, int]]:
    """Consecutive ranges ``(low, high)`` of the ``customer_no`` past ``after`` of about
    ``range_rows`` events each (a customer is never split)."""
    found = engine.sql(
        f"""
        SELECT min(customer_no), max(customer_no)
        FROM (
            SELECT customer_no, coalesce(sum(n) OVER (
                ORDER BY customer_no ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ), 0) // {max(1, int(range_rows))} AS part
            FROM (
                SELECT customer_no, count(*) AS n FROM {source}
                WHERE customer_no > {int(after)} GROUP BY customer_no
            )
        )
        GROUP BY part ORDER BY part
        """
    ).fetchall()
    return [(int(low), int(high)) for low, high in found]


def _id_bounds(engine: Engine, source: str, low: int, high: int) -> str:
    """The identity map's customers of the range ``low``..``high`` as a condition on
    ``m.customer_id``: ``customer_no`` numbers customers in ``customer_id`` order, so
    they are the ids between those of ``low`` and ``high`` (a filter on the scan, no
    join). Literal bounds (customer ids are jornada's, quoted as SQL strings) so the
    filter reaches the identity map's scan."""
    found = dict(
        engine.sql(
            f"SELECT customer_no, any_value(customer_id) FROM {source} "
            "WHERE customer_no IN (?, ?) GROUP BY customer_no",
            [low, high],
        ).fetchall()
    )
    return f"m.customer_id BETWEEN {_literal(str(found[low]))} AND {_literal(str(found[high]))}"


def customers_query(engine: Engine, *, source: str, customers: str) -> str:
    """The rows of ``customers`` for every event of the table ``source`` (with the
    store's facts), whose customers are those of the table ``customers``
    (``customer_id``): the few customers a load touched (``rebuild_derived``).

    >>> from jornada.engine.store import ensure_store, materialise_events
    >>> engine = Engine.duckdb(); ensure_store(engine)
    >>> _ = engine.sql(
    ...     "INSERT INTO events_raw (event_id, customer_key, ts, event, source, load_id, seq)"
    ...     " VALUES ('e1', 'a', TIMESTAMP '2026-01-01', 'view', 'f', 1, 1)")
    >>> materialise_events(engine, session_gap_seconds=1800)
    >>> _ = engine.sql("CREATE TABLE touched AS SELECT 'a' AS customer_id")
    >>> engine.sql(customers_query(engine, source="events", customers="touched")).fetchall()
    [('a', datetime.datetime(2026, 1, 1, 0, 0), datetime.datetime(2026, 1, 1, 0, 0), 1, 1, None, None)]
    """
    return _range_query(
        engine,
        source=source,
        key="customer_no",
        where="TRUE",
        starts_only=True,
        ids=f"m.customer_id IN (SELECT customer_id FROM {customers})",
    )


def _range_query(
    engine: Engine,
    *,
    source: str,
    key: str,
    where: str,
    starts_only: bool,
    ids: str = "TRUE",
) -> str:
    """The rows of ``customers`` for the events matching ``where``, grouped by ``key``.

    ``starts_only``: the sessions are counted as the events that start one
    (``session_idx = 0``: one per customer and session id, decision 0006); otherwise as
    the distinct session ids of each customer. ``ids``: a condition on the identity map's
    ``m.customer_id`` that holds for the customers of these events (it narrows what the
    identifiers and attributes are made of)."""
    if engine.has_table("identity_map"):
        identified, attributed = _identity_parts(ids)
        identifiers = f"""
        LEFT JOIN ({identified}) AS i USING (customer_id)
        LEFT JOIN ({attributed}) AS a USING (customer_id)
        """
        columns = "i.identifiers, a.attributes"
    else:
        identifiers = ""
        columns = "NULL, NULL"
    # A session id counts once per customer: its one first event, or the groups of
    # (customer, session id) of a plain aggregate, which spills (a distinct aggregate
    # does not). NULLs are not counted, as count(DISTINCT ...) does not count them.
    if starts_only:
        sessions = f"""
            SELECT {key} AS k, count(session_id) AS sessions FROM {source}
            WHERE {where} AND session_idx = 0 GROUP BY k
        """
    else:
        sessions = f"""
            SELECT k, count(session_id) AS sessions
            FROM (SELECT DISTINCT {key} AS k, session_id FROM {source} WHERE {where})
            GROUP BY k
        """
    return f"""
        SELECT e.customer_id, e.first_seen, e.last_seen, e.events,
            coalesce(s.sessions, 0) AS sessions, {columns}
        FROM (
            SELECT {key} AS k, any_value(customer_id) AS customer_id, min(ts) AS first_seen,
                max(ts) AS last_seen, count(*) AS events
            FROM {source} WHERE {where} GROUP BY {key}
        ) AS e
        LEFT JOIN ({sessions}) AS s USING (k)
        {identifiers}
        ORDER BY e.customer_id
        """


def _identity_parts(ids: str) -> tuple[str, str]:
    """The queries of the customers' ``identifiers`` and of their profile's
    ``attributes`` (each with ``customer_id``), for the identity map's customers where
    the condition ``ids`` (on ``m.customer_id``) holds."""
    # Lists sorted after aggregating: an ordered aggregate (``list(... ORDER BY ...)``)
    # cost three times as much CPU. Kinds are unique per customer, so sorting the
    # entries orders the map by kind (it was in no particular order before).
    identified = f"""
        SELECT customer_id,
            map_from_entries(list_sort(list({{'k': kind, 'v': values}}))) AS identifiers
        FROM (SELECT m.customer_id, m.kind,
                  list_sort(list(m.value), 'ASC', 'NULLS LAST') AS values
              FROM identity_map AS m WHERE {ids} GROUP BY ALL)
        GROUP BY customer_id
        """
    attributed = f"""
        SELECT m.customer_id, arg_min(c.attributes, c.profile_id) AS attributes
        FROM profiles AS p
        JOIN identity_map AS m ON m.kind = p.kind AND m.value = p.value
        JOIN customer_profiles AS c USING (profile_id)
        WHERE {ids}
        GROUP BY m.customer_id
        """
    return identified, attributed


def changed_identities_query(engine: Engine) -> str | None:
    """The ``customer_id`` of the customers whose row of ``customers`` no longer has the
    identifiers or profile attributes the identity map gives them now (identity
    resolution merged, split or flagged some of theirs, or a customer file changed):
    ``customers``' other columns are made of their events, these two of the map. None
    without an identity map.

    The identifiers are compared as (customer, kind, value) rows, the stored maps
    unnested, in a join (which spills), not as lists aggregated per customer for every
    customer (which do not: at 100M events, 16.5M identifiers)."""
    if not engine.has_table("identity_map"):
        return None
    _, attributed = _identity_parts("TRUE")
    return f"""
        SELECT coalesce(s.customer_id, m.customer_id) AS customer_id
        FROM (
            SELECT customer_id, kind, unnest(v) AS value FROM (
                SELECT customer_id, unnest(map_keys(identifiers)) AS kind,
                    unnest(map_values(identifiers)) AS v
                FROM customers
            )
        ) AS s
        FULL OUTER JOIN identity_map AS m
            ON s.customer_id = m.customer_id AND s.kind = m.kind AND s.value = m.value
        WHERE s.customer_id IS NULL OR m.customer_id IS NULL
        UNION ALL
        SELECT coalesce(c.customer_id, a.customer_id)
        FROM (SELECT customer_id, attributes FROM customers WHERE attributes IS NOT NULL) AS c
        FULL OUTER JOIN ({attributed}) AS a USING (customer_id)
        WHERE a.attributes IS DISTINCT FROM c.attributes
        """


def _literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"

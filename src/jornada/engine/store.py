"""The workspace's event store in DuckDB: its tables, and the ``events`` table rebuilt
from them after each load (resolved customers, sessions, per-event facts).

Per-event facts are computed once here so analyses do not sort again: ``idx`` (position
of the event in its customer's path, from 0), ``next_event``/``next_ts`` (the next event of
the same customer), the facts of the event's session (a customer's events sharing one
``session_id``, even when other sessions' events come between them: decision 0006)
``session_idx`` (position within the session, from 0), ``session_last`` (the session's
last event), ``session_start`` (the ``idx`` of the session's first event: with the
customer, an integer key of the session) and ``session_next_ts`` (the time of the
session's next event, null on its last), and
``first_pair`` (the pair ``(event, next_event)`` occurs here for the first time in the
customer's path; false for the last event). Besides the facts of the path,
``customer_no`` is a small integer per customer (1, 2, ... in ``customer_id`` order):
grouping and joining on it is cheaper than on long text ids such as e-mails. It is an
internal key, renumbered by every rebuild; results name customers by ``customer_id``.
:data:`FACTS` lists them all; a store built before a fact existed is rebuilt when its
workspace opens (:func:`store_outdated`).

Each event's payload (channel, value, cost, text, score, properties, identifiers) is held
once at rest, in ``events``: a load writes the keys into ``events_raw`` and the payload
into ``events_staged``, and the rebuild moves it over (docs/decisions/0004-narrow-loads.md).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from jornada.engine._customers import (
    build_customers,
    changed_identities_query,
    customers_query,
    materialise_customers,
)
from jornada.engine.backend import Engine
from jornada.engine.kept import forget_kept, replace_table

__all__ = [
    "CUSTOMER_KEYS_FROM",
    "FACTS",
    "STORE_VERSION",
    "data_version",
    "ensure_store",
    "mark_rebuild_pending",
    "materialise_customers",
    "materialise_events",
    "rebuild_derived",
    "rebuild_pending",
    "store_outdated",
]

STORE_VERSION = 4
"""2: the facts ``session_last`` and ``first_pair``; 3: ``customer_no``; 4: the session
facts per session id, not per stretch (``session_idx``, ``session_last``), and
``session_start``, ``session_next_ts`` (decision 0006)."""

CUSTOMER_KEYS_FROM = "customer_keys_from_load"
"""The ``store_meta`` key of the first load that wrote no ``customer`` rows into
``identifiers``: from it on, an event's customer key is its ``events_raw.customer_key``
(identity resolution reads it there, normalised as the rows were). Loads before it
(stores written before this change) keep their rows in ``identifiers``."""

FACTS = (
    "idx",
    "next_event",
    "next_ts",
    "session_idx",
    "session_last",
    "session_start",
    "session_next_ts",
    "first_pair",
    "customer_no",
)
"""The per-event facts of the ``events`` table (see the module)."""

_TABLES = (
    """CREATE TABLE IF NOT EXISTS events_raw (
        event_id VARCHAR NOT NULL,
        customer_key VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,
        event VARCHAR NOT NULL,
        channel VARCHAR,
        source_session VARCHAR,
        value DOUBLE,
        cost DOUBLE,
        text VARCHAR,
        score DOUBLE,
        properties MAP(VARCHAR, VARCHAR),
        identifiers MAP(VARCHAR, VARCHAR),
        source VARCHAR NOT NULL,
        load_id BIGINT NOT NULL,
        seq BIGINT NOT NULL
    )""",
    # The payload of loaded events until the rebuild moves it into ``events`` (a load
    # writes ``events_raw``'s payload columns as NULL; see docs/decisions/0004).
    """CREATE TABLE IF NOT EXISTS events_staged (
        seq BIGINT NOT NULL,
        channel VARCHAR,
        value DOUBLE,
        cost DOUBLE,
        text VARCHAR,
        score DOUBLE,
        properties MAP(VARCHAR, VARCHAR),
        identifiers MAP(VARCHAR, VARCHAR)
    )""",
    """CREATE TABLE IF NOT EXISTS identifiers (
        event_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        value VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        load_id BIGINT NOT NULL,
        source VARCHAR NOT NULL,
        "row" BIGINT,
        "column" VARCHAR,
        reason VARCHAR NOT NULL,
        raw VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS loads (
        load_id BIGINT PRIMARY KEY,
        source VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL,
        loaded_at TIMESTAMP NOT NULL,
        rows_read BIGINT NOT NULL,
        loaded BIGINT NOT NULL,
        duplicates BIGINT NOT NULL,
        quarantined BIGINT NOT NULL,
        mapping VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS customer_profiles (
        profile_id VARCHAR NOT NULL,
        attributes MAP(VARCHAR, VARCHAR),
        source VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS profiles (
        profile_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        source VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS store_meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL
    )""",
)


def ensure_store(engine: Engine) -> None:
    """Create the store's tables when missing (an empty ``events`` table included)."""
    # Timestamps are UTC everywhere; the session time zone makes TIMESTAMPTZ casts agree.
    engine.sql("SET TimeZone = 'UTC'")
    for statement in _TABLES:
        engine.sql(statement)
    if not engine.has_table("events"):
        materialise_events(engine, session_gap_seconds=1800)
        # Only a store made here is of this version: stamping an existing store that has
        # no version row would hide its missing facts from store_outdated.
        engine.sql(
            "INSERT INTO store_meta VALUES ('store_version', ?) ON CONFLICT DO NOTHING",
            [str(STORE_VERSION)],
        )
    if not engine.has_table("customers"):
        materialise_customers(engine)


def store_outdated(engine: Engine) -> bool:
    """True when the store is of an older version than :data:`STORE_VERSION` (its
    ``store_version`` row says so, or, in a store without that row, ``events`` lacks a
    fact of :data:`FACTS`): :func:`rebuild_derived` brings it up to date, the raw rows
    being all it needs.

    >>> engine = Engine.duckdb(); ensure_store(engine); store_outdated(engine)
    False
    >>> _ = engine.sql("UPDATE store_meta SET value = '2' WHERE key = 'store_version'")
    >>> store_outdated(engine)
    True
    """
    if not engine.has_table("events"):
        return False
    row = engine.sql("SELECT value FROM store_meta WHERE key = 'store_version'").fetchone()
    if row is not None and str(row[0]).isdigit():
        return int(row[0]) < STORE_VERSION
    return not set(FACTS) <= set(engine.table("events").columns)


def mark_rebuild_pending(engine: Engine) -> None:
    """Record, with the load that needs it, that the derived tables must be rebuilt (a
    half-done rebuild's finished steps are of the events before this load: forgotten)."""
    # Not deleted and inserted again in one transaction: DuckDB may refuse the key then.
    engine.sql(
        "DELETE FROM store_meta WHERE starts_with(key, 'rebuild_') AND key <> 'rebuild_pending'"
    )
    engine.sql("INSERT OR REPLACE INTO store_meta VALUES ('rebuild_pending', 'yes')")


def rebuild_pending(engine: Engine) -> bool:
    row = engine.sql("SELECT count(*) FROM store_meta WHERE key = 'rebuild_pending'").fetchone()
    return bool(row and row[0])


def _step_done(engine: Engine, step: str) -> str | None:
    """What the rebuild's finished step ``step`` recorded (None: not done)."""
    row = engine.sql("SELECT value FROM store_meta WHERE key = ?", [f"rebuild_{step}"]).fetchone()
    return None if row is None else str(row[0])


def _record_step(engine: Engine, step: str, value: str) -> None:
    engine.sql("INSERT OR REPLACE INTO store_meta VALUES (?, ?)", [f"rebuild_{step}", value])


def rebuild_derived(
    engine: Engine,
    *,
    resolve: Callable[[Engine], None] | None,
    session_gap_seconds: int,
    range_rows: int | None = None,
    incremental: bool = True,
) -> None:
    """Resolve identities, then rebuild ``events`` and ``customers`` and clear the mark.

    When the customers whose events or identities changed (those the loads since the
    last rebuild added events to, and those whose identifiers identity resolution moved)
    hold at most :data:`TOUCHED_SHARE` of the events, only their rows are rebuilt, in place
    (:func:`_rebuild_touched`, unless ``incremental`` is False): the same tables as a
    whole rebuild, which an append of a few events to 10M paid in full (50 s).

    Runs after a load has committed its raw rows (identity resolution inside the load's
    transaction was two orders of magnitude slower in DuckDB 1.5: its temporary tables
    lose their statistics there). Each step commits on its own and is recorded in
    ``store_meta`` (``rebuild_...`` keys): the identities, the keys, each range of
    ``events`` into ``_rebuild_events``, each range of ``customers`` into
    ``_rebuild_customers``; the last step replaces ``events`` and ``customers`` together
    and clears the mark. A process killed or failing before the end leaves the mark and
    its finished steps, and the next open of the workspace goes on from there (at 100M
    events a range takes minutes, the whole rebuild an hour); analyses never see a half,
    since the tables they read are replaced in that one last transaction. ``range_rows``
    as :func:`materialise_events` takes it.
    """
    gap = int(session_gap_seconds)
    if _step_done(engine, "gap") not in (None, str(gap)):  # settings changed meanwhile
        engine.sql(
            "DELETE FROM store_meta WHERE starts_with(key, 'rebuild_') "
            "AND key NOT IN ('rebuild_pending', 'rebuild_resolved')"
        )
    if resolve is not None and _step_done(engine, "resolved") is None:
        resolve(engine)
        _record_step(engine, "resolved", "yes")
    _record_step(engine, "gap", str(gap))
    if range_rows is None:
        range_rows = range_rows_for(engine)
    if (
        incremental
        and _step_done(engine, "keys") is None
        and _rebuild_touched(engine, gap=gap, most=range_rows)
    ):
        return
    _build_events(engine, gap=gap, range_rows=range_rows, steps=True)
    after = _step_done(engine, "customers")
    build_customers(
        engine,
        source="_rebuild_events",
        range_rows=range_rows,
        after=int(after) if after is not None else None,
        on_range=lambda high: _record_step(engine, "customers", str(high)),
    )
    with engine.transaction():
        for table in ("events", "customers"):
            replace_table(engine, table, f"_rebuild_{table}")
        engine.sql("DROP TABLE IF EXISTS _rebuild_keys")
        engine.sql("DROP TABLE IF EXISTS _rebuild_numbers")
        _absorb_staged(engine)
        engine.sql(
            "INSERT OR REPLACE INTO store_meta VALUES ('store_version', ?)", [str(STORE_VERSION)]
        )
        engine.sql("INSERT OR REPLACE INTO store_meta VALUES ('events_gap', ?)", [str(gap)])


def _absorb_staged(engine: Engine) -> None:
    """The end of a rebuild, in its last transaction: the staged payload now lives in
    ``events``, so it leaves staging, the store remembers which loads ``events`` holds
    the payload of (the next rebuild reads it there), and the rebuild's marks go."""
    engine.sql("DELETE FROM events_staged")
    engine.sql(
        "INSERT OR REPLACE INTO store_meta "
        "SELECT 'absorbed_load', CAST(max(load_id) AS VARCHAR) FROM events_raw "
        "HAVING count(*) > 0"
    )
    engine.sql("DELETE FROM store_meta WHERE starts_with(key, 'rebuild_')")


TOUCHED_SHARE = 0.25
"""Past this share of the events held by the customers a rebuild must redo, it rebuilds
everything (:func:`rebuild_derived`): rebuilding those customers in place costs more per
event (the deletes, the renumbering) than the whole table in one sorted pass."""


def _rebuild_touched(engine: Engine, *, gap: int, most: int) -> bool:
    """Rebuild, in place, the rows of ``events`` and ``customers`` of the customers whose
    events changed since the last rebuild; False (nothing done) when this cannot be, or
    is not worth it: then the whole tables are rebuilt.

    The touched customers are, by id, those of the events loaded since (the loads past
    the ``absorbed_load`` mark, their payload in ``events_staged``) and those whose
    identifiers or profile attributes changed (:func:`changed_identities_query`): a
    merge, a split or a newly flagged identifier moves identifiers between customers,
    so a stored event that changes customer has both its old and its new one there.
    Every event of a touched customer, old or new, is rebuilt from the raw rows as the
    whole rebuild does
    (:func:`_gather_range` and :func:`_events_query` on those customers alone); no other
    event's facts can change, since facts are per customer. The others keep their rows;
    only their ``customer_no`` is renumbered when new customers come in between (the
    numbers follow ``customer_id``). So the tables are equal to a whole rebuild's, row
    for row (tests/engine/test_rebuild_touched.py), in another physical order.

    Everything is computed into work tables first; one transaction then replaces the
    rows: a process killed before leaves the store as it was, with the rebuild mark.
    More than ``most`` touched events (the whole rebuild's range) are not rebuilt here:
    in one statement, they would take more memory than a range.
    """
    absorbed = _absorbed_load(engine)
    stored_gap = engine.sql("SELECT value FROM store_meta WHERE key = 'events_gap'").fetchone()
    if not absorbed or stored_gap is None or stored_gap[0] != str(gap) or store_outdated(engine):
        return False
    # Rows inserted into events_raw whole (stores before decision 0004) hold their own
    # payload: only the whole rebuild reads it there.
    if _raw_payload_held(engine, after=absorbed):
        return False

    # The customers of the new events, and those whose identifiers or profile attributes
    # changed (identity resolution merged, split or flagged theirs; a customer file). An
    # event changes customer only when the identity map moves one of its identifiers, so
    # its old customer and its new one are both among the latter.
    changed = changed_identities_query(engine)
    engine.sql(
        f"""
        CREATE OR REPLACE TEMP TABLE _touched AS
        SELECT DISTINCT customer_id FROM (
            SELECT customer_id FROM ({_keys_query(engine, f"r.load_id > {int(absorbed)}")})
            {f"UNION ALL {changed}" if changed else ""}
        )
        """
    )
    # Every event of those customers, before and after: their stored events and the new.
    engine.sql(
        "CREATE OR REPLACE TABLE _rebuild_keys AS "
        + _keys_query(
            engine,
            f"r.load_id > {int(absorbed)} OR r.seq IN ("
            "SELECT seq FROM events SEMI JOIN _touched USING (customer_id))",
        )
    )
    counted = engine.sql(
        "SELECT (SELECT count(*) FROM _rebuild_keys), "
        "(SELECT count(*) FROM _rebuild_keys SEMI JOIN _touched USING (customer_id)), "
        "(SELECT count(*) FROM events_raw)"
    ).fetchone()
    assert counted is not None
    rows, touched_rows, total = (int(value) for value in counted)
    # Each of those events' customers now is touched too (see above): were one not, its
    # other events would be missing here. Never seen; the whole rebuild is the answer.
    # One range's worth at most (``most`` events): the ranges bound the memory.
    if rows != touched_rows or rows > min(TOUCHED_SHARE * total, most):
        for table in ("_touched", "_rebuild_keys"):
            engine.sql(f"DROP TABLE IF EXISTS {table}")
        return False
    # Every customer's number, in customer_id order as the whole rebuild numbers them:
    # the untouched customers' and the touched ones' that still have events.
    engine.sql(
        """
        CREATE OR REPLACE TEMP TABLE _touched_numbers AS
        SELECT customer_id,
            CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) AS customer_no
        FROM (
            SELECT DISTINCT customer_id FROM events ANTI JOIN _touched USING (customer_id)
            UNION ALL
            SELECT DISTINCT customer_id FROM _rebuild_keys
        )
        """
    )
    # The touched customers' numbers and keys: the tables _gather_range reads, one range.
    engine.sql(
        "CREATE OR REPLACE TABLE _rebuild_numbers AS SELECT customer_id, customer_no, 0 AS part "
        "FROM _touched_numbers SEMI JOIN _touched USING (customer_id)"
    )
    payload = "seq, " + ", ".join(_PAYLOAD)
    held = [
        f"SELECT {payload} FROM events_staged",
        f"SELECT {payload} FROM events SEMI JOIN _touched USING (customer_id)",
    ]
    _gather_range(engine, part=0, held=held, carried={c: f"p.{c}" for c in _PAYLOAD})
    engine.sql("CREATE OR REPLACE TABLE _rebuild_events AS " + _range_events_query(0, gap=gap))
    _sessions_by_id(engine)
    engine.sql(
        "CREATE OR REPLACE TEMP TABLE _touched_customers AS "
        + customers_query(engine, source="_rebuild_events", customers="_touched")
    )
    with engine.transaction():
        forget_kept(engine)
        engine.sql("DELETE FROM events WHERE customer_id IN (SELECT customer_id FROM _touched)")
        engine.sql(
            "UPDATE events SET customer_no = n.customer_no FROM _touched_numbers AS n "
            "WHERE events.customer_id = n.customer_id AND events.customer_no <> n.customer_no"
        )
        engine.sql("INSERT INTO events SELECT * FROM _rebuild_events")
        engine.sql("DELETE FROM customers WHERE customer_id IN (SELECT customer_id FROM _touched)")
        engine.sql("INSERT INTO customers SELECT * FROM _touched_customers")
        for table in ("_rebuild_events", "_rebuild_range", "_rebuild_keys", "_rebuild_numbers"):
            engine.sql(f"DROP TABLE IF EXISTS {table}")
        _absorb_staged(engine)
    for table in ("_touched", "_touched_numbers", "_touched_customers"):
        engine.sql(f"DROP TABLE IF EXISTS {table}")
    return True


def data_version(engine: Engine) -> int:
    """A number that changes whenever the stored events change (the last load id)."""
    row = engine.sql("SELECT coalesce(max(load_id), 0) FROM loads").fetchone()
    return int(row[0]) if row else 0


def _absorbed_load(engine: Engine) -> int:
    """The last load whose events' payload lives in ``events`` (0: none)."""
    row = engine.sql("SELECT value FROM store_meta WHERE key = 'absorbed_load'").fetchone()
    return int(row[0]) if row is not None and engine.has_table("events") else 0


RANGE_ROWS = 10_000_000
"""Past this many events, :func:`materialise_events` builds ``events`` in ranges of
customers of about this many events each (see there); fewer under a small memory limit
(:func:`range_rows_for`)."""

_BYTES_PER_RANGE_ROW = 400
"""Engine memory a range's event takes: ranges of 12.5M events peaked at 6.3 GB RSS under
a 6 GB limit; 10M events in one statement ran out of memory under 400 MB."""


def range_rows_for(engine: Engine) -> int:
    """The events per range of :func:`materialise_events` under the engine's memory
    limit: :data:`RANGE_ROWS`, or fewer when the limit is below about 4 GB.

    >>> engine = Engine.duckdb(memory_limit="400MB"); range_rows_for(engine)
    999817
    >>> range_rows_for(Engine.duckdb(memory_limit="16GB"))
    10000000
    """
    limit = engine.memory_limit_bytes()
    if limit is None:  # no limit, or a form not known here
        return RANGE_ROWS
    return max(100_000, min(RANGE_ROWS, int(limit) // _BYTES_PER_RANGE_ROW))


def materialise_events(
    engine: Engine, *, session_gap_seconds: int, range_rows: int | None = None
) -> None:
    """Rebuild ``events`` from ``events_raw``: resolved customer, session, facts, sorted.

    The keys of every event are in ``events_raw``; its payload (channel, value, cost,
    text, score, properties, identifiers) is in ``events_staged`` (loaded, not yet
    rebuilt), in the current ``events`` (loads up to the ``absorbed_load`` mark) or else
    in ``events_raw``'s own columns (rows inserted there whole): each row takes it from
    the one place that holds it (see docs/decisions/0004-narrow-loads.md).

    A session is the source's own session id when it has one; otherwise a new session
    starts at a customer's first event and after every gap longer than
    ``session_gap_seconds`` (a gap exactly equal to it stays in the session). The session
    facts are per session id: a source id that comes back after another session's events
    is one session (decision 0006).

    Past ``range_rows`` events (by default :func:`range_rows_for` the engine's memory
    limit) the table is built in ranges of customers (in
    ``customer_id`` order, about ``range_rows`` events each): the same rows in the same
    order, but each range's windows, joins and sort spill a range's worth. In one
    statement, 100M events spilled past 23 GB under a 6 GB memory limit; in ranges of
    12.5M, at most 2.3 GB each (docs/benchmarks.md). A range's rows are first gathered
    from the whole tables into a table of their own, then its facts computed from that
    alone (see :func:`_gather_range`).

    >>> engine = Engine.duckdb(); ensure_store(engine)
    >>> _ = engine.sql(
    ...     "INSERT INTO events_raw (event_id, customer_key, ts, event, source, load_id, seq)"
    ...     " SELECT 'e' || i, 'c', TIMESTAMP '2026-01-01' + INTERVAL (i) MINUTE, e, 'f', 1, i"
    ...     " FROM (VALUES (0, 'a'), (1, 'b'), (2, 'a'), (3, 'b'), (90, 'b')) AS t(i, e)")
    >>> materialise_events(engine, session_gap_seconds=1800)
    >>> engine.sql("SELECT event, next_event, session_idx, session_last, first_pair"
    ...            " FROM events ORDER BY idx").fetchall()  # doctest: +NORMALIZE_WHITESPACE
    [('a', 'b', 0, False, True), ('b', 'a', 1, False, True), ('a', 'b', 2, False, False),
     ('b', 'b', 3, True, True), ('b', None, 0, True, False)]
    """
    if range_rows is None:
        range_rows = range_rows_for(engine)
    _build_events(engine, gap=int(session_gap_seconds), range_rows=range_rows, steps=False)
    replace_table(engine, "events", "_rebuild_events")
    engine.sql("DROP TABLE IF EXISTS _rebuild_keys")
    engine.sql("DROP TABLE IF EXISTS _rebuild_numbers")


_PAYLOAD = ("channel", "value", "cost", "text", "score", "properties", "identifiers")


def _build_events(engine: Engine, *, gap: int, range_rows: int, steps: bool) -> None:
    """Build the new ``events`` as ``_rebuild_events`` (see :func:`materialise_events`).

    ``steps``: each step in its own transaction, recorded in ``store_meta``, and the
    steps already recorded skipped (:func:`rebuild_derived`)."""

    def step() -> contextlib.AbstractContextManager[None]:
        return engine.transaction() if steps else contextlib.nullcontext()

    def record(name: str, value: str) -> None:
        if steps:
            _record_step(engine, name, value)

    if steps and _step_done(engine, "events") is not None:
        return
    payload = "seq, " + ", ".join(_PAYLOAD)
    held = [f"SELECT {payload} FROM events_staged"]
    absorbed = _absorbed_load(engine)
    if absorbed:
        held.append(f"SELECT {payload} FROM events WHERE load_id <= {absorbed}")
    # Rows inserted into ``events_raw`` whole hold their own payload; a store whose raw
    # rows hold none (every load since decision 0004) reads the payload from ``p`` alone,
    # so the raw rows' columns (all NULL) are not carried through the joins.
    own = _raw_payload_held(engine)
    carried = {
        column: f"CASE WHEN p.seq IS NULL THEN r.{column} ELSE p.{column} END AS {column}"
        if own
        else f"p.{column}"
        for column in _PAYLOAD
    }
    customer, resolution = _resolved_customer(engine)
    # Numbered over the few customers, not sorted over every event.
    numbered = (
        "SELECT customer_id, CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) "
        "AS customer_no"
    )
    total_row = engine.sql("SELECT count(*) FROM events_raw").fetchone()
    total = int(total_row[0]) if total_row is not None else 0
    if not (steps and _step_done(engine, "keys") is not None) and total <= range_rows:
        keys = _keys_query(engine)
        with step():
            engine.sql(
                "CREATE OR REPLACE TABLE _rebuild_events AS "
                + _events_query(
                    ctes=f"""keys AS ({keys}),
                    numbers AS ({numbered} FROM (SELECT DISTINCT customer_id FROM keys)),
                    numbered AS (
                        SELECT k.raw_row, n.customer_no, k.ts, k.seq, k.event,
                            k.source_session
                        FROM keys AS k JOIN numbers AS n ON n.customer_id = k.customer_id
                    )""",
                    rows="events_raw",
                    columns=carried,
                    payload=" UNION ALL ".join(held),
                    gap=gap,
                )
            )
            _sessions_by_id(engine)
            record("events", "done")
        return
    # In ranges: the keys and the customers' numbers and ranges once, then per range
    # its rows gathered into ``_rebuild_range`` and ``events``' rows computed from them
    # alone, appended to a new table that replaces ``events`` at the end (the payload of
    # absorbed loads is read from the old one until then).
    if not (steps and _step_done(engine, "keys") is not None):
        with step():
            _range_keys(
                engine,
                customer=customer,
                has_resolution=bool(resolution),
                buckets=max(1, -(-total // (2 * range_rows))),
            )
            engine.sql(
                f"""
                CREATE OR REPLACE TABLE _rebuild_numbers AS
                SELECT customer_id, customer_no, before // {int(range_rows)} AS part
                FROM (
                    {numbered}, coalesce(sum(n) OVER (
                        ORDER BY customer_id
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                    ), 0) AS before
                    FROM (SELECT customer_id, count(*) AS n FROM _rebuild_keys GROUP BY ALL)
                )
                """
            )
            engine.sql("DROP TABLE IF EXISTS _rebuild_events")
            record("keys", "done")
    parts = [
        int(part)
        for (part,) in engine.sql(
            "SELECT DISTINCT part FROM _rebuild_numbers ORDER BY part"
        ).fetchall()
    ]
    done = int(_step_done(engine, "events_parts") or 0) if steps else 0
    for i, part in enumerate(parts):
        if i < done:
            continue
        with step():
            _gather_range(engine, part=part, held=held, carried=carried)
            start = "CREATE TABLE _rebuild_events AS " if i == 0 else "INSERT INTO _rebuild_events "
            engine.sql(start + _range_events_query(part, gap=gap))
            engine.sql("DROP TABLE _rebuild_range")
            record("events_parts", str(i + 1))
    with step():
        _sessions_by_id(engine)
        record("events", "done")


def _resolved_customer(engine: Engine) -> tuple[str, str]:
    """An event's customer now, as SQL over ``events_raw AS r``, and the join it needs:
    its resolved customer (``event_customers``), else (no identity resolution, or an
    event it left out) its own key."""
    if engine.has_table("event_customers"):
        return (
            "coalesce(c.customer_id, r.customer_key)",
            "LEFT JOIN event_customers AS c USING (event_id)",
        )
    return "r.customer_key", ""


def _keys_query(engine: Engine, where: str = "TRUE") -> str:
    """The key columns of the raw rows matching ``where`` (on ``r``): row id, customer
    now (:func:`_resolved_customer`), time, load order, event name and source session.
    Filtered, they are the small side of the join with the resolution of every event."""
    customer, resolution = _resolved_customer(engine)
    return (
        f"SELECT r.rowid AS raw_row, {customer} AS customer_id, r.ts, r.seq, r.event, "
        f"r.source_session FROM events_raw AS r {resolution} WHERE {where}"
    )


def _raw_payload_held(engine: Engine, *, after: int | None = None) -> bool:
    """Whether raw rows (of the loads past ``after``, all without it) hold their own
    payload: rows inserted into ``events_raw`` whole (stores before decision 0004); every
    load since writes it to ``events_staged``."""
    loads = "TRUE" if after is None else f"load_id > {int(after)}"
    found = engine.sql(
        f"SELECT count(*) FROM (SELECT 1 FROM events_raw WHERE {loads} AND ("
        + " OR ".join(f"{column} IS NOT NULL" for column in _PAYLOAD)
        + ") LIMIT 1)"
    ).fetchone()
    return bool(found and found[0])


def _range_events_query(part: int, *, gap: int) -> str:
    """The rows of ``events`` for the gathered range ``_rebuild_range`` (its customers'
    numbers: ``_rebuild_numbers`` of part ``part``), sorted (:func:`_events_query`)."""
    return _events_query(
        ctes=f"""numbers AS (
            SELECT customer_id, customer_no FROM _rebuild_numbers WHERE part = {int(part)}
        ),
        numbered AS (
            SELECT rowid AS raw_row, customer_no, ts, seq, event, source_session
            FROM _rebuild_range
        )""",
        rows="_rebuild_range",
        columns={column: f"r.{column}" for column in _PAYLOAD},
        payload=None,
        gap=gap,
    )


def _sessions_by_id(engine: Engine) -> None:
    """The session facts of ``_rebuild_events`` made per session id where an id comes back.

    :func:`_events_query` numbers each stretch (a customer's consecutive events with one
    session id) as a session: right for every session derived from time gaps (their ids
    never come back) and for the source's ids seen in one stretch, nearly all of them. The
    few (customer, session id) seen at two stretch starts (A, B, A: two devices merged by
    identity resolution) get their facts from a window over their own events here. A
    window over every event's session instead cost a sort of the whole table (+40% CPU
    for the facts at 10M events); this, a grouping of the stretch starts when the raw rows
    have session ids at all, nothing otherwise. Run again, it finds nothing to do."""
    found = engine.sql(
        "SELECT count(*) FROM (SELECT 1 FROM events_raw WHERE source_session IS NOT NULL LIMIT 1)"
    ).fetchone()
    if not (found and found[0]):
        return
    engine.sql(
        """
        CREATE OR REPLACE TEMP TABLE _rebuild_again AS
        SELECT customer_no, session_id FROM _rebuild_events
        WHERE session_idx = 0 GROUP BY ALL HAVING count(*) > 1
        """
    )
    engine.sql(
        """
        UPDATE _rebuild_events AS e SET
            session_idx = s.session_idx, session_last = s.session_next_ts IS NULL,
            session_start = s.session_start, session_next_ts = s.session_next_ts
        FROM (
            SELECT customer_no, idx, (row_number() OVER w) - 1 AS session_idx,
                min(idx) OVER w AS session_start, lead(ts) OVER w AS session_next_ts
            FROM _rebuild_events SEMI JOIN _rebuild_again USING (customer_no, session_id)
            WINDOW w AS (PARTITION BY customer_no, session_id ORDER BY idx)
        ) AS s
        WHERE e.customer_no = s.customer_no AND e.idx = s.idx
        """
    )
    engine.sql("DROP TABLE _rebuild_again")


def _range_keys(engine: Engine, *, customer: str, has_resolution: bool, buckets: int) -> None:
    """``_rebuild_keys``: every raw event's row id, resolved customer and path keys.

    The customer of an event is found by joining ``event_customers`` on the text
    ``event_id``: at 100M events that join of two 100M-row sides spilled past 7 GB in
    one statement, so it runs in ``buckets`` statements, each on the events whose id
    hashes to it (an event and its resolution fall in the same bucket)."""
    columns = (
        f"r.rowid AS raw_row, {customer} AS customer_id, r.ts, r.seq, r.event, r.source_session"
    )
    if not has_resolution:
        engine.sql(
            f"CREATE OR REPLACE TABLE _rebuild_keys AS SELECT {columns} FROM events_raw AS r"
        )
        return
    engine.sql(
        f"CREATE OR REPLACE TABLE _rebuild_keys AS SELECT {columns} "
        "FROM events_raw AS r LEFT JOIN event_customers AS c USING (event_id) LIMIT 0"
    )
    for bucket in range(buckets):
        engine.sql(
            f"INSERT INTO _rebuild_keys SELECT {columns} FROM events_raw AS r "
            "LEFT JOIN (SELECT event_id, customer_id FROM event_customers "
            f"WHERE hash(event_id) % {buckets} = {bucket}) AS c USING (event_id) "
            f"WHERE hash(r.event_id) % {buckets} = {bucket}"
        )


def _gather_range(engine: Engine, *, part: int, held: list[str], carried: dict[str, str]) -> None:
    """``_rebuild_range``: the raw rows of range ``part``'s events with their payload and
    ``customer_no``.

    The whole tables (the keys, the raw rows, the held payload) are only joined here,
    each to the range's narrow keys, in a statement of its own: their hash tables stay
    small, so no join goes out of core. Joined to the facts under the windows and the
    sort, a join out of core spilled its probe side, every raw row of the table, in
    every range (16-19 GB per range at 100M events under a 3 GB limit).

    The held payload streams past the range's narrow raw rows (a right join with the
    payload as its probe side, under :func:`_payload_streamed`): the hash table holds
    the range's keys, never maps or texts, and the payload of other ranges' events
    finds no match. (Before, a semi-join picked the range's payload first, which was
    then built into the hash table.)"""
    payload = " UNION ALL ".join(held)
    raw = ", ".join(
        f"r.{column}"
        for column in ("event_id", "ts", "event", "source_session", "source", "load_id")
    )
    # The raw rows' own payload only where ``carried`` reads it.
    own = "".join(f", r.{column}" for column in _PAYLOAD if carried[column] != f"p.{column}")
    with _payload_streamed(engine):
        engine.sql(
            f"""
            CREATE OR REPLACE TABLE _rebuild_range AS
            WITH range_keys AS (
                SELECT k.raw_row, n.customer_no
                FROM _rebuild_keys AS k JOIN _rebuild_numbers AS n
                ON n.customer_id = k.customer_id AND n.part = {int(part)}
            )
            SELECT {raw}, r.seq, r.customer_key, r.customer_no,
                {", ".join(carried[column] for column in _PAYLOAD)}
            FROM ({payload}) AS p RIGHT JOIN (
                SELECT {raw}, r.seq, r.customer_key, k.customer_no{own}
                FROM events_raw AS r JOIN range_keys AS k ON k.raw_row = r.rowid
            ) AS r ON p.seq = r.seq
            """
        )


def _payload_streamed(engine: Engine) -> contextlib.AbstractContextManager[None]:
    """DuckDB's choice of each hash join's build side off, for the statement that joins
    the held payload to a range's raw rows (see :func:`_gather_range`): left to it, it
    builds its hash table on the payload, maps and texts included."""
    return engine.setting("disabled_optimizers", "build_side_probe_side")


def _events_query(
    *, ctes: str, rows: str, columns: dict[str, str], payload: str | None, gap: int
) -> str:
    """The rows of ``events`` for the events of ``rows`` (a table with the raw columns),
    sorted. ``ctes`` define ``numbers`` (``customer_id``, ``customer_no``) and
    ``numbered`` (the narrow key rows with their ``customer_no`` and ``raw_row``, the
    row id in ``rows``); ``columns`` give the payload columns, read from ``rows`` (``r``)
    or from ``payload`` (``p``: a query of ``seq`` and the payload columns, joined on
    ``seq``; rows of ``rows`` it lacks keep their own).

    The payload's hash table is built on the payload: streaming the payload past the
    keys and facts instead (a right join, the narrow rows built) took ~8% less CPU at
    1M events but ~290 MB more peak memory (the keys' texts and the facts weigh more
    than this payload in a hash table), against the memory the ranges are sized by."""
    # The facts are computed on narrow rows (keys and times) and joined back to the wide
    # raw rows by row id: sorting maps and texts through every window cost a third more.
    # The windows partition, and the result is sorted, by the customer's small integer
    # number rather than its text id (the same order: numbers follow ``customer_id``);
    # comparing integers is cheaper than comparing ~20-character ids in every sort.
    source = (
        f"{rows} AS r JOIN facts AS f ON f.raw_row = r.rowid "
        "JOIN numbers AS n ON n.customer_no = f.customer_no"
    )
    if payload is not None:
        source += f" LEFT JOIN ({payload}) AS p ON p.seq = r.seq"
    return f"""
        WITH {ctes},
        ordered AS (
            SELECT raw_row, customer_no, event,
                (row_number() OVER w) - 1 AS idx,
                lead(event) OVER w AS next_event,
                lead(ts) OVER w AS next_ts,
                CASE
                    WHEN source_session IS NOT NULL THEN
                        source_session IS DISTINCT FROM lag(source_session) OVER w
                    ELSE lag(ts) OVER w IS NULL
                        OR epoch_us(ts) - epoch_us(lag(ts) OVER w) > {gap} * 1000000
                        OR lag(source_session) OVER w IS NOT NULL
                END AS starts_session
            FROM numbered
            WINDOW w AS (PARTITION BY customer_no ORDER BY ts, seq)
        ),
        facts AS (
            SELECT raw_row, customer_no, idx, next_event, next_ts,
                sum(starts_session::INTEGER) OVER w AS session_no,
                idx - max(CASE WHEN starts_session THEN idx END) OVER w AS session_idx,
                coalesce(lead(starts_session) OVER path, TRUE) AS session_last,
                -- Distinct paths per transition become a sum of this flag (a distinct
                -- aggregate over the moves was most of the transitions' time).
                next_event IS NOT NULL AND row_number() OVER (
                    PARTITION BY customer_no, event, next_event ORDER BY idx
                ) = 1 AS first_pair
            FROM ordered
            WINDOW path AS (PARTITION BY customer_no ORDER BY idx),
                w AS (path ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
        )
        SELECT
            r.event_id, n.customer_id, r.ts, r.event, {columns["channel"]},
            coalesce(r.source_session, n.customer_id || '#' || f.session_no::VARCHAR)
                AS session_id,
            {columns["value"]}, {columns["cost"]}, {columns["text"]}, {columns["score"]},
            {columns["properties"]}, r.source, r.load_id, r.seq,
            r.customer_key, {columns["identifiers"]},
            f.idx, f.next_event, f.next_ts, f.session_idx, f.session_last,
            -- Per stretch here; the sessions whose id comes back are mended afterwards
            -- (_sessions_by_id).
            f.idx - f.session_idx AS session_start,
            CASE WHEN NOT f.session_last THEN f.next_ts END AS session_next_ts,
            f.first_pair, f.customer_no
        FROM {source}
        ORDER BY f.customer_no, f.idx
        """

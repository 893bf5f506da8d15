"""The workspace's event store in DuckDB: its tables, and the ``events`` table rebuilt
from them after each load (resolved customers, sessions, per-event facts).

Per-event facts are computed once here so analyses do not sort again: ``idx`` (position
of the event in its customer's path, from 0), ``next_event``/``next_ts`` (the next event of
the same customer), ``session_idx`` (position within the session), ``session_last`` (no
later event in the session: the customer's next event, if any, starts another one; a
source session id reused later ends at each of its stretches) and
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

from collections.abc import Callable

from jornada.engine._customers import materialise_customers
from jornada.engine.backend import Engine

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

STORE_VERSION = 3
"""2: the facts ``session_last`` and ``first_pair``; 3: ``customer_no``."""

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
    """Record, with the load that needs it, that the derived tables must be rebuilt."""
    engine.sql("INSERT OR REPLACE INTO store_meta VALUES ('rebuild_pending', 'yes')")


def rebuild_pending(engine: Engine) -> bool:
    row = engine.sql("SELECT count(*) FROM store_meta WHERE key = 'rebuild_pending'").fetchone()
    return bool(row and row[0])


def rebuild_derived(
    engine: Engine,
    *,
    resolve: Callable[[Engine], None] | None,
    session_gap_seconds: int,
) -> None:
    """Resolve identities, then rebuild ``events`` and ``customers`` and clear the mark.

    Runs after a load has committed its raw rows (identity resolution inside the load's
    transaction was two orders of magnitude slower in DuckDB 1.5: its temporary tables
    lose their statistics there). A process killed before the end leaves the mark, and
    the next open of the workspace finishes the rebuild, so analyses never see a half.
    """
    if resolve is not None:
        resolve(engine)
    with engine.transaction():
        materialise_events(engine, session_gap_seconds=session_gap_seconds)
        materialise_customers(engine)
        # The staged payload now lives in ``events``: drop it from staging and remember
        # which loads ``events`` holds the payload of (the next rebuild reads it there).
        engine.sql("DELETE FROM events_staged")
        engine.sql(
            "INSERT OR REPLACE INTO store_meta "
            "SELECT 'absorbed_load', CAST(max(load_id) AS VARCHAR) FROM events_raw "
            "HAVING count(*) > 0"
        )
        engine.sql("DELETE FROM store_meta WHERE key = 'rebuild_pending'")
        engine.sql(
            "INSERT OR REPLACE INTO store_meta VALUES ('store_version', ?)", [str(STORE_VERSION)]
        )


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

_UNITS = {"B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}
_UNITS.update({"KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40})


def range_rows_for(engine: Engine) -> int:
    """The events per range of :func:`materialise_events` under the engine's memory
    limit: :data:`RANGE_ROWS`, or fewer when the limit is below about 4 GB.

    >>> engine = Engine.duckdb(memory_limit="400MB"); range_rows_for(engine)
    999817
    >>> range_rows_for(Engine.duckdb(memory_limit="16GB"))
    10000000
    """
    row = engine.sql("SELECT current_setting('memory_limit')").fetchone()
    number, _, unit = str(row[0] if row else "").strip().partition(" ")
    try:
        limit = float(number) * _UNITS[unit.strip().upper()]
    except (ValueError, KeyError):  # no limit, or a form not known here
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
    ``session_gap_seconds`` (a gap exactly equal to it stays in the session).

    Past ``range_rows`` events (by default :func:`range_rows_for` the engine's memory
    limit) the table is built in ranges of customers (in
    ``customer_id`` order, about ``range_rows`` events each), one statement per range:
    the same rows in the same order, but each statement's windows, join and sort spill
    a range's worth. In one statement, 100M events spilled past 23 GB under a 6 GB
    memory limit; in ranges of 12.5M, at most 2.3 GB each (docs/benchmarks.md).

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
    payload = "seq, channel, value, cost, text, score, properties, identifiers"
    held = [f"SELECT {payload} FROM events_staged"]
    absorbed = _absorbed_load(engine)
    if absorbed:
        held.append(f"SELECT {payload} FROM events WHERE load_id <= {absorbed}")
    carried = {
        column: f"CASE WHEN p.seq IS NULL THEN r.{column} ELSE p.{column} END AS {column}"
        for column in ("channel", "value", "cost", "text", "score", "properties", "identifiers")
    }
    has_resolution = engine.has_table("event_customers")
    customer = "coalesce(c.customer_id, r.customer_key)" if has_resolution else "r.customer_key"
    join = "LEFT JOIN event_customers AS c USING (event_id)" if has_resolution else ""
    gap = int(session_gap_seconds)
    keys_of_raw = (
        f"SELECT r.rowid AS raw_row, {customer} AS customer_id, r.ts, r.seq, r.event, "
        f"r.source_session FROM events_raw AS r {join}"
    )
    # Numbered over the few customers, not sorted over every event.
    numbered = (
        "SELECT customer_id, CAST(row_number() OVER (ORDER BY customer_id) AS INTEGER) "
        "AS customer_no"
    )
    total = engine.sql("SELECT count(*) FROM events_raw").fetchone()
    if total is None or int(total[0]) <= range_rows:
        engine.sql(
            "CREATE OR REPLACE TABLE events AS "
            + _events_query(
                keys=keys_of_raw,
                numbers=f"{numbered} FROM (SELECT DISTINCT customer_id FROM keys)",
                gap=gap,
                held=held,
                carried=carried,
            )
        )
        return
    # In ranges: the keys and the customers' numbers and ranges once, then a statement
    # per range appending to a new table that replaces ``events`` at the end (the
    # payload of absorbed loads is read from the old one until then).
    engine.sql(f"CREATE OR REPLACE TABLE _rebuild_keys AS {keys_of_raw}")
    engine.sql(
        f"""
        CREATE OR REPLACE TABLE _rebuild_numbers AS
        SELECT customer_id, customer_no, before // {int(range_rows)} AS part
        FROM (
            {numbered}, coalesce(sum(n) OVER (
                ORDER BY customer_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
            ), 0) AS before
            FROM (SELECT customer_id, count(*) AS n FROM _rebuild_keys GROUP BY customer_id)
        )
        """
    )
    parts = engine.sql("SELECT DISTINCT part FROM _rebuild_numbers ORDER BY part").fetchall()
    engine.sql("DROP TABLE IF EXISTS _rebuild_events")
    for i, (part,) in enumerate(parts):
        query = _events_query(
            # The range's keys with their customers' numbers: one join picks both.
            keys=(
                "SELECT k.*, n.customer_no FROM _rebuild_keys AS k JOIN _rebuild_numbers AS n "
                f"ON n.customer_id = k.customer_id AND n.part = {int(part)}"
            ),
            numbers=(
                f"SELECT customer_id, customer_no FROM _rebuild_numbers WHERE part = {int(part)}"
            ),
            numbered="SELECT raw_row, customer_no, ts, seq, event, source_session FROM keys",
            gap=gap,
            held=held,
            carried=carried,
            range_only=True,
        )
        start = "CREATE TABLE _rebuild_events AS " if i == 0 else "INSERT INTO _rebuild_events "
        engine.sql(start + query)
    engine.sql("DROP TABLE IF EXISTS events")
    engine.sql("ALTER TABLE _rebuild_events RENAME TO events")
    engine.sql("DROP TABLE _rebuild_keys")
    engine.sql("DROP TABLE _rebuild_numbers")


def _events_query(
    *,
    keys: str,
    numbers: str,
    gap: int,
    held: list[str],
    carried: dict[str, str],
    range_only: bool = False,
    numbered: str | None = None,
) -> str:
    """The rows of ``events`` for the customers of ``keys`` (a query of narrow key rows),
    numbered by ``numbers`` (a query over the CTE ``keys``, or any table), sorted.
    ``range_only``: ``keys`` is a range of the events, and the payload joined is cut to
    its rows first (else every range's join held every event's payload: at 10M events
    under a 400 MB limit, ranges of 1M ran out of memory). ``numbered``: the key rows
    with their ``customer_no`` (by default ``keys`` joined to ``numbers``)."""
    if numbered is None:
        numbered = (
            "SELECT k.raw_row, n.customer_no, k.ts, k.seq, k.event, k.source_session "
            "FROM keys AS k JOIN numbers AS n ON n.customer_id = k.customer_id"
        )
    payload = " UNION ALL ".join(held)
    if range_only:
        payload = f"SELECT h.* FROM ({payload}) AS h SEMI JOIN keys AS k ON k.seq = h.seq"
    # The facts are computed on narrow rows (keys and times) and joined back to the wide
    # raw rows by row id: sorting maps and texts through every window cost a third more.
    # The windows partition, and the result is sorted, by the customer's small integer
    # number rather than its text id (the same order: numbers follow ``customer_id``);
    # comparing integers is cheaper than comparing ~20-character ids in every sort.
    return f"""
        WITH keys AS ({keys}),
        numbers AS ({numbers}),
        numbered AS ({numbered}),
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
            r.event_id, n.customer_id, r.ts, r.event, {carried["channel"]},
            coalesce(r.source_session, n.customer_id || '#' || f.session_no::VARCHAR)
                AS session_id,
            {carried["value"]}, {carried["cost"]}, {carried["text"]}, {carried["score"]},
            {carried["properties"]}, r.source, r.load_id, r.seq,
            r.customer_key, {carried["identifiers"]},
            f.idx, f.next_event, f.next_ts, f.session_idx, f.session_last, f.first_pair,
            f.customer_no
        FROM events_raw AS r JOIN facts AS f ON f.raw_row = r.rowid
        JOIN numbers AS n ON n.customer_no = f.customer_no
        LEFT JOIN ({payload}) AS p ON p.seq = r.seq
        ORDER BY f.customer_no, f.idx
        """

"""The canonical tables of a workspace's event store, shared by loading, identity and binding.

Order of events within a customer is ``ts`` then ``seq`` (load order): ties in
timestamp keep input order, everywhere.
"""

from __future__ import annotations

from typing import Final

__all__ = ["EVENT_COLUMNS", "EVENT_FIELDS", "IDENTIFIER_COLUMNS"]

EVENT_COLUMNS: Final[dict[str, str]] = {
    "event_id": "string",  # from the source, or a content hash (+ occurrence) when absent
    "customer_id": "string",  # resolved customer (identity resolution)
    "ts": "timestamp",  # UTC, microseconds, no time zone attached
    "event": "string",
    "channel": "string",
    "session_id": "string",  # from the source, or derived from an inactivity gap
    "value": "float64",  # revenue or any amount the event carries
    "cost": "float64",  # what the touch cost (ad spend)
    "text": "string",  # free text (ticket, survey comment)
    "score": "float64",  # a survey score (CSAT, NPS, CES)
    "properties": "map<string, string>",  # every other source column
    "source": "string",  # the name of the file or table loaded
    "load_id": "int64",
    "seq": "int64",  # global load order
}
"""Columns of the ``events`` table and their Ibis types."""

EVENT_FIELDS: Final[frozenset[str]] = frozenset(EVENT_COLUMNS) - {"properties"}
"""Fields a rule may name directly (``event``, ``channel``, ``value``...); anything
else is reached as ``properties.NAME``."""

IDENTIFIER_COLUMNS: Final[dict[str, str]] = {
    "event_id": "string",
    "kind": "string",  # customer, email, phone, device, crm ... as declared at load
    "value": "string",  # normalised (emails lower-cased, phones digits with country code)
}
"""Columns of the ``identifiers`` table: every identifier seen on every event but its own
customer key (that is ``events_raw.customer_key``, for the loads from the one recorded
under ``store.CUSTOMER_KEYS_FROM``; older loads wrote it here as kind ``customer``)."""

"""Events: loading, identities, the rule language, binding to maps, and scoping.

>>> from jornada.events import EventScope, parse_period
>>> EventScope(*parse_period("2026-03")).period
'2026-03-01..2026-03-31'
"""

from jornada.events.filters import (
    PERIOD_SYNTAX,
    EventScope,
    ScopeError,
    parse_period,
    scope_events,
)

__all__ = ["PERIOD_SYNTAX", "EventScope", "ScopeError", "parse_period", "scope_events"]

"""One router module per noun: ``maps`` (the map list and map pages), ``editor`` (the
map editor, its API, versions and comments, the template gallery), ``dashboards`` (the
analysis API and dashboard pages), ``loads`` (uploads, load history, quarantine),
``accounts`` (sign-in, one's account and tokens), ``members`` (roles, for admins),
``health``.

Every route declares who may use it with :func:`jornada.web.auth.guard`.
"""

from __future__ import annotations

__all__ = ["READ"]

READ = ["GET", "HEAD"]
"""The methods of a read-only route (HEAD so that ``curl -I`` and uptime checks work)."""

"""The append-only audit log: who did what, when, in which unit and event."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request

from core.db import session
from core.models import AuditEntry, Event, User
from tenants.models import Unit


def record(
    action: str,
    *,
    actor: User | None,
    unit: Unit | None = None,
    event: Event | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction, so it commits (or not) with the change."""
    if event is not None and unit is None:
        unit = event.unit
    entry = AuditEntry(
        actor_id=actor.id if actor else None,
        actor_name=actor.username if actor else None,
        unit_id=unit.id if unit else None,
        event_id=event.id if event else None,
        action=action,
        detail=detail or {},
        ip=request.remote_addr if has_request_context() else None,
    )
    session().add(entry)
    return entry

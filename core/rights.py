"""Who may do what: rights at units (phân quyền) and roles in events.

Rules:
- A staff account holds rights only at its own unit.
- `admin` manages the structure (sub-units, accounts, rights) of its unit and every unit below.
- `admin` or `events` creates and runs the events of its own unit, not those of units below.
- Any right lets an account see, read-only and as aggregate figures, the events below its unit.
- Nobody sees sideways or upward.
"""

from __future__ import annotations

from sqlalchemy import select

from core.db import session
from core.models import STAFF_ROLES, Event, EventMember, User
from tenants.models import Unit


def is_above_or_same(upper: Unit | None, lower: Unit | None) -> bool:
    return upper is not None and lower is not None and lower.path.startswith(upper.path)


def can_manage_structure(user: User, unit: Unit) -> bool:
    return "admin" in user.right_names and is_above_or_same(user.unit, unit)


def can_manage_events(user: User, unit: Unit) -> bool:
    return user.unit_id == unit.id and bool(user.right_names & {"admin", "events"})


def can_view_reports(user: User, unit: Unit) -> bool:
    return bool(user.right_names) and is_above_or_same(user.unit, unit)


def event_roles(user: User | None, event: Event) -> frozenset[str]:
    """The roles `user` holds in `event`; empty means no access at all."""
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    roles = set(
        session().scalars(
            select(EventMember.role).where(
                EventMember.event_id == event.id, EventMember.user_id == user.id
            )
        )
    )
    if can_manage_events(user, event.unit):
        roles.add("organiser")
    return frozenset(roles)


def is_staff(roles: frozenset[str] | set[str]) -> bool:
    return bool(set(roles) & STAFF_ROLES)


def has_permission(roles: frozenset[str] | set[str], permission: str, table: dict) -> bool:
    """Organisers hold every permission; others per the modules' permission table."""
    if "organiser" in roles:
        return True
    return bool(set(roles) & set(table.get(permission, ())))

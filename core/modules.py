"""Switching modules on and off per event, with their dependencies."""

from __future__ import annotations

from flask import g, has_app_context
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.db import session, utcnow
from core.errors import ServiceError
from core.models import Event, EventModule, User
from core.plugins import get_pm, get_registry


def enabled_modules(event: Event) -> frozenset[str]:
    """Names of the modules on for `event`, read once per request or socket call."""
    cache = g.setdefault("_daihoi_enabled", {}) if has_app_context() else {}
    if event.id not in cache:
        names = session().scalars(
            select(EventModule.module).where(
                EventModule.event_id == event.id, EventModule.enabled.is_(True)
            )
        )
        known = get_registry().modules
        cache[event.id] = frozenset(n for n in names if n in known)
    return cache[event.id]


def _forget(event: Event, db: Session | None = None) -> None:
    if has_app_context():
        g.setdefault("_daihoi_enabled", {}).pop(event.id, None)
        if db is not None:
            from core.realtime import forget_socket_contexts_after_commit

            # Socket connections reuse what they resolved for a moment; not past this change.
            forget_socket_contexts_after_commit(db)


def _set(db: Session, event: Event, name: str, on: bool) -> None:
    row = db.get(EventModule, (event.id, name))
    if row is None:
        db.add(EventModule(event_id=event.id, module=name, enabled=on))
    else:
        row.enabled = on
        row.changed_at = utcnow()


def enable_module(db: Session, event: Event, name: str, actor: User | None) -> list[str]:
    """Switch `name` on, and the modules it needs. Returns every module switched on."""
    registry = get_registry()
    if name not in registry.modules:
        raise ServiceError(_("unknown module %(name)s", name=name))
    current = enabled_modules(event)
    turned_on = [m for m in [*reversed(registry.dependencies(name)), name] if m not in current]
    for m in turned_on:
        _set(db, event, m, True)
    db.flush()
    _forget(event, db)
    for m in turned_on:
        audit.record("module.enable", actor=actor, event=event, detail={"module": m})
        get_pm().hook.daihoi_module_enabled(event=event, module=m, actor=actor)
    return turned_on


def disable_module(db: Session, event: Event, name: str, actor: User | None) -> None:
    """Switch `name` off; refused while a module that needs it is still on."""
    registry = get_registry()
    if name not in registry.modules:
        raise ServiceError(_("unknown module %(name)s", name=name))
    current = enabled_modules(event)
    if name not in current:
        return
    still_on = [m for m in registry.dependents(name) if m in current]
    if still_on:
        titles = ", ".join(str(registry.modules[m].title) for m in still_on)
        raise ServiceError(
            _("%(module)s is needed by %(others)s; switch those off first",
              module=registry.modules[name].title, others=titles)
        )
    _set(db, event, name, False)
    db.flush()
    _forget(event, db)
    audit.record("module.disable", actor=actor, event=event, detail={"module": name})
    get_pm().hook.daihoi_module_disabled(event=event, module=name, actor=actor)

"""The one guard every event page passes through.

`EventBlueprint` puts `/<unit_code>/<event_slug>` in front of its routes. Before any view
runs it resolves the event, works out the caller's roles and, for a module's blueprint,
checks that the module is on. Anything that fails answers 404: another unit's event, an event
the caller has no role in, a module that is off — all look the same as a URL that never existed.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, g, redirect, request, session, url_for
from flask_login import current_user

from core.db import session as db_session
from core.events import get_event, resolve_projector_token
from core.models import Event
from core.modules import enabled_modules
from core.rights import event_roles, has_permission

PROJECTOR_SESSION_KEY = "daihoi_projector"


def permission_table() -> dict[str, set[str]]:
    from flask import current_app

    return current_app.extensions["daihoi_permissions"]


def projector_link_for(event: Event):
    """The live projector link this browser holds for `event`, if any."""
    held = session.get(PROJECTOR_SESSION_KEY) or {}
    token = held.get(str(event.id))
    if not token:
        return None
    link = resolve_projector_token(db_session(), token)
    return link if link is not None and link.event_id == event.id else None


def resolve_event_context(unit_code: str, event_slug: str, module: str | None,
                          allow_projector: bool = False) -> None:
    event = get_event(db_session(), unit_code, event_slug)
    if event is None:
        abort(404)
    roles = set(event_roles(current_user, event))
    if allow_projector and projector_link_for(event) is not None:
        roles.add("projector")
    if not roles:
        abort(404)
    if module is not None and module not in enabled_modules(event):
        abort(404)
    g.event = event
    g.event_roles = frozenset(roles)


def projector_allowed(view):
    """Mark a view that a hall screen holding a projector link may see without an account."""
    view._daihoi_projector = True
    return view


class EventBlueprint(Blueprint):
    """A blueprint whose routes live inside one event, guarded in one place."""

    def __init__(self, name: str, import_name: str, *, module: str | None = None,
                 url_prefix: str = "", api: bool = False, **kwargs) -> None:
        # JSON endpoints live under /api/v1/events/<unit>/<event>/…, pages under /<unit>/<event>/…
        front = "/api/v1/events" if api else ""
        super().__init__(name, import_name,
                         url_prefix=f"{front}/<unit_code>/<event_slug>{url_prefix}", **kwargs)
        self.is_api = api
        self.daihoi_module = module
        self.url_value_preprocessor(self._pull_event)
        self.url_defaults(self._add_event)
        self.before_request(self._guard)

    @staticmethod
    def _pull_event(endpoint, values):
        if values is not None:
            g.event_ref = (values.pop("unit_code", None), values.pop("event_slug", None))

    @staticmethod
    def _add_event(endpoint, values):
        event = g.get("event")
        if event is not None and "unit_code" not in values:
            values.setdefault("unit_code", event.unit.code)
            values.setdefault("event_slug", event.slug)

    def _guard(self):
        from flask import current_app

        view = current_app.view_functions.get(request.endpoint)
        allow_projector = bool(getattr(view, "_daihoi_projector", False))
        unit_code, event_slug = g.get("event_ref", (None, None))
        if not current_user.is_authenticated:
            # Signed out: only a hall screen holding this event's link gets past; everyone
            # else is sent to sign in, whether or not the event exists.
            event = get_event(db_session(), unit_code, event_slug) if allow_projector else None
            if event is None or projector_link_for(event) is None:
                if self.is_api:
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path))
        resolve_event_context(unit_code, event_slug, self.daihoi_module, allow_projector)
        return None


def require_roles(*roles: str):
    """Allow only callers holding one of `roles` (organisers always pass)."""
    wanted = set(roles) | {"organiser"}

    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not (g.event_roles & wanted):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return deco


def require_permission(permission: str):
    def deco(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not has_permission(g.event_roles, permission, permission_table()):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return deco


def can(permission: str) -> bool:
    return has_permission(g.get("event_roles", frozenset()), permission, permission_table())

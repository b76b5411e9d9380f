"""A tiny third-party-style plugin used by the tests: it implements every hook once.

It declares the module "example", which needs "announcements", adds a page, a permission,
a socket event, a menu entry, a dashboard widget, live state, figures for the upward view
and a page script, and records the lifecycle hooks it receives.
"""

from __future__ import annotations

from pathlib import Path

from flask import g

from core.event_context import EventBlueprint, require_permission
from core.plugins import MenuItem, ModuleInfo, Widget, hookimpl
from core.realtime import SocketHandler

CALLS: list[tuple] = []

bp = EventBlueprint("example", __name__, module="example", url_prefix="/example")


@bp.route("/")
def index():
    return f"example page of {g.event.name}"


@bp.route("/secret")
@require_permission("example.secret")
def secret():
    return "secret"


def _ping(ctx, payload):
    return {"ok": True, "pong": ctx.event.id, "roles": sorted(ctx.roles)}


@hookimpl
def daihoi_modules():
    return [ModuleInfo("example", "Example", "A module for tests", depends=("announcements",))]


@hookimpl
def daihoi_blueprints():
    return [bp]


@hookimpl
def daihoi_permissions():
    return {"example.secret": {"tellers"}}


@hookimpl
def daihoi_socket_handlers():
    return [SocketHandler("example:ping", _ping, module="example")]


@hookimpl
def daihoi_event_menu_items(event, roles):
    return [MenuItem("Example menu", "example.index", order=70)]


@hookimpl
def daihoi_dashboard_widgets(event, roles):
    return [Widget("Example widget", "core/widget_sessions.html", {"event": event}, order=99)]


@hookimpl
def daihoi_realtime_state(event, roles):
    return {"example": {"event": event.id}}


@hookimpl
def daihoi_event_stats(event):
    return {"Example figure": 42}


@hookimpl
def daihoi_event_created(event, actor):
    CALLS.append(("event_created", event.slug, actor.username if actor else None))


@hookimpl
def daihoi_module_enabled(event, module, actor):
    CALLS.append(("module_enabled", event.slug, module))


@hookimpl
def daihoi_module_disabled(event, module, actor):
    CALLS.append(("module_disabled", event.slug, module))


@hookimpl
def daihoi_demo_data(event, accounts):
    CALLS.append(("demo_data", event.slug, sorted(accounts)))


@hookimpl
def daihoi_migration_locations():
    return [str(Path(__file__).parent / "example_migrations")]


@hookimpl
def daihoi_page_scripts(event, roles):
    return ["/static/example-plugin.js"]


@hookimpl
def daihoi_projector_panels(event):
    return [Widget("Example panel", "core/widget_sessions.html", {"event": event}, order=99)]


@hookimpl
def daihoi_delegate_checked_in(event, delegate, session, method):
    CALLS.append(("delegate_checked_in", event.slug, delegate.code, session.name, method))


@hookimpl
def daihoi_document_panels(event, document, roles):
    return [Widget("Example panel", "core/widget_sessions.html", {"event": event,
                                                                   "document": document},
                   order=99)]

"""Core's own behaviour, registered as a plugin like any module (as Datasette does)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from core.plugins import MenuItem, Widget, hookimpl


@hookimpl
def daihoi_permissions():
    return {
        "event.manage": {"organiser"},
        "event.view_members": {"organiser", "secretariat", "credentials"},
    }


@hookimpl
def daihoi_event_menu_items(event, roles):
    items = [MenuItem(_l("Home"), "event.home", icon="⌂", order=0)]
    if "organiser" in roles:
        items.append(MenuItem(_l("Settings"), "event.manage", icon="⚙", order=900))
    return items


@hookimpl
def daihoi_dashboard_widgets(event, roles):
    return [Widget(_l("Sessions"), "core/widget_sessions.html", {"event": event}, order=0)]


@hookimpl
def daihoi_event_stats(event):
    return {_l("Convened delegates"): event.convened_count, _l("Sessions"): len(event.sessions)}

"""Check-in (điểm danh): a list per session, scanning stations, self check-in with the hall
screen's rotating code, live attendance and quorum, attendance reports."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from core.plugins import MenuItem, ModuleInfo, Widget, hookimpl

NAME = "checkin"


@hookimpl
def daihoi_modules():
    return [ModuleInfo(NAME, _l("Check-in"),
                       _l("Check-in per session by badge QR code, scanning stations that keep "
                          "working offline, self check-in with the hall screen's code, live "
                          "attendance and quorum, attendance reports."),
                       icon="🛂", depends=("delegates",))]


@hookimpl
def daihoi_blueprints():
    from plugins.checkin import views, views_reports

    return [views.bp, views.api, views.assets, views_reports.bp]


@hookimpl
def daihoi_permissions():
    return {
        "checkin.view": {"secretariat", "credentials", "checkin"},
        "checkin.scan": {"secretariat", "checkin"},
        "checkin.manage": {"secretariat"},
        # The hall screen asks for the rotating self check-in code.
        "checkin.screen": {"projector", "secretariat", "checkin"},
    }


@hookimpl
def daihoi_socket_handlers():
    from plugins.checkin.realtime import handlers

    return handlers()


@hookimpl
def daihoi_event_menu_items(event, roles):
    from flask import current_app

    from core.rights import has_permission

    table = current_app.extensions["daihoi_permissions"]
    items = []
    if has_permission(roles, "checkin.view", table):
        items.append(MenuItem(_l("Check-in"), "checkin.index", icon="🛂", order=30))
    if has_permission(roles, "checkin.scan", table):
        items.append(MenuItem(_l("Scanning station"), "checkin.station", icon="📷", order=31))
    if roles & {"delegate", "guest"}:
        items.append(MenuItem(_l("Check in"), "checkin.me", icon="🛂", order=19))
    return items


@hookimpl
def daihoi_dashboard_widgets(event, roles):
    from flask import current_app

    from core.db import session
    from core.rights import has_permission
    from plugins.checkin.services import attendance, current_list

    if not has_permission(roles, "checkin.view", current_app.extensions["daihoi_permissions"]):
        return []
    lst = current_list(session(), event)
    if lst is None:
        return []
    return [Widget(_l("Attendance"), "checkin/widget.html",
                   {"att": attendance(session(), event, lst)}, order=6)]


@hookimpl
def daihoi_projector_panels(event):
    from core.db import session
    from plugins.checkin.services import attendance, current_list

    lst = current_list(session(), event)
    if lst is None:
        return []
    return [Widget(_l("Attendance"), "checkin/projector_panel.html",
                   {"att": attendance(session(), event, lst)}, order=10)]


@hookimpl
def daihoi_realtime_state(event, roles):
    from core.db import session
    from plugins.checkin.services import attendance, current_list

    if not (roles & {"organiser", "secretariat", "credentials", "checkin", "projector"}):
        return {}
    lst = current_list(session(), event)
    return {NAME: {"attendance": attendance(session(), event, lst) if lst else None}}


@hookimpl
def daihoi_event_stats(event):
    from sqlalchemy import func, select

    from core.db import session
    from plugins.checkin.models import CheckinScan

    n = session().scalar(select(func.count()).select_from(CheckinScan)
                         .where(CheckinScan.event_id == event.id,
                                CheckinScan.verdict.in_(("in", "again"))))
    return {_l("Check-ins"): n or 0}


@hookimpl
def daihoi_demo_data(event, accounts):
    from core.db import session, utcnow
    from plugins.checkin.services import ensure_lists

    lists = ensure_lists(session(), event)
    for lst in lists:
        lst.self_checkin = True
    # The preparatory session's check-in is open, so the station and the hall screen work at
    # once; the hall screen then shows the self check-in code.
    if lists:
        lists[0].opens_at = utcnow()


@hookimpl
def daihoi_migration_locations():
    return [str(Path(__file__).parent / "migrations")]


@hookimpl
def daihoi_page_scripts(event, roles):
    from flask import url_for

    return [url_for("checkin_assets.static", filename="attendance.js")]

"""Announcements (thông báo): organisers post notices that reach delegates' phones live."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from core.plugins import MenuItem, ModuleInfo, Widget, hookimpl

NAME = "announcements"


@hookimpl
def daihoi_modules():
    return [ModuleInfo(NAME, _l("Announcements"),
                       _l("Notices from the organisers, delivered live to phones and the hall "
                          "screen."), icon="📣")]


@hookimpl
def daihoi_blueprints():
    from plugins.announcements.views import assets, bp

    return [bp, assets]


@hookimpl
def daihoi_permissions():
    return {"announcements.post": {"organiser", "secretariat"}}


@hookimpl
def daihoi_socket_handlers():
    from plugins.announcements.realtime import handlers

    return handlers()


@hookimpl
def daihoi_event_menu_items(event, roles):
    return [MenuItem(_l("Announcements"), "announcements.index", icon="📣", order=50)]


@hookimpl
def daihoi_dashboard_widgets(event, roles):
    from core.db import session
    from plugins.announcements.services import latest

    return [Widget(_l("Announcements"), "announcements/widget.html",
                   {"items": latest(session(), event, roles, limit=3)}, order=10)]


@hookimpl
def daihoi_realtime_state(event, roles):
    from core.db import session
    from plugins.announcements.services import latest, to_json

    return {NAME: [to_json(a) for a in latest(session(), event, roles, limit=20)]}


@hookimpl
def daihoi_event_stats(event):
    from core.db import session
    from plugins.announcements.services import count

    return {_l("Announcements"): count(session(), event)}


@hookimpl
def daihoi_demo_data(event, accounts):
    from core.db import session
    from plugins.announcements.services import post

    post(session(), event, author=accounts["organiser"], audience="all",
         title="Chào mừng đại biểu về dự Đại hội",
         body="Đại biểu vui lòng có mặt tại hội trường trước 7 giờ 30 để điểm danh phiên trù bị.")


@hookimpl
def daihoi_migration_locations():
    return [str(Path(__file__).parent / "migrations")]


@hookimpl
def daihoi_page_scripts(event, roles):
    from flask import url_for

    return [url_for("announcements_assets.static", filename="announcements.js")]

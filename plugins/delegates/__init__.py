"""Delegates (đại biểu): roster, self-check of personal data, credentials committee,
structure report, badges with QR codes."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from core.plugins import MenuItem, ModuleInfo, Widget, hookimpl

NAME = "delegates"


@hookimpl
def daihoi_modules():
    return [ModuleInfo(NAME, _l("Delegates"),
                       _l("Roster import, delegates checking their own data, the credentials "
                          "committee, the structure report and badges with QR codes."),
                       icon="👥")]


@hookimpl
def daihoi_blueprints():
    from plugins.delegates import views, views_badges, views_report

    return [views.bp, views.signin, views_badges.bp, views_report.bp]


@hookimpl
def daihoi_permissions():
    return {
        "delegates.view": {"secretariat", "credentials", "checkin"},
        "delegates.manage": {"secretariat"},
        "delegates.verify": {"credentials"},
        "delegates.badges": {"secretariat", "checkin"},
        "delegates.report": {"secretariat", "credentials"},
    }


@hookimpl
def daihoi_event_menu_items(event, roles):
    from flask import current_app

    from core.rights import has_permission

    table = current_app.extensions["daihoi_permissions"]
    items = []
    if roles & {"delegate", "guest"}:
        items.append(MenuItem(_l("My information"), "delegates.me", icon="🪪", order=20))
    if has_permission(roles, "delegates.view", table):
        items.append(MenuItem(_l("Delegates"), "delegates.roster", icon="👥", order=21))
    if has_permission(roles, "delegates.verify", table):
        items.append(MenuItem(_l("Credentials"), "delegates.credentials", icon="✔", order=22))
    if has_permission(roles, "delegates.report", table):
        items.append(MenuItem(_l("Structure report"), "delegates_report.page", icon="📊",
                              order=23))
    return items


@hookimpl
def daihoi_dashboard_widgets(event, roles):
    from core.db import session
    from plugins.delegates.services import counts

    if not (roles & {"organiser", "secretariat", "credentials", "checkin"}):
        return []
    return [Widget(_l("Delegates"), "delegates/widget.html",
                   {"counts": counts(session(), event)}, order=5)]


@hookimpl
def daihoi_event_stats(event):
    from core.db import session
    from plugins.delegates.services import counts

    c = counts(session(), event)
    return {_l("Delegates"): c["delegates"], _l("Guests"): c["guests"],
            _l("Approved delegates"): c["approved"]}


@hookimpl
def daihoi_demo_data(event, accounts):
    from core.db import session
    from plugins.delegates.demo import generate_roster
    from plugins.delegates.roster_import import apply_roster, parse_roster
    from plugins.delegates.services import adopt_account

    preview = parse_roster(generate_roster(300, seed=2027, guests=20), "demo.csv")
    apply_roster(session(), event, preview, actor=None)
    # The demo's delegate and guest accounts (password sign-in) become two people of the roster.
    for role, code in (("delegate", "DB0001"), ("guest", "KM0301")):
        account = accounts.get(role)
        if account is not None:
            adopt_account(session(), event, code, account)


@hookimpl
def daihoi_migration_locations():
    return [str(Path(__file__).parent / "migrations")]

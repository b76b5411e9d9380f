"""Documents (văn kiện): the congress's documents for delegates to read on their phones —
categories, versions, who may read each, publication at a set time, downloads counted."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from core.plugins import MenuItem, ModuleInfo, Widget, hookimpl

NAME = "documents"


@hookimpl
def daihoi_modules():
    return [ModuleInfo(NAME, _l("Documents"),
                       _l("The congress documents (reports, draft resolutions, programme, "
                          "rules) for delegates to read on their phones, with versions and "
                          "who may read each."), icon="📄")]


@hookimpl
def daihoi_blueprints():
    from plugins.documents import views

    return [views.bp, views.assets]


@hookimpl
def daihoi_permissions():
    # Upload, edit, order and publish documents.
    return {"documents.manage": {"secretariat", "documents"}}


@hookimpl
def daihoi_event_menu_items(event, roles):
    return [MenuItem(_l("Documents"), "documents.index", icon="📄", order=25)]


@hookimpl
def daihoi_dashboard_widgets(event, roles):
    from core.db import session
    from plugins.documents.services import list_documents

    docs = list_documents(session(), event, roles)
    if not docs:
        return []
    return [Widget(_l("Documents"), "documents/widget.html", {"docs": docs[:6]}, order=20)]


@hookimpl
def daihoi_event_stats(event):
    from core.db import session
    from plugins.documents.services import count

    return {_l("Published documents"): count(session(), event)}


@hookimpl
def daihoi_demo_data(event, accounts):
    from plugins.documents.demo import demo_documents

    demo_documents(event, accounts)


@hookimpl
def daihoi_migration_locations():
    return [str(Path(__file__).parent / "migrations")]

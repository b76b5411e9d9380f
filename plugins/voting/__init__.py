"""Voting (biểu quyết, bầu cử): motions, elections and simple choices, named or secret
ballots from delegates' phones, live turnout and published results on the hall screen, paper
figures and appointed results, the counting board's minutes."""

from __future__ import annotations

from pathlib import Path

from flask_babel import lazy_gettext as _l

from core.plugins import MenuItem, ModuleInfo, Widget, hookimpl

NAME = "voting"


@hookimpl
def daihoi_modules():
    return [ModuleInfo(NAME, _l("Voting"),
                       _l("Motions and elections voted from delegates' phones, named or "
                          "secret, with live turnout on the hall screen, counting by the "
                          "charter's rules and the counting board's minutes."),
                       icon="🗳", depends=("delegates", "checkin"))]


@hookimpl
def daihoi_blueprints():
    from plugins.voting import views, views_reports

    return [views.bp, views.assets, views_reports.bp]


@hookimpl
def daihoi_permissions():
    return {
        # Prepare polls, open, close, cancel: the presidium's secretariat and the organisers.
        "voting.manage": {"secretariat", "tellers"},
        # Count: paper figures, publish, minutes, who voted what in a named poll.
        "voting.count": {"tellers"},
    }


@hookimpl
def daihoi_socket_handlers():
    from plugins.voting.realtime import handlers

    return handlers()


@hookimpl
def daihoi_event_menu_items(event, roles):
    from flask import current_app

    from core.rights import has_permission

    table = current_app.extensions["daihoi_permissions"]
    if has_permission(roles, "voting.manage", table) or has_permission(roles, "voting.count",
                                                                       table):
        return [MenuItem(_l("Voting"), "voting.index", icon="🗳", order=40)]
    if "delegate" in roles:
        return [MenuItem(_l("Vote"), "voting.ballot", icon="🗳", order=18)]
    return [MenuItem(_l("Results"), "voting.results", icon="🗳", order=40)]


@hookimpl
def daihoi_dashboard_widgets(event, roles):
    from core.db import session
    from plugins.voting.services import list_polls

    polls = list_polls(session(), event, statuses=("open", "published"))
    if not polls:
        return []
    return [Widget(_l("Voting"), "voting/widget.html", {"polls": polls[-5:]}, order=5)]


@hookimpl
def daihoi_projector_panels(event):
    from core.db import session
    from plugins.voting.serialize import poll_json
    from plugins.voting.services import on_screen, settle_deadlines, voted_count

    db = session()
    settle_deadlines(db, event)
    db.commit()
    poll = on_screen(db, event)
    data = None
    if poll is not None:
        data = poll_json(poll, voted=voted_count(db, poll.id) if poll.status == "open" else None)
    return [Widget(_l("Voting"), "voting/projector_panel.html", {"poll": data}, order=5)]


@hookimpl
def daihoi_realtime_state(event, roles):
    from core.db import session
    from plugins.voting.serialize import poll_json
    from plugins.voting.services import on_screen, voted_count

    db = session()
    poll = on_screen(db, event)
    if poll is None:
        return {NAME: {"screen": None}}
    return {NAME: {"screen": poll_json(
        poll, voted=voted_count(db, poll.id) if poll.status == "open" else None)}}


@hookimpl
def daihoi_event_stats(event):
    from sqlalchemy import func, select

    from core.db import session
    from plugins.voting.models import Poll

    n = session().scalar(select(func.count()).select_from(Poll).where(
        Poll.event_id == event.id, Poll.status == "published"))
    return {_l("Published votes"): n or 0}


@hookimpl(trylast=True)  # after the delegates module has made the roster
def daihoi_demo_data(event, accounts):
    from plugins.voting.demo import demo_polls

    demo_polls(event, accounts)


@hookimpl
def daihoi_migration_locations():
    return [str(Path(__file__).parent / "migrations")]


@hookimpl
def daihoi_page_scripts(event, roles):
    from flask import request, url_for

    scripts = [url_for("voting_assets.static", filename="live.js")]
    if request.endpoint == "voting.ballot":
        scripts.append(url_for("voting_assets.static", filename="ballot.js"))
    return scripts

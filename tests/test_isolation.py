"""Tenant isolation: every registered route and socket event, tried by users of one union's
congress against another union's congress and objects, answers 404/403 and leaks nothing.

The walker reads the app's URL map and socket registry, so a route or socket event added later
is walked too; a URL parameter it does not know how to fill fails the test until it is taught.
"""

from __future__ import annotations

import itertools
import time

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter

from core.db import session, utcnow
from core.events import create_projector_link
from core.models import AuditEntry, EventMember, EventModule, EventSession, ProjectorLink, User
from plugins.announcements.models import Announcement
from plugins.announcements.services import post
from plugins.checkin import services as checkin
from plugins.checkin.models import CheckinList, CheckinScan
from plugins.delegates.demo import generate_roster
from plugins.delegates.models import BadgeJob, CorrectionRequest, Delegate
from plugins.delegates.roster_import import apply_roster, parse_roster
from plugins.delegates.services import request_correction
from plugins.documents import services as documents
from plugins.documents.demo import political_report_pdf
from plugins.documents.models import Document, DocumentReader, DocumentVersion
from plugins.forum import services as forum
from plugins.forum.models import ForumAgree, ForumComment, ForumNotice, ForumTopic
from plugins.voting import services as voting
from plugins.voting.models import Ballot, Poll, PollVoter
from tests.conftest import login

# Routes that are not inside any tenant: the walker leaves them to their own tests.
UNSCOPED = {"static", "vendor", "health", "auth.login", "auth.logout", "auth.set_language",
            "home.index", "api.me", "announcements_assets.static", "favicon"}
SECRET = "BÍ MẬT CỦA YÊN BÁI"
# A signed link is itself the credential (whoever holds it may open it); tested on their own.
LINKS = {"projector_link.open_link", "delegates_signin.open_link"}


@pytest.fixture
def victim(app, world):
    """Objects of the other union (Yên Bái) whose ids the walker tries everywhere."""
    with app.app_context():
        ev = world.event("b")
        a = post(session(), ev, author=world.user("b.admin"), title=SECRET, body=SECRET,
                 audience="staff")
        link, token = create_projector_link(session(), ev, actor=None, label=SECRET)
        preview = parse_roster(generate_roster(3, seed=9, guests=1), "b.csv")
        apply_roster(session(), ev, preview, actor=None)
        session().flush()
        first = session().scalar(select(Delegate).where(Delegate.event_id == ev.id))
        request_correction(session(), ev, first, field="ethnicity", new_value=SECRET)
        session().add(BadgeJob(event_id=ev.id, status="done", total=1, done=1))
        for lst in checkin.ensure_lists(session(), ev):
            checkin.open_list(session(), ev, lst, actor=None)
            lst.self_checkin = True
        first.status = "approved"
        checkin.record_scan(session(), ev, lst, code=first.checkin_secret, nonce="victim-scan-1")
        session().commit()
        # Polls in every state a URL can name: open (one vote cast), published, draft.
        polls = []
        for _state in ("open", "published", "draft"):
            polls.append(voting.create_poll(session(), ev, voting.PollInput(
                title=SECRET, kind="election", mode="named", options=((SECRET, None),),
                session_id=lst.session_id),
                actor=None))
        session().commit()
        for poll in polls[:2]:
            voting.open_poll(session(), ev, poll, actor=None)
        session().commit()
        from plugins.voting import ballots

        ballots.record_votes(session(), ballots.load_open_poll(session(), polls[1]), [
            ballots.vote_input(user_id=first.user_id, choices=[polls[1].options[0].id],
                               nonce="victim-vote-1")])
        voting.close_poll(session(), ev, polls[1], actor=None)
        voting.publish_poll(session(), ev, polls[1], actor=None)
        session().commit()
        # A published document with comments open, a comment, a reply, an agreement.
        doc = documents.create_document(
            session(), ev, actor=None, title=SECRET, category="other", visibility="public",
            filename="bi-mat.pdf", raw=political_report_pdf(), sections=SECRET,
            publish_at=utcnow())
        topic = forum.set_commenting(session(), ev, doc, True, actor=None)
        author = world.user("b.delegate")
        comment = forum.post_comment(session(), ev, topic, author=author,
                                     roles={"delegate"}, body=SECRET, section=SECRET)
        forum.post_comment(session(), ev, topic, author=world.user("b.secretariat"),
                           roles={"secretariat"}, body=SECRET, parent_id=comment.id)
        forum.toggle_agree(session(), ev, comment, user=world.user("b.secretariat"),
                           roles={"secretariat"})
        forum.create_topic(session(), ev, author=author, roles={"delegate"}, title=SECRET,
                           body=SECRET)
        session().commit()
        ids = {}
        for param, model, col in (("session_id", EventSession, EventSession.event_id),
                                  ("member_id", EventMember, EventMember.event_id),
                                  ("announcement_id", Announcement, Announcement.event_id),
                                  ("link_id", ProjectorLink, ProjectorLink.event_id),
                                  ("delegate_id", Delegate, Delegate.event_id),
                                  ("job_id", BadgeJob, BadgeJob.event_id),
                                  ("list_id", CheckinList, CheckinList.event_id),
                                  ("poll_id", Poll, Poll.event_id),
                                  ("document_id", Document, Document.event_id),
                                  ("topic_id", ForumTopic, ForumTopic.event_id),
                                  ("comment_id", ForumComment, ForumComment.event_id)):
            ids[param] = sorted(session().scalars(select(model.id).where(col == ev.id)))
        ids["request_id"] = sorted(session().scalars(
            select(CorrectionRequest.id).join(Delegate).where(Delegate.event_id == ev.id)))
        ids["user_id"] = sorted(session().scalars(
            select(User.id).where(User.username.like("b.%"))))
        ids["number"] = [1]  # a document's version
        assert all(ids.values())
        return {"topic": topic.id, "ids": ids, "announcement": a.id, "token": token,
                "link": link.id, "list": ids["list_id"][-1], "delegate": first.id,
                "scan": session().scalar(select(CheckinScan.id)), "poll": polls[0].id,
                "choice": polls[0].options[0].id}


def snapshot(app, world):
    with app.app_context():
        ev = world.event("b")
        count = lambda model, col: session().scalar(  # noqa: E731
            select(func.count()).select_from(model).where(col == ev.id))
        return (count(EventSession, EventSession.event_id),
                count(EventMember, EventMember.event_id),
                count(EventModule, EventModule.event_id),
                count(Announcement, Announcement.event_id),
                session().scalar(select(func.count()).select_from(Announcement).where(
                    Announcement.event_id == ev.id, Announcement.withdrawn_at.is_(None))),
                session().scalar(select(func.count()).select_from(ProjectorLink).where(
                    ProjectorLink.event_id == ev.id, ProjectorLink.revoked_at.is_(None))),
                session().scalar(select(func.count()).select_from(AuditEntry).where(
                    AuditEntry.event_id == ev.id)),
                [u.right_names for u in session().scalars(
                    select(User).where(User.username.like("b.%")).order_by(User.id))],
                session().execute(select(Delegate.code, Delegate.status, Delegate.checkin_secret,
                                         Delegate.signin_nonce, Delegate.full_name)
                                  .where(Delegate.event_id == ev.id)
                                  .order_by(Delegate.code)).all(),
                session().execute(select(CorrectionRequest.id, CorrectionRequest.status)
                                  .order_by(CorrectionRequest.id)).all(),
                session().execute(select(CheckinList.id, CheckinList.opens_at,
                                         CheckinList.closes_at, CheckinList.admit_delegates)
                                  .where(CheckinList.event_id == ev.id)
                                  .order_by(CheckinList.id)).all(),
                session().execute(select(CheckinScan.id, CheckinScan.undone_at)
                                  .order_by(CheckinScan.id)).all(),
                session().execute(select(Poll.id, Poll.status, Poll.title, Poll.closes_at)
                                  .where(Poll.event_id == ev.id).order_by(Poll.id)).all(),
                session().scalar(select(func.count()).select_from(PollVoter)),
                session().scalar(select(func.count()).select_from(Ballot)),
                session().execute(select(Document.id, Document.title, Document.visibility,
                                         Document.publish_at, Document.position)
                                  .where(Document.event_id == ev.id)).all(),
                session().execute(select(DocumentVersion.id, DocumentVersion.downloads)
                                  .order_by(DocumentVersion.id)).all(),
                session().scalar(select(func.count()).select_from(DocumentReader)),
                session().execute(select(ForumTopic.id, ForumTopic.is_open,
                                         ForumTopic.hidden_at).order_by(ForumTopic.id)).all(),
                session().execute(select(ForumComment.id, ForumComment.body,
                                         ForumComment.hidden_at, ForumComment.resolution)
                                  .order_by(ForumComment.id)).all(),
                session().scalar(select(func.count()).select_from(ForumAgree)),
                session().scalar(select(func.count()).select_from(ForumNotice)),
                ev.settings)


def fillings(rule, own_event: bool, victim):
    """Every way to fill the rule's parameters with the victim's objects."""
    choices = []
    for arg in sorted(rule.arguments):
        if arg == "unit_code":
            choices.append([(arg, "lao-cai" if own_event else "yen-bai")])
        elif arg == "event_slug":
            choices.append([(arg, "dai-hoi")])
        elif isinstance(rule._converters[arg], IntegerConverter):
            if arg not in victim["ids"]:
                pytest.fail(f"teach the isolation walker whose ids fill <{arg}> of {rule.rule}")
            choices.append([(arg, i) for i in victim["ids"][arg]])
        elif arg == "name":
            choices.append([(arg, "announcements")])
        elif arg == "action":
            choices.append([(arg, a) for a in ("grant", "revoke", "disable", "remove",
                                               "new-badge", "revoke-link")])
        elif arg == "action_name":
            choices.append([(arg, a) for a in ("open", "close", "countdown", "cancel", "publish",
                                               "paper", "appoint", "clone", "new_round",
                                               "delete")])
        elif arg == "token":
            choices.append([(arg, "aBcDeFgHiJkLmNoP")])
        elif arg == "filename":
            choices.append([(arg, "announcements.js")])
        else:
            pytest.fail(f"teach the isolation walker to fill <{arg}> of {rule.rule}")
    return [dict(c) for c in itertools.product(*choices)]


def build(rule, values):
    url = rule.rule
    for k, v in values.items():
        url = url.replace(f"<{k}>", str(v)).replace(f"<int:{k}>", str(v))
    return url


@pytest.mark.parametrize("attacker", ["a.admin", "a.secretariat", "a.delegate"])
def test_every_route_refuses_another_unions_event(app, world, victim, attacker):
    before = snapshot(app, world)
    c = login(app.test_client(), attacker)
    walked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in UNSCOPED or rule.endpoint in LINKS:
            continue
        has_ints = any(isinstance(rule._converters[a], IntegerConverter)
                       for a in rule.arguments)
        variants = [False]
        if has_ints and "unit_code" in rule.arguments and "event_slug" in rule.arguments:
            variants.append(True)  # own event in the URL, the victim's object ids
        for own in variants:
            for values in fillings(rule, own, victim):
                url = build(rule, values)
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    data = {"right": "admin", "on": "0", "title": "x", "label": "x",
                            "s-name": "x", "s-kind": "other", "m-username": "a.admin",
                            "m-role": "guest", "u-code": "zz", "u-name": "zz",
                            "u-level": "district", "a-username": "zzz", "a-full_name": "Z",
                            "a-password": "12345678xx", "reason": "x", "seconds": "30",
                            "issued": "0", "returned": "0", "invalid": "0", "nonce": "n" * 16,
                            "choice": "1", "option": "1", "body": "x", "action": "open",
                            "resolution": "noted", "anonymous": "1", "direction": "up"}
                    resp = c.open(url, method=method, data=data)
                    walked += 1
                    body = resp.get_data(as_text=True)
                    if own and method == "GET" and resp.status_code == 200:
                        pytest.fail(f"{method} {url} answered 200 with a foreign object id")
                    assert resp.status_code in (403, 404), (method, url, resp.status_code)
                    assert SECRET not in body and "Đại hội yen-bai" not in body, (method, url)
    assert walked > 40
    assert snapshot(app, world) == before


def test_unit_routes_of_another_union(app, world):
    c = login(app.test_client(), "a.admin")
    for url in ("/yen-bai/", "/yen-bai/new-event", "/admin/units/yen-bai/",
                "/van-yen/", "/admin/units/van-yen/", "/tw/", "/admin/units/tw/"):
        assert c.get(url).status_code == 404, url


def test_api_of_another_union(app, world):
    c = login(app.test_client(), "a.admin")
    r = c.get("/api/v1/events/yen-bai/dai-hoi/")
    assert r.status_code == 404 and r.json == {"ok": False, "error": "not_found",
                                               "message": r.json["message"]}
    assert c.get("/api/v1/events/lao-cai/dai-hoi/").json["state"]["event"]["ref"] == \
        "lao-cai/dai-hoi"
    assert app.test_client().get("/api/v1/events/lao-cai/dai-hoi/").status_code == 401
    me = c.get("/api/v1/me").json
    assert [e["ref"] for e in me["events"]] == ["lao-cai/dai-hoi"]


def test_projector_link_of_one_event_does_not_open_another(app, world, victim):
    c = app.test_client()
    assert c.get(f"/p/{victim['token']}").status_code == 302
    assert c.get("/yen-bai/dai-hoi/projector").status_code == 200
    assert c.get("/lao-cai/dai-hoi/projector").status_code == 302  # to login: no link held
    assert c.get("/yen-bai/dai-hoi/").status_code == 302  # a screen link is not an account
    assert c.get("/yen-bai/dai-hoi/manage").status_code == 302
    assert c.get(f"/p/{victim['token']}x").status_code == 404


def test_every_socket_event_refuses_another_unions_event(live_app, world_live, sockets,
                                                         victim_live):
    bystander = sockets("b.delegate")
    assert bystander.call("join", {"event": "yen-bai/dai-hoi"})["ok"]
    # What the victim's own set-up announced (a reply notice) may still be on its way.
    time.sleep(0.5)
    bystander.received.clear()
    names = sorted(live_app.extensions["daihoi_socket_handlers"])
    assert {"join", "announcements:list", "announcements:post"} <= set(names)
    before = snapshot(live_app, world_live)
    for attacker in ("a.admin", "a.secretariat", "a.delegate"):
        s = sockets(attacker)
        for name in names:
            payload = {"event": "yen-bai/dai-hoi", "title": "x", "body": "x", "audience": "all",
                       "id": victim_live["announcement"], "list": victim_live["list"],
                       "scan": victim_live["scan"], "nonce": "n" * 16, "code": "x",
                       "delegate": victim_live["delegate"], "reason": "x", "q": "ng",
                       "poll": victim_live["poll"], "choices": [victim_live["choice"]],
                       "topic": victim_live["topic"]}
            ack = s.call(name, payload)
            assert ack == {"ok": False, "error": "not_found", "message": "Not found."}, name
            assert s.call(name, {"event": 5})["error"] == "bad_request"
            assert s.call(name, "yen-bai/dai-hoi")["error"] == "bad_request"
    assert snapshot(live_app, world_live) == before
    assert bystander.received == []


@pytest.fixture
def world_live(live_app):
    from tests.conftest import build_world

    return build_world(live_app)


@pytest.fixture
def victim_live(live_app, world_live):
    return victim.__wrapped__(live_app, world_live)


def test_an_id_too_large_for_the_database_is_not_found(app, world):
    """A number past a 32-bit integer in a URL names nothing (404), on every kind of route,
    never a database error."""
    c = login(app.test_client(), "a.admin")
    huge = "9" * 20
    for url in (f"/lao-cai/dai-hoi/documents/{huge}", f"/lao-cai/dai-hoi/forum/t/{huge}",
                f"/lao-cai/dai-hoi/forum/c/{huge}/edit", f"/lao-cai/dai-hoi/voting/{huge}",
                f"/lao-cai/dai-hoi/documents/1/v{huge}/file", f"/lao-cai/dai-hoi/voting/{2**31}"):
        assert c.get(url).status_code == 404, url

"""The forum over real Socket.IO clients: watching a topic, new comments announced to its
readers (a burst coalesced into a few updates), no announcement where the reader may not
read, bad requests, and a reply's notice to its parent's author alone."""

from __future__ import annotations

import re
import time

import requests

from core.db import session
from plugins.forum.models import ForumNotice, ForumTopic
from tests.conftest import wait_for
from tests.plugins.forum.conftest import FORUM, REF, comments_count, post


def http(live, username: str) -> requests.Session:
    s = requests.Session()
    s.headers["Cookie"] = live.session_cookie(username)
    return s


def send(live, client: requests.Session, topic_id: int, **form) -> requests.Response:
    r = client.post(f"{live.url}{FORUM}/t/{topic_id}/comments", data=form,
                    allow_redirects=False)
    assert r.status_code == 302, r.text[:300]
    return r


def watcher(sockets, username: str, topic_id: int | None = None):
    c = sockets(username)
    assert c.call("join", {"event": REF})["ok"]
    if topic_id is not None:
        assert c.call("forum:watch", {"event": REF, "topic": topic_id}) == {"ok": True}
    return c


def test_a_reader_watching_a_topic_hears_of_a_new_comment(live, live_forum, sockets):
    tid = live_forum.topics["public"]
    reader = watcher(sockets, "a.delegate2", tid)
    guest = watcher(sockets, "a.guest", tid)  # a public document: guests read it too
    idle = watcher(sockets, "a.delegate3")  # in the event, not watching the topic
    elsewhere = watcher(sockets, "a.secretariat", live_forum.topics["staff"])
    author = http(live, "a.delegate")
    location = send(live, author, tid, body="Đề nghị bổ sung số liệu vùng cao").headers[
        "Location"]
    assert "#c" in location
    assert wait_for(lambda: len(reader.got("forum:activity")) == 1)
    assert wait_for(lambda: len(guest.got("forum:activity")) == 1)
    # The comment comes with the update, rendered for every reader in each language, without
    # anyone's buttons (the page adds its reader's own).
    update = reader.got("forum:activity")[0]
    assert update["topic"] == tid and update["changed"] == [] and update["after"] == 0
    assert set(update["html"]) == {"vi", "en"}
    cid = int(location.rsplit("#c", 1)[1])
    for html in update["html"].values():
        assert "Đề nghị bổ sung số liệu vùng cao" in html and f'id="c{cid}"' in html
        assert "<form" not in html and "csrf" not in html
    assert guest.got("forum:activity") == [update]
    # What a page fetches when it lacks earlier comments: the same comment, for its reader.
    fresh = http(live, "a.delegate2").get(f"{live.url}{FORUM}/t/{tid}/comments?after=0")
    assert "Đề nghị bổ sung số liệu vùng cao" in fresh.text
    time.sleep(0.3)
    assert idle.got("forum:activity") == [] and elsewhere.got("forum:activity") == []
    assert len(reader.got("forum:activity")) == 1  # once


def test_a_burst_of_comments_makes_a_few_updates(live, live_app, live_forum, sockets):
    tid = live_forum.topics["public"]
    # The production interval (the tests' is shorter), so the burst fits in a few of them.
    live_app.extensions["daihoi_publisher"].interval = 0.2
    reader = watcher(sockets, "a.delegate2", tid)
    with live_app.app_context():
        for n in range(20):
            post("a.delegate" if n % 2 else "a.delegate3", tid, f"Ý kiến số {n}")
        assert comments_count() == 20
    assert wait_for(lambda: reader.got("forum:activity"))
    time.sleep(0.8)  # anything still pending is flushed by now
    updates = reader.got("forum:activity")
    assert 1 <= len(updates) <= 5, len(updates)
    # Together they carry every comment once, in order.
    pushed = [body for u in updates for body in re.findall(r"Ý kiến số \d+", u["html"]["vi"])]
    assert pushed == [f"Ý kiến số {n}" for n in range(20)]


def test_a_staff_only_documents_topic_is_not_watched_by_a_delegate(live, live_app, live_forum,
                                                                  sockets):
    staff_tid, public_tid = live_forum.topics["staff"], live_forum.topics["public"]
    delegate = watcher(sockets, "a.delegate")
    ack = delegate.call("forum:watch", {"event": REF, "topic": staff_tid})
    assert ack["ok"] is False and ack["error"] == "not_found"
    staff = watcher(sockets, "a.credentials", staff_tid)
    # Event "b"'s people neither, named through their event or this one.
    outsider = sockets("b.delegate")
    for ref in ("yen-bai/dai-hoi", REF):
        assert outsider.call("forum:watch", {"event": ref, "topic": public_tid})["error"] == \
            "not_found"
    with live_app.app_context():
        post("a.secretariat", staff_tid, "Ý kiến nội bộ")
    assert wait_for(lambda: len(staff.got("forum:activity")) == 1)
    assert "Ý kiến nội bộ" in staff.got("forum:activity")[0]["html"]["vi"]
    time.sleep(0.3)
    assert delegate.got("forum:activity") == [] and outsider.received == []
    # The same delegate does hear of the public document's comments once watching them.
    assert delegate.call("forum:watch", {"event": REF, "topic": public_tid})["ok"]
    with live_app.app_context():
        post("a.secretariat", public_tid, "Ý kiến công khai")
    assert wait_for(lambda: len(delegate.got("forum:activity")) == 1)
    assert "Ý kiến công khai" in delegate.got("forum:activity")[0]["html"]["vi"]


def test_bad_watch_requests(live, live_app, live_forum, sockets):
    tid = live_forum.topics["public"]
    c = watcher(sockets, "a.delegate")
    for payload in ({"event": REF}, {"event": REF, "topic": str(tid)},
                    {"event": REF, "topic": True}, {"event": REF, "topic": None},
                    {"event": REF, "topic": float(tid)}, {"event": REF, "topic": [tid]}):
        ack = c.call("forum:watch", payload)
        assert ack["ok"] is False and ack["error"] == "bad_request" and ack["message"], payload
    for payload in ({"topic": tid}, "lao-cai/dai-hoi", None):
        assert c.call("forum:watch", payload)["error"] == "bad_request", payload
    assert c.call("forum:watch", {"event": REF, "topic": 999_999})["error"] == "not_found"
    # A hall screen's link reads no comments.
    with live_app.app_context():
        from core.events import create_projector_link
        from core.models import Event

        ev = session().get(Event, session().get(ForumTopic, tid).event_id)
        _link, token = create_projector_link(session(), ev, actor=None, label="Hội trường")
        session().commit()
    screen = sockets(auth={"projector": token})
    assert screen.call("join", {"event": REF, "as": "projector"})["ok"]
    assert screen.call("forum:watch", {"event": REF, "topic": tid})["error"] == "not_found"
    with live_app.app_context():
        post("a.delegate2", tid, "Không ai theo dõi")
    time.sleep(0.3)
    assert c.got("forum:activity") == [] and screen.got("forum:activity") == []


def test_a_reply_notice_reaches_the_parents_author_only(live, live_app, live_forum, sockets):
    tid = live_forum.topics["public"]
    with live_app.app_context():
        root = post("a.delegate", tid, "Cần số liệu theo huyện")
    author = watcher(sockets, "a.delegate")
    bystander = watcher(sockets, "a.delegate3")
    replier_socket = watcher(sockets, "a.delegate2")
    replier = http(live, "a.delegate2")
    send(live, replier, tid, body="Tôi đồng tình", parent_id=str(root))
    assert wait_for(lambda: author.got("forum:notices") == [{"unread": 1}])
    send(live, replier, tid, body="Thêm một ý", parent_id=str(root))
    assert wait_for(lambda: author.got("forum:notices")[-1:] == [{"unread": 2}])
    # The author replying under their own comment is no news to them.
    send(live, http(live, "a.delegate"), tid, body="Cảm ơn", parent_id=str(root))
    time.sleep(0.3)
    assert author.got("forum:notices")[-1] == {"unread": 2}
    assert bystander.got("forum:notices") == [] and replier_socket.got("forum:notices") == []
    # Opening the notices page clears the count on every page of the author's.
    page = http(live, "a.delegate").get(f"{live.url}{FORUM}/notices")
    assert page.status_code == 200 and "A reply to your comment" in page.text
    assert wait_for(lambda: author.got("forum:notices")[-1] == {"unread": 0})
    assert bystander.got("forum:notices") == []
    with live_app.app_context():
        assert [n.read_at is not None for n in session().query(ForumNotice)] == [True, True]

"""What happens to comments after they are written: closing freezes them, a hidden topic comes
back, decisions stay on documents, titles follow the document, a comment shown again takes
back its "hidden" notice, and readers' pages redraw changed comments live."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.db import session
from core.errors import ServiceError
from plugins.documents.models import Document
from plugins.forum import services
from plugins.forum.models import ForumAgree, ForumNotice
from tests.conftest import PG_URL, wait_for
from tests.plugins.forum.conftest import FORUM, REF, actor, comment, post, topic


def test_closing_freezes_edits_and_agreements(app, forum):
    tid = forum.topics["public"]
    with app.app_context():
        cid = post("a.delegate", tid, "Ý kiến trước khi kết thúc")
        ev, moderator, _roles = actor("a.documents")
        services.set_topic_open(session(), ev, topic(tid), False, actor=moderator)
        session().commit()
        _ev, author, _r = actor("a.delegate")
        with pytest.raises(ServiceError, match="closed"):
            services.edit_comment(session(), ev, comment(cid), actor=author, body="Sửa")
        session().rollback()
        _ev, other, roles = actor("a.delegate2")
        with pytest.raises(ServiceError, match="closed"):
            services.toggle_agree(session(), ev, comment(cid), user=other, roles=roles)
        session().rollback()
        assert comment(cid).body == "Ý kiến trước khi kết thúc"
        assert session().scalar(select(func.count()).select_from(ForumAgree)) == 0


def test_the_closed_page_offers_no_agree_or_edit(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        post("a.delegate2", tid, "Ý kiến của người khác")
        post("a.delegate", tid, "Ý kiến của tôi")
        ev, moderator, _roles = actor("a.documents")
        services.set_topic_open(session(), ev, topic(tid), False, actor=moderator)
        session().commit()
    page = client_for("a.delegate").get(forum.doc_url("public")).get_data(as_text=True)
    assert "Ý kiến của người khác" in page and "Ý kiến của tôi" in page
    assert "/agree" not in page and "/edit" not in page


def test_a_hidden_board_topic_is_put_back(app, forum, client_for):
    with app.app_context():
        ev, author, roles = actor("a.delegate")
        t = services.create_topic(session(), ev, author=author, roles=roles,
                                  title="Chủ đề tạm ẩn", body="Nội dung")
        session().commit()
        tid = t.id
    moderator = client_for("a.secretariat")
    delegate = client_for("a.delegate2")
    moderator.post(f"{FORUM}/t/{tid}/state", data={"action": "hide", "reason": "Trùng lặp"})
    assert "Chủ đề tạm ẩn" not in delegate.get(f"{FORUM}/").get_data(as_text=True)
    assert delegate.get(f"{FORUM}/t/{tid}").status_code == 404
    assert "Put the topic back" in moderator.get(f"{FORUM}/t/{tid}").get_data(as_text=True)
    moderator.post(f"{FORUM}/t/{tid}/state", data={"action": "show"})
    assert "Chủ đề tạm ẩn" in delegate.get(f"{FORUM}/").get_data(as_text=True)
    with app.app_context():
        from core.models import AuditEntry

        actions = session().scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("forum.%_topic"))).all()
        assert actions == ["forum.hide_topic", "forum.show_topic"]


def test_decisions_are_for_comments_on_documents(app, forum, client_for):
    with app.app_context():
        ev, author, roles = actor("a.delegate")
        t = services.create_topic(session(), ev, author=author, roles=roles,
                                  title="Hỏi xe đưa đón", body="Lịch xe?")
        session().commit()
        cid = session().scalar(select(func.max(services.ForumComment.id)))
        tid = t.id
    r = client_for("a.documents").post(f"{FORUM}/c/{cid}/resolve",
                                       data={"resolution": "noted"})
    assert r.status_code == 302
    with app.app_context():
        assert comment(cid).resolution is None
        assert topic(tid).document_id is None


def test_titles_follow_the_document(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        parent = post("a.delegate", tid, "Về phần thẩm tra")
        post("a.delegate2", tid, "Đồng ý với ý kiến trên", parent_id=parent)
        session().get(Document, forum.docs["public"]).title = "Báo cáo chính trị (bản 2)"
        session().commit()
    delegate = client_for("a.delegate")
    assert "Báo cáo chính trị (bản 2)" in delegate.get(f"{FORUM}/search?q=tham tra").get_data(
        as_text=True)
    notices = delegate.get(f"{FORUM}/notices").get_data(as_text=True)
    assert "Báo cáo chính trị (bản 2)" in notices and "Dự thảo Báo cáo chính trị" not in notices


def test_showing_a_comment_again_takes_back_its_hidden_notice(app, forum):
    tid = forum.topics["public"]
    with app.app_context():
        cid = post("a.delegate", tid, "Ý kiến bị ẩn nhầm")
        ev, moderator, _roles = actor("a.documents")
        services.hide_comment(session(), ev, comment(cid), actor=moderator, reason="Nhầm")
        session().commit()
        _ev, author, _r = actor("a.delegate")
        assert services.unread_count(session(), ev.id, author.id) == 1
        services.unhide_comment(session(), ev, comment(cid), actor=moderator)
        session().commit()
        assert services.unread_count(session(), ev.id, author.id) == 0
        assert session().scalar(select(func.count()).select_from(ForumNotice)) == 0


def test_changed_comments_are_redrawn_as_each_reader_may_see_them(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        cid = post("a.delegate", tid, "Nội dung sẽ bị ẩn")
        ev, moderator, _roles = actor("a.documents")
        services.hide_comment(session(), ev, comment(cid), actor=moderator, reason="Lạc đề")
        session().commit()
    url = f"{FORUM}/t/{tid}/comments?ids={cid},abc,99999999999"
    other = client_for("a.delegate2").get(url).get_data(as_text=True)
    assert f'id="c{cid}"' in other and "Nội dung sẽ bị ẩn" not in other
    assert "A comment hidden by the moderators." in other
    mine = client_for("a.delegate").get(url).get_data(as_text=True)
    assert "Nội dung sẽ bị ẩn" in mine and "Lạc đề" in mine
    # New comments only: the hidden one is not sent as new to anyone who may not read it.
    assert "Nội dung sẽ bị ẩn" not in client_for("a.delegate2").get(
        f"{FORUM}/t/{tid}/comments?after=0").get_data(as_text=True)


def test_readers_hear_which_comments_changed(live, live_app, live_forum, sockets):
    tid = live_forum.topics["public"]
    with live_app.app_context():
        cid = post("a.delegate", tid, "Sẽ được đồng tình và bị ẩn")
    reader = sockets("a.delegate3")
    assert reader.call("join", {"event": REF})["ok"]
    assert reader.call("forum:watch", {"event": REF, "topic": tid}) == {"ok": True}
    with live_app.app_context():
        ev, other, roles = actor("a.delegate2")
        services.toggle_agree(session(), ev, comment(cid), user=other, roles=roles)
        _ev, moderator, _r = actor("a.documents")
        services.hide_comment(session(), ev, comment(cid), actor=moderator, reason="Lạc đề")
        session().commit()
    assert wait_for(lambda: any(cid in u["changed"] for u in reader.got("forum:activity")))
    # Each change is named once, in the update that follows it.
    named = [i for u in reader.got("forum:activity") for i in u["changed"]]
    assert named == [cid]


def test_a_document_taken_from_delegates_stops_reaching_their_open_pages(live, live_app,
                                                                        live_forum, sockets):
    tid = live_forum.topics["public"]
    delegate = sockets("a.delegate3")
    staff = sockets("a.credentials")
    for c in (delegate, staff):
        assert c.call("join", {"event": REF})["ok"]
        assert c.call("forum:watch", {"event": REF, "topic": tid}) == {"ok": True}
    with live_app.app_context():
        session().get(Document, live_forum.docs["public"]).visibility = "staff"
        session().commit()
        post("a.secretariat", tid, "Chỉ cán bộ được đọc")
    assert wait_for(lambda: staff.got("forum:activity"))
    assert "Chỉ cán bộ được đọc" in staff.got("forum:activity")[0]["html"]["vi"]
    import time

    time.sleep(0.3)
    assert delegate.got("forum:activity") == []


def test_a_long_discussion_shows_its_newest_threads_first(app, forum, client_for):
    from plugins.forum.services import THREADS_SHOWN

    tid = forum.topics["public"]
    with app.app_context():
        ids = [post("a.delegate2", tid, f"Ý kiến thứ {n:03d}") for n in range(THREADS_SHOWN + 5)]
        reply = post("a.delegate3", tid, "Trả lời ý kiến đầu", parent_id=ids[0])
    delegate = client_for("a.delegate")
    page = delegate.get(forum.doc_url("public")).get_data(as_text=True)
    assert "Ý kiến thứ 004" not in page and "Ý kiến thứ 005" in page
    assert f"Ý kiến thứ {THREADS_SHOWN + 4:03d}" in page
    assert "Trả lời ý kiến đầu" not in page
    assert f"Show all {THREADS_SHOWN + 5} comments" in page
    everything = delegate.get(forum.doc_url("public") + "?comments=all").get_data(as_text=True)
    assert "Ý kiến thứ 000" in everything and "Trả lời ý kiến đầu" in everything
    assert "Show all" not in everything
    # Agreeing with an old comment leads back to it, on the page that shows it.
    r = delegate.post(f"{FORUM}/c/{reply}/agree")
    assert r.headers["Location"].endswith(f"?comments=all#c{reply}")
    r = delegate.post(f"{FORUM}/c/{ids[-1]}/agree")
    assert r.headers["Location"].endswith(f"/documents/{forum.docs['public']}#c{ids[-1]}")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="two overlapping comment transactions need PostgreSQL")
def test_comments_on_a_topic_are_numbered_in_the_order_they_commit(app, forum):
    """Replayed from the benchmark: the first comment is written and not yet committed when a
    second one comes; the second waits for the topic, so its id is the higher one and a
    reader that has it has every comment before it."""
    import threading

    from core.models import Event, User

    tid = forum.topics["public"]
    db_ext = app.extensions["daihoi_db"]
    with app.app_context():
        ev_id = actor("a.delegate")[0].id
        ids = {u: session().scalar(select(User.id).where(User.username == u))
               for u in ("a.delegate", "a.delegate2")}
    first = db_ext.new_session()
    second_done: list[int] = []

    def post_as(db, username: str, body: str) -> int:
        from plugins.forum.models import ForumTopic

        c = services.post_comment(db, db.get(Event, ev_id), db.get(ForumTopic, tid),
                                  author=db.get(User, ids[username]),
                                  roles=frozenset({"delegate"}), body=body)
        db.flush()
        return c.id

    def second() -> None:
        with app.app_context():
            db = db_ext.new_session()
            second_done.append(post_as(db, "a.delegate2", "Ý kiến thứ hai"))
            db.commit()
            db.close()

    with app.app_context():
        first_id = post_as(first, "a.delegate", "Ý kiến thứ nhất")
        t = threading.Thread(target=second)
        t.start()
        t.join(0.8)
        assert second_done == []  # waiting for the topic...
        # ...before taking a number: none was drawn after the first comment's.
        from sqlalchemy import text

        with db_ext.engine.connect() as conn:
            assert conn.execute(text("SELECT last_value FROM forum_comments_id_seq")).scalar() \
                == first_id
        first.commit()
        first.close()
        t.join(10)
    assert second_done and second_done[0] > first_id

"""The forum's rules through its services: open and closed commenting, who reads and writes
where, hiding with a reason, threads and notices, agreeing, the edit window, anchors, the
committee's decisions, the general board and the diacritic-insensitive search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.db import session, utcnow
from core.errors import Forbidden, NotFound, ServiceError
from core.models import AuditEntry
from plugins.documents.models import Document
from plugins.forum import services
from plugins.forum.models import ForumAgree, ForumComment, ForumNotice, ForumTopic
from tests.plugins.forum.conftest import actor, comment, comments_count, post, topic


def thread_ids(username: str, topic_id: int) -> list[int]:
    """Every comment id `username` is shown in the topic (replies included), in order."""
    ev, user, roles = actor(username)
    out = []

    def walk(views):
        for v in views:
            if not v.redacted:
                out.append(v.comment.id)
            walk(v.replies)

    walk(services.thread(session(), ev, topic(topic_id), viewer=user, roles=roles))
    return out


def found(username: str, query: str, key: str = "a") -> list[str]:
    ev, user, roles = actor(username, key)
    return [c.body for c, _t in services.search(session(), ev, query, roles=roles, viewer=user)]


def audit(action: str) -> list[dict]:
    return [e.detail for e in session().scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))]


def notices_of(username: str) -> list[tuple[str, int]]:
    _ev, user, _roles = actor(username)
    return [(n.kind, n.comment_id) for n in session().scalars(
        select(ForumNotice).where(ForumNotice.user_id == user.id).order_by(ForumNotice.id))]


# ---------------------------------------------------------------- open and closed

def test_commenting_never_opened_closed_and_reopened(app, forum, ctx):
    db = session()
    ev, doc_admin, _roles = actor("a.documents")
    doc = db.get(Document, forum.docs["delegates"])
    assert services.document_topic(db, doc) is None
    # Closing what was never opened is refused, and makes no topic.
    with pytest.raises(ServiceError, match="never opened"):
        services.set_commenting(db, ev, doc, False, actor=doc_admin)
    db.rollback()
    assert services.document_topic(db, doc) is None
    t = services.set_commenting(db, ev, doc, True, actor=doc_admin)
    db.commit()
    first = post("a.delegate", t.id, "Ý kiến khi đang mở")
    services.set_commenting(db, ev, doc, False, actor=doc_admin)
    db.commit()
    assert topic(t.id).is_open is False
    _ev, user, roles = actor("a.delegate2")
    for kwargs in ({}, {"parent_id": first}):
        with pytest.raises(ServiceError) as refused:
            services.post_comment(db, ev, topic(t.id), author=user, roles=roles,
                                  body="Ý kiến khi đã đóng", **kwargs)
        assert refused.value.code == "closed"
        db.rollback()
    # Moderators and organisers are held to it too.
    _ev, admin, admin_roles = actor("a.admin")
    with pytest.raises(ServiceError, match="closed"):
        services.post_comment(db, ev, topic(t.id), author=admin, roles=admin_roles, body="x")
    db.rollback()
    assert comments_count() == 1
    services.set_commenting(db, ev, doc, True, actor=doc_admin)
    db.commit()
    again = post("a.delegate2", t.id, "Ý kiến khi mở lại")
    assert comment(again).body == "Ý kiến khi mở lại" and comments_count() == 2
    assert [(d["document"], d["topic"]) for d in audit("forum.close")] == [(doc.id, t.id)]
    assert len(audit("forum.open")) == 2 + 3  # the fixture opened the public, staff, b ones


def test_a_guest_reads_a_public_documents_comments_but_cannot_write(app, forum, ctx):
    db = session()
    tid = forum.topics["public"]
    cid = post("a.delegate", tid, "Đề nghị bổ sung số liệu")
    ev, guest, roles = actor("a.guest")
    assert roles == {"guest"}
    assert services.get_topic(db, ev, tid, roles).id == tid
    assert thread_ids("a.guest", tid) == [cid]
    with pytest.raises(Forbidden, match="not write"):
        services.post_comment(db, ev, topic(tid), author=guest, roles=roles, body="Khách")
    with pytest.raises(Forbidden):
        services.post_comment(db, ev, topic(tid), author=guest, roles=roles, body="Khách",
                              parent_id=cid)
    with pytest.raises(Forbidden):
        services.create_topic(db, ev, author=guest, roles=roles, title="T", body="B")
    with pytest.raises(Forbidden):
        services.toggle_agree(db, ev, comment(cid), user=guest, roles=roles)
    db.rollback()
    assert comments_count() == 1
    assert db.scalar(select(func.count()).select_from(ForumAgree)) == 0
    assert db.scalar(select(func.count()).select_from(ForumTopic).where(
        ForumTopic.document_id.is_(None))) == 0
    # A guest does not read the staff-only document's comments.
    with pytest.raises(NotFound):
        services.get_topic(db, ev, forum.topics["staff"], roles)


def test_a_delegate_cannot_read_or_write_a_staff_only_documents_comments(app, forum, ctx):
    db = session()
    tid = forum.topics["staff"]
    staff_comment = post("a.secretariat", tid, "Ý kiến nội bộ")
    ev, delegate, roles = actor("a.delegate")
    with pytest.raises(NotFound):
        services.get_topic(db, ev, tid, roles)
    assert not services.may_read_topic(db, ev, topic(tid), roles)
    with pytest.raises(NotFound):
        services.get_comment(db, ev, staff_comment, roles, delegate)
    with pytest.raises(NotFound):
        services.post_comment(db, ev, topic(tid), author=delegate, roles=roles, body="x")
    db.rollback()
    assert comments_count() == 1
    # A hall screen reads nothing, staff read it; the other event's staff do not see it.
    assert not services.may_read_topic(db, ev, topic(tid), {"projector"})
    assert thread_ids("a.credentials", tid) == [staff_comment]
    ev_b, _b, b_roles = actor("b.secretariat", "b")
    with pytest.raises(NotFound):
        services.get_topic(db, ev_b, tid, b_roles | {"organiser"})


# ---------------------------------------------------------------- hiding

def test_a_hidden_comment_is_seen_by_moderators_and_its_author_only(app, forum, ctx):
    db = session()
    tid = forum.topics["public"]
    earlier = post("a.delegate3", tid, "Ý kiến trước đó")
    bad = post("a.delegate", tid, "Nội dung không phù hợp")
    kept = post("a.delegate2", tid, "Ý kiến bình thường")
    ev, mod, _roles = actor("a.secretariat")
    for reason in ("", "   "):
        with pytest.raises(ServiceError, match="reason"):
            services.hide_comment(db, ev, comment(bad), actor=mod, reason=reason)
        db.rollback()
    assert comment(bad).hidden_at is None and audit("forum.hide") == []
    with pytest.raises(ServiceError):
        services.hide_comment(db, ev, comment(bad), actor=mod, reason="x" * 501)
    db.rollback()
    services.hide_comment(db, ev, comment(bad), actor=mod, reason="Lạc đề")
    db.commit()
    assert comment(bad).hidden_reason == "Lạc đề" and comment(bad).hidden_by_id == mod.id
    # Others do not see it at all (no reply hangs from it); moderators and the author do.
    for other in ("a.delegate2", "a.delegate3", "a.guest", "a.credentials"):
        assert thread_ids(other, tid) == [earlier, kept], other
    for insider in ("a.secretariat", "a.documents", "a.admin", "a.delegate"):
        assert thread_ids(insider, tid) == [earlier, bad, kept], insider
    ev, other, other_roles = actor("a.delegate3")
    with pytest.raises(NotFound):
        services.get_comment(db, ev, bad, other_roles, other)
    _ev, author, author_roles = actor("a.delegate")
    assert services.get_comment(db, ev, bad, author_roles, author).id == bad
    # The new-comments feed leaves it out as well (its author gets it).
    assert [v.comment.id for v in services.thread(
        db, ev, topic(tid), viewer=other, roles=other_roles, after=earlier)] == [kept]
    assert [v.comment.id for v in services.thread(
        db, ev, topic(tid), viewer=author, roles=author_roles, after=earlier)] == [bad, kept]
    # The author is told; the hiding is in the audit log with its reason.
    assert notices_of("a.delegate") == [("hidden", bad)]
    assert audit("forum.hide") == [{"comment": bad, "topic": tid, "author": author.id,
                                    "reason": "Lạc đề"}]
    # Hidden: no agreeing, no replying, no decision.
    with pytest.raises(ServiceError):
        services.toggle_agree(db, ev, comment(bad), user=other, roles=other_roles)
    with pytest.raises(ServiceError):
        services.resolve_comment(db, ev, comment(bad), actor=actor("a.documents")[1],
                                 resolution="noted")
    db.rollback()
    assert services.count(db, ev) == 2
    services.unhide_comment(db, ev, comment(bad), actor=mod)
    db.commit()
    assert thread_ids("a.delegate3", tid) == [earlier, bad, kept]
    assert comment(bad).hidden_reason is None
    assert audit("forum.unhide") == [{"comment": bad, "reason_was": "Lạc đề"}]
    assert services.count(db, ev) == 3


def test_a_hidden_comment_with_replies_stays_as_a_placeholder(app, forum, ctx):
    db = session()
    tid = forum.topics["public"]
    root = post("a.delegate", tid, "Gốc sẽ bị ẩn")
    reply = post("a.delegate2", tid, "Trả lời vẫn hiện", parent_id=root)
    ev, mod, _ = actor("a.documents")
    services.hide_comment(db, ev, comment(root), actor=mod, reason="Vi phạm")
    db.commit()
    _ev, viewer, roles = actor("a.delegate3")
    views = services.thread(db, ev, topic(tid), viewer=viewer, roles=roles)
    assert [(v.comment.id, v.redacted) for v in views] == [(root, True)]
    assert [(r.comment.id, r.redacted) for r in views[0].replies] == [(reply, False)]
    # Replying to the hidden comment is refused.
    with pytest.raises(ServiceError, match="not there"):
        services.post_comment(db, ev, topic(tid), author=viewer, roles=roles, body="Hỏi thêm",
                              parent_id=root)
    db.rollback()
    assert comments_count() == 2


# ---------------------------------------------------------------- threads and notices

def test_replies_inherit_the_anchor_and_notify_the_parents_author(app, forum, ctx):
    db = session()
    tid = forum.topics["public"]
    root = post("a.delegate", tid, "Trang 2 cần sửa", section="Phần II", page=2, paragraph="3")
    reply = post("a.delegate2", tid, "Đồng ý", parent_id=root, section="Phần I", page=3,
                 paragraph="9")
    nested = post("a.delegate", tid, "Cảm ơn", parent_id=reply)
    own = post("a.delegate", tid, "Bổ sung của chính tôi", parent_id=root)
    for cid in (reply, nested, own):
        c = comment(cid)
        assert (c.section, c.page, c.paragraph) == ("Phần II", 2, "3"), cid
    assert comment(reply).parent_id == root and comment(nested).parent_id == reply
    assert comment(root).version_number == 1
    # The parent's author is told of a reply from someone else, never of their own.
    assert notices_of("a.delegate") == [("reply", reply)]
    assert notices_of("a.delegate2") == [("reply", nested)]
    ev, author, _ = actor("a.delegate")
    assert services.unread_count(db, ev.id, author.id) == 1
    listed = services.notices(db, ev, author)
    assert [(n.kind, c.id, t.id) for n, c, t in listed] == [("reply", reply, tid)]
    services.mark_read(db, ev, author)
    db.commit()
    assert services.unread_count(db, ev.id, author.id) == 0
    assert services.unread_count(db, ev.id, actor("a.delegate2")[1].id) == 1
    # The tree: replies under what they answer.
    _ev, viewer, roles = actor("a.delegate3")
    views = services.thread(db, ev, topic(tid), viewer=viewer, roles=roles)
    assert [v.comment.id for v in views] == [root]
    assert [r.comment.id for r in views[0].replies] == [reply, own]
    assert [r.comment.id for r in views[0].replies[0].replies] == [nested]


def test_a_reply_must_name_a_comment_of_the_same_topic(app, forum, ctx):
    db = session()
    elsewhere = post("a.secretariat", forum.topics["staff"], "Ở văn kiện khác")
    ev, user, roles = actor("a.delegate")
    for parent_id in (elsewhere, 999_999):
        with pytest.raises(ServiceError, match="not there"):
            services.post_comment(db, ev, topic(forum.topics["public"]), author=user,
                                  roles=roles, body="Trả lời", parent_id=parent_id)
        db.rollback()
    assert comments_count() == 1 and notices_of("a.secretariat") == []


# ---------------------------------------------------------------- agreeing

def test_agreeing_toggles_once_per_person_and_not_with_oneself(app, forum, ctx):
    db = session()
    tid = forum.topics["public"]
    cid = post("a.delegate", tid, "Nên có bảng số liệu")
    ev, second, roles2 = actor("a.delegate2")
    _ev, third, roles3 = actor("a.delegate3")
    assert services.toggle_agree(db, ev, comment(cid), user=second, roles=roles2) is True
    assert services.toggle_agree(db, ev, comment(cid), user=third, roles=roles3) is True
    db.commit()
    assert services.agree_counts(db, [cid]) == {cid: 2}
    assert services.toggle_agree(db, ev, comment(cid), user=second, roles=roles2) is False
    db.commit()
    assert services.agree_counts(db, [cid]) == {cid: 1}
    assert services.toggle_agree(db, ev, comment(cid), user=second, roles=roles2) is True
    db.commit()
    assert services.agree_counts(db, [cid]) == {cid: 2}
    # The author cannot agree with themself.
    _ev, author, author_roles = actor("a.delegate")
    with pytest.raises(ServiceError, match="own comment"):
        services.toggle_agree(db, ev, comment(cid), user=author, roles=author_roles)
    db.rollback()
    # Shown in the thread: the count, and whether the viewer agreed.
    seen = {u: services.thread(db, ev, topic(tid), viewer=actor(u)[1], roles=actor(u)[2])[0]
            for u in ("a.delegate", "a.delegate2")}
    assert (seen["a.delegate"].agrees, seen["a.delegate"].agreed) == (2, False)
    assert (seen["a.delegate2"].agrees, seen["a.delegate2"].agreed) == (2, True)
    # Twice the same person is what the primary key forbids.
    db.add(ForumAgree(comment_id=cid, user_id=second.id))
    with pytest.raises(IntegrityError):
        db.flush()
    db.rollback()
    assert services.agree_counts(db, [cid]) == {cid: 2}


# ---------------------------------------------------------------- editing

def test_the_author_edits_within_the_window_only(app, forum, ctx):
    db = session()
    cid = post("a.delegate", forum.topics["public"], "Thẩm tra chưa kỹ")
    ev, author, _ = actor("a.delegate")
    services.edit_comment(db, ev, comment(cid), actor=author, body="  Thẩm định chưa kỹ  ")
    db.commit()
    c = comment(cid)
    assert c.body == "Thẩm định chưa kỹ" and c.body_folded == "tham dinh chua ky"
    assert c.edited_at is not None
    with pytest.raises(ServiceError, match="empty"):
        services.edit_comment(db, ev, c, actor=author, body="   ")
    db.rollback()
    # Someone else may not, even a moderator.
    for other in ("a.delegate2", "a.secretariat"):
        with pytest.raises(Forbidden):
            services.edit_comment(db, ev, comment(cid), actor=actor(other)[1], body="Sửa hộ")
        db.rollback()
    # Past the window, refused.
    minutes = app.config["FORUM_EDIT_MINUTES"]
    comment(cid).created_at = utcnow() - timedelta(minutes=minutes, seconds=5)
    db.commit()
    assert not services.may_edit(comment(cid), author)
    with pytest.raises(ServiceError) as late:
        services.edit_comment(db, ev, comment(cid), actor=author, body="Quá giờ")
    assert late.value.code == "too_late"
    db.rollback()
    comment(cid).created_at = utcnow() - timedelta(minutes=minutes - 1)
    db.commit()
    assert services.may_edit(comment(cid), author)
    assert comment(cid).body == "Thẩm định chưa kỹ"


def test_an_answered_comment_can_no_longer_be_edited(app, forum, ctx):
    db = session()
    cid = post("a.delegate", forum.topics["public"], "Đề nghị làm rõ")
    ev, author, _ = actor("a.delegate")
    services.resolve_comment(db, ev, comment(cid), actor=actor("a.documents")[1],
                             resolution="answered", reply="Đã làm rõ ở trang 2")
    db.commit()
    assert not services.may_edit(comment(cid), author)
    with pytest.raises(ServiceError):
        services.edit_comment(db, ev, comment(cid), actor=author, body="Đổi ý")
    db.rollback()
    assert comment(cid).body == "Đề nghị làm rõ"


# ---------------------------------------------------------------- anchors

BAD_ANCHORS = [
    ({"section": "Phần III"}, "no section"),
    ({"section": "phần i"}, "no section"),
    ({"page": 0}, "no page 0"),
    ({"page": 4}, "no page 4"),  # the report has three pages
    ({"page": -1}, "no page -1"),
    ({"page": "ba"}, "must be a number"),
    ({"page": "2.5"}, "must be a number"),
    ({"paragraph": "x" * 41}, "at most 40"),
]


def test_bad_anchors_are_refused(app, forum, ctx):
    ev, user, roles = actor("a.delegate")
    for anchor, error in BAD_ANCHORS:
        with pytest.raises(ServiceError, match=error):
            services.post_comment(session(), ev, topic(forum.topics["public"]), author=user,
                                  roles=roles, body="Ý kiến", **anchor)
        session().rollback()
    assert comments_count() == 0


def test_good_anchors_are_kept(app, forum, ctx):
    tid = forum.topics["public"]
    a = post("a.delegate", tid, "Một", section="Phần II", page="3", paragraph="x" * 40)
    b = post("a.delegate", tid, "Hai", section="", page="", paragraph="")
    c = post("a.delegate", tid, "Ba", page=1)
    assert (comment(a).section, comment(a).page, comment(a).paragraph) == \
        ("Phần II", 3, "x" * 40)
    assert (comment(b).section, comment(b).page, comment(b).paragraph) == (None, None, None)
    assert comment(c).page == 1


def test_a_board_comment_carries_no_anchor(app, forum, ctx):
    db = session()
    ev, user, roles = actor("a.delegate")
    board = services.create_topic(db, ev, author=user, roles=roles, title="Xe đưa đón",
                                  body="Lịch xe?")
    db.commit()
    for anchor in ({"section": "Phần I"}, {"page": 1}, {"paragraph": "2"}):
        with pytest.raises(ServiceError, match="only a comment on a document"):
            services.post_comment(db, ev, topic(board.id), author=user, roles=roles,
                                  body="Hỏi", **anchor)
        db.rollback()
    assert comments_count() == 1


# ---------------------------------------------------------------- the committee's decisions

def test_the_committee_accepts_notes_and_answers(app, forum, ctx):
    db = session()
    tid = forum.topics["public"]
    ids = [post("a.delegate", tid, f"Ý kiến {n}") for n in range(3)]
    ev, committee, _ = actor("a.documents")
    with pytest.raises(ServiceError, match="write the answer"):
        services.resolve_comment(db, ev, comment(ids[2]), actor=committee,
                                 resolution="answered", reply="  ")
    with pytest.raises(ServiceError, match="unknown decision"):
        services.resolve_comment(db, ev, comment(ids[2]), actor=committee,
                                 resolution="rejected")
    db.rollback()
    assert comment(ids[2]).resolution is None and notices_of("a.delegate") == []
    services.resolve_comment(db, ev, comment(ids[0]), actor=committee, resolution="accepted")
    services.resolve_comment(db, ev, comment(ids[1]), actor=committee, resolution="noted")
    services.resolve_comment(db, ev, comment(ids[2]), actor=committee, resolution="answered",
                             reply="Tiểu ban đã giải trình")
    db.commit()
    assert [(comment(i).resolution, comment(i).resolved_by_id) for i in ids] == [
        ("accepted", committee.id), ("noted", committee.id), ("answered", committee.id)]
    assert comment(ids[2]).resolution_reply == "Tiểu ban đã giải trình"
    assert notices_of("a.delegate") == [("resolved", i) for i in ids]
    assert [d["resolution"] for d in audit("forum.resolve")] == ["accepted", "noted",
                                                                 "answered"]
    # Cleared: the answer goes with the decision.
    services.resolve_comment(db, ev, comment(ids[2]), actor=committee, resolution=None,
                             reply="thừa")
    db.commit()
    assert (comment(ids[2]).resolution, comment(ids[2]).resolution_reply,
            comment(ids[2]).resolved_at) == (None, None, None)
    # The committee deciding on its own comment is not told of it.
    mine = post("a.documents", tid, "Ý kiến của tiểu ban")
    services.resolve_comment(db, ev, comment(mine), actor=committee, resolution="noted")
    db.commit()
    assert notices_of("a.documents") == []


# ---------------------------------------------------------------- the general board

def test_the_board_topics_closing_and_hiding(app, forum, ctx):
    db = session()
    ev, user, roles = actor("a.delegate")
    for title, error in (("  ", "needs a title"), ("t" * 301, "longer than 300")):
        with pytest.raises(ServiceError, match=error):
            services.create_topic(db, ev, author=user, roles=roles, title=title, body="Nội dung")
        db.rollback()
    with pytest.raises(ServiceError, match="empty"):
        services.create_topic(db, ev, author=user, roles=roles, title="Tiêu đề", body="")
    db.rollback()
    assert db.scalar(select(func.count()).select_from(ForumTopic).where(
        ForumTopic.document_id.is_(None))) == 0
    bus = services.create_topic(db, ev, author=user, roles=roles, title="Xe đưa đón",
                                body="Lịch xe từ Bát Xát?")
    db.commit()
    food = services.create_topic(db, ev, author=actor("a.delegate2")[1], roles=roles,
                                 title="Suất ăn", body="Ăn trưa ở đâu?")
    db.commit()
    post("a.delegate3", bus.id, "Xe 7 giờ sáng")
    post("a.delegate3", bus.id, "Thêm xe 13 giờ")
    assert [(r.topic.title, r.comments) for r in services.board(db, ev, roles)] == [
        ("Xe đưa đón", 3), ("Suất ăn", 1)]
    # Document topics are not on the board.
    assert forum.topics["public"] not in [r.topic.id for r in services.board(db, ev, roles)]
    # A moderator closes a topic: nobody may post; opening it again allows it.
    _ev, mod, _mod_roles = actor("a.secretariat")
    services.set_topic_open(db, ev, topic(food.id), False, actor=mod)
    db.commit()
    with pytest.raises(ServiceError, match="closed"):
        post("a.delegate", food.id, "Muộn")
    db.rollback()
    services.set_topic_open(db, ev, topic(food.id), True, actor=mod)
    db.commit()
    post("a.delegate", food.id, "Kịp")
    # Hidden, with a reason: gone for delegates, still listed for moderators.
    with pytest.raises(ServiceError, match="reason"):
        services.hide_topic(db, ev, topic(bus.id), actor=mod, reason="")
    db.rollback()
    services.hide_topic(db, ev, topic(bus.id), actor=mod, reason="Trùng chủ đề")
    db.commit()
    assert [r.topic.id for r in services.board(db, ev, roles)] == [food.id]
    assert {r.topic.id for r in services.board(db, ev, actor("a.documents")[2])} == \
        {food.id, bus.id}
    with pytest.raises(NotFound):
        services.get_topic(db, ev, bus.id, roles)
    assert services.get_topic(db, ev, bus.id, actor("a.secretariat")[2]).id == bus.id
    with pytest.raises(ServiceError, match="closed"):
        post("a.secretariat", bus.id, "Vẫn viết?")
    db.rollback()
    assert audit("forum.hide_topic")[0]["reason"] == "Trùng chủ đề"
    # A document's comments are closed, not hidden.
    with pytest.raises(ServiceError, match="closed, not hidden"):
        services.hide_topic(db, ev, topic(forum.topics["public"]), actor=mod, reason="x")
    db.rollback()
    assert topic(forum.topics["public"]).hidden_at is None


# ---------------------------------------------------------------- search

@pytest.fixture
def searchable(app, forum):
    with app.app_context():
        tid = forum.topics["public"]
        ids = {
            "thamtra": post("a.delegate", tid, "Việc thẩm tra chất lượng còn hình thức"),
            "doan": post("a.delegate2", tid, "Cơ sở Đoàn vùng cao khó khăn"),
            "both": post("a.delegate3", tid, "Thẩm tra đoàn viên ưu tú"),
            "hoa_old": post("a.delegate", tid, "Hoà hợp dân tộc"),     # old-style tone mark
            "hoa_new": post("a.delegate2", tid, "Hòa bình và phát triển"),  # new-style
            "underscore": post("a.delegate3", tid, "Mã tệp du_thao_v2 đã gửi"),
            "no_underscore": post("a.delegate3", tid, "Mã tệp duxthaoxv2 đã gửi"),
            "percent": post("a.delegate", tid, "Tăng 50% so với nhiệm kỳ trước"),
            "staff": post("a.secretariat", forum.topics["staff"], "Thẩm tra nội bộ nhân sự"),
            "b": post("b.delegate", forum.topics["b"], "Thẩm tra ở Yên Bái, Đoàn", key="b"),
        }
    return ids


def test_search_ignores_diacritics_case_and_tone_placement(app, searchable, ctx):
    assert found("a.delegate", "tham tra") == ["Thẩm tra đoàn viên ưu tú",
                                               "Việc thẩm tra chất lượng còn hình thức"]
    assert found("a.delegate", "THẨM TRA") == found("a.delegate", "tham tra")
    for query in ("doan", "đoàn", "ĐOÀN", "Doan", "đoan"):
        assert found("a.delegate", query) == ["Thẩm tra đoàn viên ưu tú",
                                              "Cơ sở Đoàn vùng cao khó khăn"], query
    for query in ("hoà", "hòa", "hoa", "HOÀ", "HÒA"):
        assert sorted(found("a.delegate", query)) == ["Hoà hợp dân tộc",
                                                      "Hòa bình và phát triển"], query
    # Words are ANDed, in any order.
    assert found("a.delegate", "doan tham") == ["Thẩm tra đoàn viên ưu tú"]
    assert found("a.delegate", "tham tra hinh thuc") == [
        "Việc thẩm tra chất lượng còn hình thức"]
    assert found("a.delegate", "tham yenbai") == []
    assert found("a.delegate", "") == [] and found("a.delegate", " ,.!? ") == []


def test_like_wildcards_in_a_query_are_literal(app, searchable, ctx):
    assert found("a.delegate", "du_thao_v2") == ["Mã tệp du_thao_v2 đã gửi"]
    assert found("a.delegate", "_") == ["Mã tệp du_thao_v2 đã gửi"]
    assert found("a.delegate", "%") == []
    assert found("a.delegate", "%%%") == []
    assert found("a.delegate", "50%") == ["Tăng 50% so với nhiệm kỳ trước"]
    assert found("a.delegate", "\\") == []


def test_search_is_limited_to_what_the_viewer_may_read(app, searchable, forum, ctx):
    assert "Thẩm tra nội bộ nhân sự" not in found("a.delegate", "tham tra")
    assert "Thẩm tra nội bộ nhân sự" not in found("a.guest", "tham tra")
    assert "Thẩm tra nội bộ nhân sự" in found("a.secretariat", "tham tra")
    # The other event is never searched, whoever asks.
    for username in ("a.delegate", "a.admin", "a.documents"):
        assert "Thẩm tra ở Yên Bái, Đoàn" not in found(username, "tham tra"), username
    assert found("b.delegate", "tham tra", "b") == ["Thẩm tra ở Yên Bái, Đoàn"]
    assert found("b.admin", "viec tham tra", "b") == []
    # A hidden comment: its author and the moderators find it, others do not.
    db = session()
    ev, mod, _ = actor("a.documents")
    services.hide_comment(db, ev, comment(searchable["doan"]), actor=mod, reason="Lạc đề")
    db.commit()
    assert "Cơ sở Đoàn vùng cao khó khăn" not in found("a.delegate", "doan")
    assert "Cơ sở Đoàn vùng cao khó khăn" in found("a.delegate2", "doan")
    assert "Cơ sở Đoàn vùng cao khó khăn" in found("a.secretariat", "doan")
    # A hidden board topic's comments are found by moderators only.
    ev, user, roles = actor("a.delegate3")
    t = services.create_topic(db, ev, author=user, roles=roles, title="Chủ đề",
                              body="Bàn về thẩm tra tư cách")
    db.commit()
    assert "Bàn về thẩm tra tư cách" in found("a.delegate", "tham tra")
    services.hide_topic(db, ev, topic(t.id), actor=mod, reason="Trùng")
    db.commit()
    assert "Bàn về thẩm tra tư cách" not in found("a.delegate", "tham tra")
    assert "Bàn về thẩm tra tư cách" not in found("a.delegate3", "tham tra")
    assert "Bàn về thẩm tra tư cách" in found("a.documents", "tham tra")
    # A person with no role in the event finds nothing.
    assert services.search(db, ev, "tham tra", roles=frozenset(), viewer=None) == []


def test_comment_bodies_are_checked(app, forum, ctx):
    db = session()
    ev, user, roles = actor("a.delegate")
    t = topic(forum.topics["public"])
    for body, error in (("", "empty"), (" \n\t ", "empty"), ("x" * 5001, "longer than 5000")):
        with pytest.raises(ServiceError, match=error):
            services.post_comment(db, ev, t, author=user, roles=roles, body=body)
        db.rollback()
    assert comments_count() == 0
    cid = post("a.delegate", forum.topics["public"], "x" * 5000)
    assert len(comment(cid).body) == 5000
    # Stored NFC whatever the phone sent (decomposed "Đoàn" here), so search and display agree.
    import unicodedata

    nfd = unicodedata.normalize("NFD", "Thẩm tra Đoàn")
    cid = post("a.delegate", forum.topics["public"], nfd + "\r\nDòng hai")
    assert comment(cid).body == "Thẩm tra Đoàn\nDòng hai"
    assert comment(cid).body_folded == "tham tra doan\ndong hai"
    assert db.scalar(select(ForumComment.id).where(ForumComment.body_folded.like("%doan%")))


def test_a_document_with_comments_cannot_be_deleted(app, forum, ctx):
    from plugins.documents.services import delete_document

    db = session()
    ev, manager, _roles = actor("a.documents")
    cid = post("a.delegate", forum.topics["public"], "Ý kiến phải được giữ lại")
    with pytest.raises(ServiceError, match="cannot be deleted"):
        delete_document(db, ev, db.get(Document, forum.docs["public"]), actor=manager)
    db.rollback()
    assert db.get(Document, forum.docs["public"]) is not None
    assert comment(cid).body == "Ý kiến phải được giữ lại"
    # Commenting opened but nobody wrote: the document goes, and its empty topic with it.
    delete_document(db, ev, db.get(Document, forum.docs["staff"]), actor=manager)
    db.commit()
    db.expire_all()
    assert db.get(Document, forum.docs["staff"]) is None
    assert db.get(ForumTopic, forum.topics["staff"]) is None

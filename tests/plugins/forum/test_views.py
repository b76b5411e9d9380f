"""The forum's pages through the Flask test client: closed commenting, readers and writers,
moderation, threads and notices, agreeing, editing, the committee's decisions, the board,
search, and bad input that changes nothing and gives the typed text back."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from sqlalchemy import func, select

from core.db import session, utcnow
from plugins.forum import services
from plugins.forum.models import ForumAgree, ForumComment, ForumNotice, ForumTopic
from tests.plugins.forum.conftest import FORUM, actor, comment, comments_count, post


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def flashes(page: str) -> list[str]:
    return re.findall(r'<p class="flash flash-(?:error|success)">([^<]*)</p>', page)


def send(client, topic_id: int, **form):
    """Post a comment through the form; the page it leads to (flash messages shown)."""
    return client.post(f"{FORUM}/t/{topic_id}/comments", data=form, follow_redirects=True)


def draft(page: str) -> str | None:
    """What the new-comment form's textarea holds on `page` (None: no form)."""
    m = re.search(r'<textarea name="body" rows="4" maxlength="5000" required>([^<]*)</textarea>',
                  page)
    return m[1] if m else None


def count_in(app) -> int:
    with app.app_context():
        return comments_count()


# ---------------------------------------------------------------- open and closed

def test_commenting_not_open_closed_and_reopened_through_the_pages(app, forum, client_for):
    delegate, mod = client_for("a.delegate"), client_for("a.documents")
    doc_url = forum.doc_url("delegates")
    page = text(delegate.get(doc_url))
    assert "Commenting on this document is not open." in page and draft(page) is None
    assert re.search(r"Dự thảo Chương trình hành động</a>\s*<small class=\"muted\">"
                     r"commenting not open", text(delegate.get(f"{FORUM}/")))
    # Closing what was never opened: refused, nothing made.
    page = text(mod.post(f"{FORUM}/d/{forum.docs['delegates']}/commenting",
                         data={"action": "close"}, follow_redirects=True))
    assert "commenting on this document was never opened" in flashes(page)
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(ForumTopic)) == 3
    # A delegate may not open it.
    assert delegate.post(f"{FORUM}/d/{forum.docs['delegates']}/commenting",
                         data={"action": "open"}).status_code == 403
    page = text(mod.post(f"{FORUM}/d/{forum.docs['delegates']}/commenting",
                         data={"action": "open"}, follow_redirects=True))
    assert "Commenting is open." in flashes(page)
    with app.app_context():
        tid = session().scalar(select(ForumTopic.id).where(
            ForumTopic.document_id == forum.docs["delegates"]))
    page = text(delegate.get(doc_url))
    assert draft(page) == "" and f'data-forum-topic="{tid}"' in page
    page = text(send(delegate, tid, body="Ý kiến đầu tiên"))
    assert "Your comment is posted." in flashes(page) and "Ý kiến đầu tiên" in page
    page = text(mod.post(f"{FORUM}/d/{forum.docs['delegates']}/commenting",
                         data={"action": "close"}, follow_redirects=True))
    assert "Commenting is closed." in flashes(page)
    page = text(delegate.get(doc_url))
    assert "Commenting on this document is closed." in page and draft(page) is None
    assert "Ý kiến đầu tiên" in page  # what was said stays readable
    assert re.search(r"Dự thảo Chương trình hành động</a>\s*<small class=\"muted\">"
                     r"1 comment · closed", text(delegate.get(f"{FORUM}/")))
    page = text(send(delegate, tid, body="Ý kiến muộn"))
    assert flashes(page) == ["Your comment was not posted: commenting here is closed."]
    assert count_in(app) == 1
    mod.post(f"{FORUM}/d/{forum.docs['delegates']}/commenting", data={"action": "open"})
    page = text(send(delegate, tid, body="Ý kiến khi mở lại"))
    assert "Your comment is posted." in flashes(page)
    assert count_in(app) == 2


def test_a_guest_reads_public_comments_but_cannot_post(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        cid = post("a.delegate", tid, "Ý kiến công khai")
    guest = client_for("a.guest")
    page = text(guest.get(forum.doc_url("public")))
    assert "Ý kiến công khai" in page and draft(page) is None
    assert f'action="{FORUM}/c/{cid}/agree"' not in page
    fragment = guest.get(f"{FORUM}/t/{tid}/comments")
    assert fragment.status_code == 200 and "Ý kiến công khai" in text(fragment)
    page = text(send(guest, tid, body="Khách góp ý"))
    assert flashes(page) == ["Your comment was not posted: You may read the forum but not "
                             "write in it.."]
    page = text(send(guest, tid, body="Khách trả lời", parent_id=str(cid)))
    assert "You may read the forum but not write in it." in flashes(page)[0]
    page = text(guest.post(f"{FORUM}/c/{cid}/agree", follow_redirects=True))
    assert "You may read the forum but not write in it." in flashes(page)
    page = text(guest.post(f"{FORUM}/topics", data={"title": "Khách", "body": "Hỏi"},
                           follow_redirects=True))
    assert "You may read the forum but not write in it." in flashes(page)[0]
    with app.app_context():
        assert comments_count() == 1
        assert session().scalar(select(func.count()).select_from(ForumAgree)) == 0
    # The guest's document list and the forum's list do not hold the delegates' documents.
    assert "Dự thảo Chương trình hành động" not in text(guest.get(f"{FORUM}/"))


def test_a_staff_only_document_and_its_comments_are_not_found_by_a_delegate(app, forum,
                                                                           client_for):
    tid = forum.topics["staff"]
    with app.app_context():
        cid = post("a.secretariat", tid, "Ý kiến nội bộ")
    delegate = client_for("a.delegate")
    for url in (forum.doc_url("staff"), f"{FORUM}/t/{tid}/comments", f"{FORUM}/t/{tid}",
                f"{FORUM}/c/{cid}/edit"):
        resp = delegate.get(url)
        assert resp.status_code == 404, url
        assert "Ý kiến nội bộ" not in text(resp)
    for url, data in ((f"{FORUM}/t/{tid}/comments", {"body": "Xen vào"}),
                      (f"{FORUM}/c/{cid}/agree", {})):
        assert delegate.post(url, data=data).status_code == 404, url
    assert count_in(app) == 1
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(ForumAgree)) == 0
    staff = client_for("a.credentials")
    assert "Ý kiến nội bộ" in text(staff.get(forum.doc_url("staff")))
    assert "Ý kiến nội bộ" in text(staff.get(f"{FORUM}/t/{tid}/comments"))
    # Another event's people: nothing at all.
    other = client_for("b.secretariat")
    assert other.get(forum.doc_url("staff")).status_code == 404
    assert other.get(f"/yen-bai/dai-hoi/forum/t/{tid}/comments").status_code == 404


# ---------------------------------------------------------------- moderation

def test_a_hidden_comment_through_the_pages(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        earlier = post("a.delegate3", tid, "Ý kiến trước")
        bad = post("a.delegate", tid, "Lời lẽ không phù hợp thẩm tra")
        post("a.delegate2", tid, "Ý kiến xây dựng thẩm tra")
    mod, other, author = client_for("a.secretariat"), client_for("a.delegate2"), \
        client_for("a.delegate")
    # Delegates may not moderate; a moderator must give the reason.
    assert other.post(f"{FORUM}/c/{bad}/moderate",
                      data={"action": "hide", "reason": "x"}).status_code == 403
    page = text(mod.post(f"{FORUM}/c/{bad}/moderate", data={"action": "hide", "reason": " "},
                         follow_redirects=True))
    assert flashes(page) == ["Nothing was changed: give the reason."]
    with app.app_context():
        assert comment(bad).hidden_at is None
    assert mod.post(f"{FORUM}/c/{bad}/moderate",
                    data={"action": "hide", "reason": "Ngôn từ thiếu chuẩn mực"}).status_code \
        == 302
    urls = (forum.doc_url("public"), f"{FORUM}/t/{tid}/comments",
            f"{FORUM}/t/{tid}/comments?after={earlier}", f"{FORUM}/search?q=tham+tra")
    for url in urls:
        page = text(other.get(url))
        assert "Lời lẽ không phù hợp" not in page, url
        assert "A comment hidden by the moderators." not in page, url
        assert "Ý kiến xây dựng" in page, url
    assert other.get(f"{FORUM}/c/{bad}/edit").status_code == 404
    for insider in (mod, client_for("a.documents")):
        for url in urls[:2] + urls[3:]:
            assert "Lời lẽ không phù hợp" in text(insider.get(url)), url
    page = text(author.get(forum.doc_url("public")))
    assert "Lời lẽ không phù hợp" in page
    assert "Hidden by the moderators: Ngôn từ thiếu chuẩn mực" in page
    assert "Lời lẽ không phù hợp" in text(author.get(f"{FORUM}/search?q=tham+tra"))
    assert "<b data-forum-unread>1</b>" in text(author.get(f"{FORUM}/"))
    page = text(author.get(f"{FORUM}/notices"))
    assert "was hidden by the moderators: Ngôn từ thiếu chuẩn mực" in page
    with app.app_context():
        [entry] = [e for e in session().scalars(select(ForumNotice))]
        assert (entry.kind, entry.comment_id, entry.read_at is not None) == ("hidden", bad, True)
        from core.models import AuditEntry

        [logged] = session().scalars(select(AuditEntry).where(AuditEntry.action == "forum.hide"))
        assert logged.detail["reason"] == "Ngôn từ thiếu chuẩn mực"
        assert logged.actor_name == "a.secretariat" and logged.detail["comment"] == bad
    # Shown again.
    assert mod.post(f"{FORUM}/c/{bad}/moderate", data={"action": "unhide"}).status_code == 302
    assert "Lời lẽ không phù hợp" in text(other.get(forum.doc_url("public")))
    assert mod.post(f"{FORUM}/c/{bad}/moderate", data={"action": "drop"}).status_code == 400


# ---------------------------------------------------------------- threads and notices

def test_replying_and_the_notices(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        root = post("a.delegate", tid, "Cần số liệu theo huyện", section="Phần I", page=2)
    author, replier = client_for("a.delegate"), client_for("a.delegate2")
    page = text(send(replier, tid, body="Tôi đồng tình", parent_id=str(root),
                     section="Phần II", page="3"))
    assert "Your comment is posted." in flashes(page)
    with app.app_context():
        reply = session().scalar(select(ForumComment).where(ForumComment.parent_id == root))
        assert (reply.body, reply.section, reply.page) == ("Tôi đồng tình", "Phần I", 2)
        reply_id = reply.id
    # Replying to oneself sends no notice.
    send(author, tid, body="Bổ sung thêm", parent_id=str(root))
    index = text(author.get(f"{FORUM}/"))
    assert "<b data-forum-unread>1</b>" in index and "Forum (1)" in index
    assert "<b data-forum-unread></b>" in text(replier.get(f"{FORUM}/"))
    page = text(author.get(f"{FORUM}/notices"))
    assert "A reply to your comment in “Dự thảo Báo cáo chính trị”" in page
    assert f"/documents/{forum.docs['public']}#c{reply_id}" in page
    assert page.count('<li class="unread">') == 1
    # Seen once: read.
    index = text(author.get(f"{FORUM}/"))
    assert "<b data-forum-unread></b>" in index and "Forum (1)" not in index
    assert '<li class="unread">' not in text(author.get(f"{FORUM}/notices"))
    # The reply sits under its comment on the page.
    page = text(replier.get(forum.doc_url("public")))
    assert re.search(rf'id="c{root}"[\s\S]*<ul class="replies">\s*<li[^>]*id="c{reply_id}"', page)


# ---------------------------------------------------------------- agreeing, editing, deciding

def test_agreeing_through_the_pages(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        cid = post("a.delegate", tid, "Đề xuất hay")
    author, d2, d3 = (client_for(u) for u in ("a.delegate", "a.delegate2", "a.delegate3"))
    assert d2.post(f"{FORUM}/c/{cid}/agree").status_code == 302
    d3.post(f"{FORUM}/c/{cid}/agree")
    page = text(d2.get(forum.doc_url("public")))
    assert 'aria-pressed="true">👍 Agree <b data-agrees>2</b>' in page
    assert 'aria-pressed="false">👍 Agree <b data-agrees>2</b>' in text(
        client_for("a.secretariat").get(forum.doc_url("public")))
    # The author sees the count, with no button; pressing it anyway is refused.
    page = text(author.get(forum.doc_url("public")))
    assert '<span class="muted">👍 <b data-agrees>2</b></span>' in page
    page = text(author.post(f"{FORUM}/c/{cid}/agree", follow_redirects=True))
    assert "you cannot agree with your own comment" in flashes(page)
    d2.post(f"{FORUM}/c/{cid}/agree")  # taken back
    assert 'aria-pressed="false">👍 Agree <b data-agrees>1</b>' in text(
        d2.get(forum.doc_url("public")))
    with app.app_context():
        assert services.agree_counts(session(), [cid]) == {cid: 1}


def test_editing_through_the_pages(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        cid = post("a.delegate", tid, "Bản đầu")
    author, other = client_for("a.delegate"), client_for("a.delegate2")
    assert f'href="{FORUM}/c/{cid}/edit"' in text(author.get(forum.doc_url("public")))
    assert f'href="{FORUM}/c/{cid}/edit"' not in text(other.get(forum.doc_url("public")))
    page = text(author.get(f"{FORUM}/c/{cid}/edit"))
    assert ">Bản đầu</textarea>" in page
    assert other.get(f"{FORUM}/c/{cid}/edit").status_code == 403
    assert other.post(f"{FORUM}/c/{cid}/edit", data={"body": "Sửa hộ"}).status_code == 403
    assert client_for("a.secretariat").post(f"{FORUM}/c/{cid}/edit",
                                            data={"body": "Sửa hộ"}).status_code == 403
    page = text(author.post(f"{FORUM}/c/{cid}/edit", data={"body": ""},
                            follow_redirects=True))
    assert flashes(page) == ["Nothing was changed: the comment is empty."]
    page = text(author.post(f"{FORUM}/c/{cid}/edit", data={"body": "Bản sửa"},
                            follow_redirects=True))
    assert "Comment corrected." in flashes(page) and "Bản sửa" in page and "edited" in page
    # Past the window.
    with app.app_context():
        comment(cid).created_at = utcnow() - timedelta(
            minutes=app.config["FORUM_EDIT_MINUTES"] + 1)
        session().commit()
    assert f'href="{FORUM}/c/{cid}/edit"' not in text(author.get(forum.doc_url("public")))
    assert "The time to edit this comment has passed." in text(
        author.get(f"{FORUM}/c/{cid}/edit"))
    page = text(author.post(f"{FORUM}/c/{cid}/edit", data={"body": "Quá hạn"},
                            follow_redirects=True))
    assert flashes(page) == ["Nothing was changed: the time to edit this comment has passed."]
    with app.app_context():
        assert comment(cid).body == "Bản sửa"
    # Answered by the committee: no more editing, even inside the window.
    with app.app_context():
        fresh = post("a.delegate", tid, "Câu hỏi")
    client_for("a.documents").post(f"{FORUM}/c/{fresh}/resolve",
                                   data={"resolution": "answered", "reply": "Đã trả lời"})
    page = text(author.post(f"{FORUM}/c/{fresh}/edit", data={"body": "Đổi câu hỏi"},
                            follow_redirects=True))
    assert "Nothing was changed" in flashes(page)[0]
    with app.app_context():
        assert comment(fresh).body == "Câu hỏi"


def test_the_committees_decisions_through_the_pages(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        cid = post("a.delegate", tid, "Làm rõ chỉ tiêu")
    committee = client_for("a.documents")
    for username in ("a.delegate", "a.secretariat", "a.guest"):
        assert client_for(username).post(f"{FORUM}/c/{cid}/resolve",
                                         data={"resolution": "noted"}).status_code == 403
    page = text(committee.post(f"{FORUM}/c/{cid}/resolve", data={"resolution": "answered"},
                               follow_redirects=True))
    assert flashes(page) == ["Nothing was changed: write the answer."]
    with app.app_context():
        assert comment(cid).resolution is None
        assert session().scalar(select(func.count()).select_from(ForumNotice)) == 0
    page = text(committee.post(f"{FORUM}/c/{cid}/resolve", data={
        "resolution": "answered", "reply": "Chỉ tiêu tính theo năm"}, follow_redirects=True))
    assert "Decision saved." in flashes(page)
    author = client_for("a.delegate")
    page = text(author.get(forum.doc_url("public")))
    assert "Answered" in page and "The drafting committee: Chỉ tiêu tính theo năm" in page
    assert "decided on your comment in “Dự thảo Báo cáo chính trị”: Answered" in text(
        author.get(f"{FORUM}/notices"))
    for resolution in ("accepted", "noted"):
        committee.post(f"{FORUM}/c/{cid}/resolve", data={"resolution": resolution})
        with app.app_context():
            assert comment(cid).resolution == resolution
    # From the summary page, back to it.
    resp = committee.post(f"{FORUM}/c/{cid}/resolve", data={"resolution": "", "back": "summary"})
    assert resp.headers["Location"].endswith(f"{FORUM}/summary#c{cid}")
    with app.app_context():
        assert comment(cid).resolution is None


# ---------------------------------------------------------------- the general board

def test_the_board_through_the_pages(app, forum, client_for):
    delegate, other, mod = (client_for(u) for u in ("a.delegate", "a.delegate2",
                                                     "a.secretariat"))
    page = text(delegate.post(f"{FORUM}/topics", data={"title": " ", "body": "Nội dung"},
                              follow_redirects=True))
    assert flashes(page) == ["The topic was not posted: the topic needs a title."]
    resp = delegate.post(f"{FORUM}/topics", data={"title": "Xe đưa đón đại biểu",
                                                  "body": "Lịch xe từ Bát Xát?"})
    with app.app_context():
        t = session().scalar(select(ForumTopic).where(ForumTopic.document_id.is_(None)))
        tid = t.id
    assert resp.headers["Location"].endswith(f"{FORUM}/t/{tid}#comments")
    index = text(other.get(f"{FORUM}/"))
    assert "Xe đưa đón đại biểu" in index and "1 comment" in index
    page = text(other.get(f"{FORUM}/t/{tid}"))
    assert "Lịch xe từ Bát Xát?" in page and draft(page) == ""
    assert "Câu trả lời" in text(send(other, tid, body="Câu trả lời"))
    # A document's topic opened as a board topic goes to the document.
    assert other.get(f"{FORUM}/t/{forum.topics['public']}").headers["Location"].endswith(
        f"/documents/{forum.docs['public']}#comments")
    # Only moderators close or hide.
    assert delegate.post(f"{FORUM}/t/{tid}/state", data={"action": "close"}).status_code == 403
    assert mod.post(f"{FORUM}/t/{tid}/state", data={"action": "close"}).status_code == 302
    page = text(other.get(f"{FORUM}/t/{tid}"))
    assert "This topic is closed." in page and draft(page) is None
    page = text(send(other, tid, body="Muộn rồi"))
    assert "commenting here is closed" in flashes(page)[0]
    assert mod.post(f"{FORUM}/t/{tid}/state", data={"action": "open"}).status_code == 302
    page = text(mod.post(f"{FORUM}/t/{tid}/state", data={"action": "hide", "reason": ""},
                         follow_redirects=True))
    assert flashes(page) == ["give the reason"]
    resp = mod.post(f"{FORUM}/t/{tid}/state", data={"action": "hide", "reason": "Đã giải đáp"})
    assert resp.headers["Location"].endswith(f"{FORUM}/")
    assert "Xe đưa đón đại biểu" not in text(other.get(f"{FORUM}/"))
    assert other.get(f"{FORUM}/t/{tid}").status_code == 404
    assert other.get(f"{FORUM}/t/{tid}/comments").status_code == 404
    assert "hidden: Đã giải đáp" in text(mod.get(f"{FORUM}/"))
    assert mod.get(f"{FORUM}/t/{tid}").status_code == 200
    assert mod.post(f"{FORUM}/t/{tid}/state", data={"action": "x"}).status_code == 400
    # A document's comments cannot be hidden as a topic.
    page = text(mod.post(f"{FORUM}/t/{forum.topics['public']}/state",
                         data={"action": "hide", "reason": "x"}, follow_redirects=True))
    assert "a document's comments are closed, not hidden" in flashes(page)


def test_search_page(app, forum, client_for):
    with app.app_context():
        post("a.delegate", forum.topics["public"], "Thẩm tra tư cách <b>đại biểu</b>")
        post("a.secretariat", forum.topics["staff"], "Thẩm tra nội bộ")
        post("b.delegate", forum.topics["b"], "Thẩm tra Yên Bái", key="b")
    page = client_for("a.delegate").get(f"{FORUM}/search?q=THAM+TRA").get_data(as_text=True)
    assert "1 comment found" in page
    assert "Thẩm tra tư cách &lt;b&gt;đại biểu&lt;/b&gt;" in page  # escaped, not markup
    assert "nội bộ" not in page and "Yên Bái" not in page
    page = text(client_for("a.secretariat").get(f"{FORUM}/search?q=tham%20tra"))
    assert "2 comments found" in page and "Yên Bái" not in page
    assert "comments found" not in text(client_for("a.delegate").get(f"{FORUM}/search"))


# ---------------------------------------------------------------- bad input

GONE = "the comment you reply to is not there any more"


def test_bad_input_changes_nothing_and_keeps_the_typed_text(app, forum, client_for):
    tid = forum.topics["public"]
    with app.app_context():
        parent = post("a.delegate2", tid, "Ý kiến gốc")
    delegate = client_for("a.delegate")
    long_body = "Dài quá. " * 667  # 6003 characters
    cases = [
        ({"body": ""}, "the comment is empty", ""),
        ({"body": " \n ", "parent_id": str(parent)}, "the comment is empty", ""),
        # Too long for the session cookie: the page's script gives it back (forum.js).
        ({"body": long_body}, "the comment is longer than 5000 characters", ""),
        ({"body": "Trả lời lạc", "parent_id": "999999"}, GONE, "Trả lời lạc"),
        ({"body": "Trả lời hỏng", "parent_id": "abc"}, GONE, "Trả lời hỏng"),
        ({"body": "Trả lời to", "parent_id": "9" * 20}, GONE, "Trả lời to"),
        ({"body": "Trang chữ", "page": "hai"}, "the page must be a number", "Trang chữ"),
        ({"body": "Trang mũ", "page": "²"}, "the page must be a number", "Trang mũ"),
        ({"body": "Trang âm", "page": "-1"}, "the page must be a number", "Trang âm"),
        ({"body": "Trang lớn", "page": "99999999999"}, "the page must be a number",
         "Trang lớn"),
        ({"body": "Trang thiếu", "page": "7"}, "the document has no page 7", "Trang thiếu"),
        ({"body": "Phần lạ", "section": "Phần IX"}, "the document has no section “Phần IX”",
         "Phần lạ"),
        ({"body": "Đoạn dài", "paragraph": "đ" * 41}, "the paragraph is at most 40 characters",
         "Đoạn dài"),
    ]
    for form, error, kept in cases:
        page = text(send(delegate, tid, **form))
        assert flashes(page) == [f"Your comment was not posted: {error}."], form
        with app.app_context():
            assert comments_count() == 1, form
            assert session().scalar(select(func.count()).select_from(ForumNotice)) == 0
        # The page the refusal leads to gave the text back in the form, once.
        assert draft(page).strip() == kept, form
        assert draft(text(delegate.get(forum.doc_url("public")))) == "", form
    # A draft belongs to its topic: another topic's form does not get it.
    with app.app_context():
        board = services.create_topic(session(), actor("a.delegate")[0],
                                      author=actor("a.delegate")[1], roles={"delegate"},
                                      title="Bảng tin", body="Mở đầu")
        session().commit()
        board_id = board.id
    delegate.post(f"{FORUM}/t/{tid}/comments", data={"body": "Của văn kiện", "page": "x"})
    assert draft(text(delegate.get(f"{FORUM}/t/{board_id}"))) == ""
    assert draft(text(delegate.get(forum.doc_url("public")))) == "Của văn kiện"
    # The new-comments feed takes only a sensible "after".
    for after in ("abc", "²", "9" * 30, "-5"):
        assert delegate.get(f"{FORUM}/t/{tid}/comments?after={after}").status_code == 200

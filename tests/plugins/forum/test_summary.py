"""The drafting committee's summary: its counts equal the comments counted directly, hidden
ones left out and counted apart, as a page, an XLSX and a PDF for the committee only, and
without names or units when the forum is anonymous."""

from __future__ import annotations

import io
from collections import Counter

from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import func, select

from core.db import session
from plugins.delegates.models import Delegate
from plugins.forum import services, summary
from plugins.forum.models import ForumAgree, ForumComment
from tests.plugins.forum.conftest import FORUM, actor, comment, post, topic


def agree(username: str, cid: int) -> None:
    ev, user, roles = actor(username)
    assert services.toggle_agree(session(), ev, comment(cid), user=user, roles=roles)
    session().commit()


def hide(cid: int, reason: str = "Lạc đề") -> None:
    ev, mod, _roles = actor("a.documents")
    services.hide_comment(session(), ev, comment(cid), actor=mod, reason=reason)
    session().commit()


def resolve(cid: int, resolution: str, reply: str | None = None) -> None:
    ev, committee, _roles = actor("a.documents")
    services.resolve_comment(session(), ev, comment(cid), actor=committee,
                             resolution=resolution, reply=reply)
    session().commit()


def discussion(forum) -> dict[str, int]:
    """Comments on two documents and the board: the whole document, both sections, replies
    (one two deep), agreements, decisions and one hidden comment (agreed with before)."""
    pub, staff = forum.topics["public"], forum.topics["staff"]
    ids = {
        "w1": post("a.delegate", pub, "Bố cục dự thảo rõ ràng"),
        "w2": post("a.delegate3", pub, "Cần rút gọn phần mở đầu"),
        "s1": post("a.delegate2", pub, "Bổ sung số liệu công trình thanh niên",
                   section="Phần I", page=1),
        "s2": post("a.secretariat", pub, "Sửa lỗi chính tả đoạn 4", section="Phần I",
                   paragraph="4"),
        "s3": post("a.delegate", pub, "Nêu rõ nguyên nhân chủ quan", section="Phần II"),
        "h": post("a.delegate2", pub, "Ý kiến lạc đề sẽ bị ẩn", section="Phần II", page=3),
        "st": post("a.secretariat", staff, "Ý kiến trên văn kiện nội bộ"),
    }
    ids["r1"] = post("a.delegate2", pub, "Tôi đồng tình với bố cục", parent_id=ids["w1"])
    ids["r1a"] = post("a.delegate3", pub, "Nhất trí", parent_id=ids["r1"])
    ids["r2"] = post("a.delegate", pub, "Đúng, cần số liệu theo huyện", parent_id=ids["s1"])
    for who, what in (("a.delegate2", "w1"), ("a.delegate3", "w1"), ("a.delegate", "r1"),
                      ("a.delegate", "s1"), ("a.delegate3", "s1"), ("a.secretariat", "s1"),
                      ("a.delegate2", "s3"), ("a.delegate", "h"), ("a.delegate3", "h"),
                      ("a.delegate", "r1a"), ("a.delegate2", "st")):
        agree(who, ids[what])
    hide(ids["h"])
    resolve(ids["s1"], "accepted")
    resolve(ids["w2"], "answered", "Tiểu ban đã rút gọn")
    resolve(ids["r2"], "noted")
    # The board is not part of the summary, nor its hidden comments.
    ev, user, roles = actor("a.delegate")
    board = services.create_topic(session(), ev, author=user, roles=roles, title="Xe đưa đón",
                                  body="Lịch xe về Bát Xát?")
    session().commit()
    ids["board"] = post("a.delegate2", board.id, "Xe 7 giờ")
    hide(ids["board"], "Trùng")
    return ids


def direct_counts(topic_id: int):
    """Straight from the tables: visible comments and agreements per section, and hidden."""
    db = session()
    visible = (ForumComment.topic_id == topic_id) & ForumComment.hidden_at.is_(None)
    comments = dict(db.execute(select(ForumComment.section, func.count())
                               .where(visible).group_by(ForumComment.section)).all())
    agrees = dict(db.execute(select(ForumComment.section, func.count())
                             .join(ForumAgree, ForumAgree.comment_id == ForumComment.id)
                             .where(visible).group_by(ForumComment.section)).all())
    hidden = db.scalar(select(func.count()).select_from(ForumComment).where(
        ForumComment.topic_id == topic_id, ForumComment.hidden_at.is_not(None)))
    return comments, agrees, hidden


def test_the_summary_counts_equal_the_comments(app, forum, ctx):
    ids = discussion(forum)
    ev = actor("a.documents")[0]
    docs = summary.build(session(), ev)
    assert [d.document.id for d in docs] == [forum.docs["public"], forum.docs["staff"]]
    for d in docs:
        comments, agrees, hidden = direct_counts(services.document_topic(session(),
                                                                         d.document).id)
        assert {s.title: s.comments for s in d.sections} == comments
        assert {s.title: s.agrees for s in d.sections} == {k: agrees.get(k, 0)
                                                           for k in comments}
        assert d.comments == sum(comments.values())
        assert d.agrees == sum(agrees.values())
        assert d.hidden == hidden
    pub = docs[0]
    # The whole document first, then the sections in the document's order.
    assert [s.title for s in pub.sections] == [None, "Phần I", "Phần II"]
    assert [(s.comments, s.agrees) for s in pub.sections] == [(4, 4), (3, 3), (1, 1)]
    assert (pub.comments, pub.agrees, pub.hidden) == (8, 8, 1)
    assert pub.resolved == {"accepted": 1, "noted": 1, "answered": 1}
    # Replies stay under their comment; the hidden one and its agreements are nowhere.
    whole = pub.sections[0]
    assert [i.comment.id for i in whole.items] == [ids["w1"], ids["w2"]]
    assert [r.comment.id for r in whole.items[0].replies] == [ids["r1"]]
    assert [r.comment.id for r in whole.items[0].replies[0].replies] == [ids["r1a"]]
    every = [i.comment.id for d in docs for s in d.sections for root in s.items
             for i in summary.walk(root)]
    assert ids["h"] not in every and ids["board"] not in every
    assert Counter(every) == Counter(set(every))  # nothing twice
    assert [(i.comment.id, i.agrees) for i in pub.sections[1].items] == [(ids["s1"], 3),
                                                                         (ids["s2"], 0)]
    # The comments hidden from the summary: the document's one, not the board's.
    assert summary.hidden_total(session(), ev) == 1
    assert (docs[1].comments, docs[1].agrees, docs[1].hidden) == (1, 1, 0)


def test_a_visible_reply_to_a_hidden_comment_is_counted_apart(app, forum, ctx):
    tid = forum.topics["public"]
    root = post("a.delegate", tid, "Sẽ bị ẩn", section="Phần I")
    reply = post("a.delegate2", tid, "Trả lời trước khi ẩn", parent_id=root)
    post("a.delegate3", tid, "Trả lời của trả lời", parent_id=reply)
    kept = post("a.delegate3", tid, "Ý kiến còn lại")
    hide(root)
    docs = summary.build(session(), actor("a.documents")[0])
    [doc] = [d for d in docs if d.document.id == forum.docs["public"]]
    listed = [i.comment.id for s in doc.sections for root_item in s.items
              for i in summary.walk(root_item)]
    assert listed == [kept]
    # Every comment of the document is either in the summary or counted as left out.
    total = session().scalar(select(func.count()).select_from(ForumComment).where(
        ForumComment.topic_id == tid))
    assert doc.comments + doc.hidden == total == 4
    assert summary.hidden_total(session(), actor("a.documents")[0]) == doc.hidden == 3


def test_the_summary_page_xlsx_and_pdf_for_the_committee(app, forum, client_for):
    with app.app_context():
        ids = discussion(forum)
    committee = client_for("a.documents")
    page = committee.get(f"{FORUM}/summary").get_data(as_text=True)
    assert "Bổ sung số liệu công trình thanh niên" in page
    assert "Ý kiến lạc đề sẽ bị ẩn" not in page and "Xe 7 giờ" not in page
    assert f'data-summary-doc="{forum.docs["public"]}"' in page
    assert "<b data-count>8</b>" in page and "<b data-agrees>8</b>" in page
    assert "1 comment hidden by the moderators is left out" in page
    assert "A Secretariat" in page and "Tỉnh đoàn Lào Cai" in page  # names and units shown
    assert "Tiểu ban đã rút gọn" in page

    resp = committee.get(f"{FORUM}/summary.xlsx")
    assert resp.status_code == 200
    ws = load_workbook(io.BytesIO(resp.data)).active
    rows = [r for r in ws.iter_rows(min_row=5, values_only=True) if any(r)]
    with app.app_context():
        visible = {c.id: c for c in session().scalars(select(ForumComment).where(
            ForumComment.hidden_at.is_(None),
            ForumComment.topic_id.in_([forum.topics["public"], forum.topics["staff"]])))}
        agrees = services.agree_counts(session(), list(visible))
        by_id = {r[3]: r for r in rows}
        assert len(rows) == len(by_id) == len(visible) == 9
        for cid, c in visible.items():
            row = by_id[cid]
            assert row[5] == c.body and row[8] == agrees.get(cid, 0), cid
            assert row[1] == (c.section or "The document as a whole")
            assert (row[4] or None) == c.parent_id
    assert by_id[ids["s1"]][2] == "page 1" and by_id[ids["s2"]][2] == "paragraph 4"
    assert by_id[ids["s1"]][9] == "Accepted" and by_id[ids["w2"]][10] == "Tiểu ban đã rút gọn"
    assert by_id[ids["s2"]][6:8] == ("A Secretariat", "Tỉnh đoàn Lào Cai")
    assert ids["h"] not in by_id

    resp = committee.get(f"{FORUM}/summary.pdf")
    assert resp.status_code == 200 and resp.data.startswith(b"%PDF")
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.data)).pages)
    text = " ".join(text.split())
    assert "Bổ sung số liệu công trình thanh niên" in text
    assert "A Secretariat" in text
    assert "Ý kiến lạc đề" not in text


def test_the_summary_is_the_committees_only(app, forum, client_for):
    # Moderators who are not the committee, delegates, guests: forbidden; another event's
    # committee: not even there.
    for username, expected in (("a.delegate", 403), ("a.secretariat", 403), ("a.guest", 403),
                               ("b.documents", 404)):
        client = client_for(username)
        for url in ("/summary", "/summary.xlsx", "/summary.pdf"):
            assert client.get(f"{FORUM}{url}").status_code == expected, (username, url)
    assert client_for("a.admin").get(f"{FORUM}/summary").status_code == 200
    assert client_for("a.documents").get(f"{FORUM}/summary.xlsx").status_code == 200


def test_an_anonymous_forum_shows_no_names_or_units(app, forum, roster_world, client_for):
    with app.app_context():
        people = {d.code: (d.user_id, d.full_name, d.unit_name) for d in session().scalars(
            select(Delegate).where(Delegate.code.in_(["DB0001", "DB0002"])))}
        from core.models import User

        names = [n for _i, n, _u in people.values()] + ["A Secretariat"]
        units = [u for _i, _n, u in people.values()] + ["Tỉnh đoàn Lào Cai"]
        db = session()
        ev = actor("a.documents")[0]
        tid = forum.topics["public"]
        for code, body in (("DB0001", "Đề nghị bổ sung số liệu vùng cao"),
                           ("DB0002", "Cần nêu rõ nguyên nhân")):
            user = db.get(User, people[code][0])
            services.post_comment(db, ev, topic(tid), author=user, roles={"delegate"},
                                  body=body, section="Phần I")
            db.commit()
        post("a.secretariat", tid, "Tiểu ban ghi nhận")

    committee = client_for("a.documents")
    reader = client_for("a.delegate")

    def outputs():
        page = committee.get(f"{FORUM}/summary").get_data(as_text=True)
        doc_page = reader.get(forum.doc_url("public")).get_data(as_text=True)
        ws = load_workbook(io.BytesIO(committee.get(f"{FORUM}/summary.xlsx").data)).active
        cells = " ".join(str(v) for r in ws.iter_rows(values_only=True) for v in r if v)
        pdf = committee.get(f"{FORUM}/summary.pdf").data
        text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
                        .split())
        return {"page": page, "document": doc_page, "xlsx": cells, "pdf": text}

    # Named first (so the checks below would see a name if one were left) …
    for where, text in outputs().items():
        for word in names + units:
            assert word in text, (where, word)
    # … then anonymous, set through the forum's settings by a moderator.
    mod = client_for("a.secretariat")
    assert mod.post(f"{FORUM}/settings", data={"anonymous": "1"}).status_code == 302
    with app.app_context():
        assert services.is_anonymous(actor("a.documents")[0])
    for where, text in outputs().items():
        for word in names + units:
            assert word not in text, (where, word)
        assert "Đề nghị bổ sung số liệu vùng cao" in text, where
    assert "A delegate" in outputs()["page"]
    # Back to named: the settings form without the box.
    assert mod.post(f"{FORUM}/settings", data={}).status_code == 302
    assert "A Secretariat" in committee.get(f"{FORUM}/summary").get_data(as_text=True)

"""The demo congress's forum: commenting open on the draft political report, a few comments
and a reply, and one topic on the general board."""

from __future__ import annotations

from sqlalchemy import select

from core.db import session
from core.models import Event, User
from plugins.delegates.models import Delegate
from plugins.documents.models import Document
from plugins.forum import services

COMMENTS = [
    (1, "Phần I. Kết quả thực hiện Nghị quyết Đại hội nhiệm kỳ 2022 – 2027", 1, "3",
     "Đề nghị bổ sung số liệu cụ thể về công trình thanh niên ở các xã vùng cao, "
     "để thấy rõ đóng góp của cơ sở Đoàn."),
    (2, "Phần II. Hạn chế, nguyên nhân và bài học kinh nghiệm", 2, None,
     "Cần nêu rõ nguyên nhân chủ quan của việc thẩm tra chất lượng đoàn viên còn hình thức."),
    (3, None, None, None, "Bố cục dự thảo rõ ràng, dễ theo dõi trên điện thoại."),
]


def demo_comments(event: Event, accounts: dict[str, User]) -> None:
    db = session()
    doc = db.scalar(select(Document).where(Document.event_id == event.id)
                    .order_by(Document.position))
    if doc is None:
        return
    moderator = accounts.get("documents") or accounts["organiser"]
    topic = services.set_commenting(db, event, doc, True, actor=moderator)
    people = {d.code: d.user for d in db.scalars(
        select(Delegate).where(Delegate.event_id == event.id, Delegate.kind == "delegate")
        .order_by(Delegate.code).limit(6))}
    authors = [u for _code, u in sorted(people.items())][1:]  # DB0001 is daibieu.demo
    roles = frozenset({"delegate"})
    first = None
    for (_n, section, page, paragraph, body), author in zip(COMMENTS, authors, strict=False):
        c = services.post_comment(db, event, topic, author=author, roles=roles, body=body,
                                  section=section, page=page, paragraph=paragraph)
        first = first or c
    if first is not None and "delegate" in accounts:
        services.post_comment(db, event, topic, author=accounts["delegate"], roles=roles,
                              body="Tôi đồng tình, nên có bảng số liệu theo từng huyện.",
                              parent_id=first.id)
    if authors:
        services.create_topic(db, event, author=authors[-1], roles=roles,
                              title="Tổ chức xe đưa đón đại biểu các huyện xa",
                              body="Ban tổ chức cho hỏi lịch xe đưa đón đại biểu từ Bát Xát "
                                   "và Si Ma Cai về Trung tâm Hội nghị tỉnh?")

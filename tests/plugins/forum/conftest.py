"""Fixtures for the forum: event "a" with three published documents (public, delegates-only
with commenting never opened, staff-only), commenting open on the public and staff-only ones,
two more delegates who can sign in (a.delegate2, a.delegate3), a comment in event "b" for the
tenant checks, and helpers acting as a given account through the services."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from core.accounts import create_account
from core.db import session, utcnow
from core.events import add_member
from core.rights import event_roles
from plugins.documents.demo import political_report_pdf
from plugins.documents.services import create_document
from plugins.forum import services
from plugins.forum.models import ForumComment, ForumTopic
from tests.conftest import PASSWORD, build_world, wait_for

REF = "lao-cai/dai-hoi"
BASE = "/lao-cai/dai-hoi"
FORUM = f"{BASE}/forum"
SECTIONS = ("Phần I", "Phần II")


@pytest.fixture(scope="session")
def report_pdf() -> bytes:
    """The demo's three-page draft report, rendered once for the whole folder."""
    return political_report_pdf()


@dataclass
class Forum:
    """Ids of what `forum` made (objects do not outlive an app context)."""

    world: object
    docs: dict[str, int]
    topics: dict[str, int]

    def doc_url(self, key: str) -> str:
        return f"{BASE}/documents/{self.docs[key]}"


def make_delegate(db, event, username: str, full_name: str):
    user = create_account(db, actor=None, unit=None, username=username, full_name=full_name,
                          password=PASSWORD)
    add_member(db, event, actor=None, username=username, role="delegate")
    return user


def make_document(db, event, raw: bytes, *, title: str, visibility: str, actor=None):
    return create_document(db, event, actor=actor, title=title, category="political_report",
                           visibility=visibility, filename="du-thao.pdf", raw=raw,
                           publish_at=utcnow(), sections="\n".join(SECTIONS))


def build_forum(app, world, raw: bytes) -> Forum:
    with app.app_context():
        db = session()
        ev, ev_b = world.event("a"), world.event("b")
        make_delegate(db, ev, "a.delegate2", "Lò Thị Hoà")
        make_delegate(db, ev, "a.delegate3", "Giàng A Páo")
        actor = world.user("a.documents")
        docs = {
            "public": make_document(db, ev, raw, title="Dự thảo Báo cáo chính trị",
                                    visibility="public", actor=actor),
            "delegates": make_document(db, ev, raw, title="Dự thảo Chương trình hành động",
                                       visibility="delegates", actor=actor),
            "staff": make_document(db, ev, raw, title="Báo cáo thẩm tra nội bộ",
                                   visibility="staff", actor=actor),
        }
        topics = {
            "public": services.set_commenting(db, ev, docs["public"], True, actor=actor),
            "staff": services.set_commenting(db, ev, docs["staff"], True, actor=actor),
        }
        doc_b = make_document(db, ev_b, raw, title="Dự thảo Yên Bái", visibility="public",
                              actor=world.user("b.documents"))
        topics["b"] = services.set_commenting(db, ev_b, doc_b, True,
                                              actor=world.user("b.documents"))
        db.commit()
        return Forum(world, {k: d.id for k, d in docs.items()} | {"b": doc_b.id},
                     {k: t.id for k, t in topics.items()})


@pytest.fixture
def forum(app, world, report_pdf) -> Forum:
    return build_forum(app, world, report_pdf)


@pytest.fixture
def live_forum(live_app, report_pdf):
    """The `forum` of conftest.py, built in the live server's database. Opening commenting
    announced itself; that is sent (to nobody yet) before any test's reader connects, or a
    busy machine could deliver it late to the first reader, as if a comment had come."""
    forum = build_forum(live_app, build_world(live_app), report_pdf)
    publisher = live_app.extensions["daihoi_publisher"]
    publisher.flush()
    assert wait_for(lambda: not publisher._running)
    return forum


# ---------------------------------------------------------------- acting through the services

def actor(username: str, key: str = "a"):
    """(event, user, roles) of `username` in event `key`, in the current app context."""
    from core.models import Event, User

    db = session()
    user = db.scalar(select(User).where(User.username == username))
    ev = _event(key)
    assert isinstance(ev, Event)
    return ev, user, event_roles(user, ev)


def _event(key: str):
    from core.models import Event
    from tenants.models import Unit

    code = {"a": "lao-cai", "b": "yen-bai"}[key]
    return session().scalar(select(Event).join(Unit, Unit.id == Event.unit_id)
                            .where(Unit.code == code, Event.slug == "dai-hoi"))


def topic(topic_id: int) -> ForumTopic:
    return session().get(ForumTopic, topic_id)


def comment(comment_id: int) -> ForumComment:
    return session().get(ForumComment, comment_id)


def post(username: str, topic_id: int, body: str, key: str = "a", **kw) -> int:
    """Post as `username` and commit; the new comment's id."""
    ev, user, roles = actor(username, key)
    c = services.post_comment(session(), ev, topic(topic_id), author=user, roles=roles,
                              body=body, **kw)
    session().commit()
    return c.id


def comments_count() -> int:
    from sqlalchemy import func

    return session().scalar(select(func.count()).select_from(ForumComment))

"""The drafting committee's summary of comments (tổng hợp ý kiến góp ý văn kiện): every
visible comment grouped by document and section, with authors and units (unless the event is
anonymous), agreement counts and the committee's decisions — as a page, XLSX and PDF."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.documents import append_row, header_row, local_now, render_pdf, workbook_bytes
from core.models import Event
from plugins.documents.models import Document
from plugins.forum.models import ForumComment, ForumTopic
from plugins.forum.services import agree_counts, author_labels

RESOLUTION_LABELS = {"accepted": _l("Accepted"), "noted": _l("Noted"),
                     "answered": _l("Answered")}


@dataclass
class Item:
    comment: ForumComment
    author: str
    unit: str | None
    agrees: int
    replies: list[Item] = field(default_factory=list)


@dataclass
class Section:
    title: str | None  # None: the document as a whole
    items: list[Item] = field(default_factory=list)

    @property
    def comments(self) -> int:
        return sum(1 + _count_replies(i) for i in self.items)

    @property
    def agrees(self) -> int:
        return sum(i.agrees + _sum_reply_agrees(i) for i in self.items)


def _count_replies(item: Item) -> int:
    return sum(1 + _count_replies(r) for r in item.replies)


def _sum_reply_agrees(item: Item) -> int:
    return sum(r.agrees + _sum_reply_agrees(r) for r in item.replies)


@dataclass
class DocumentSummary:
    document: Document
    is_open: bool
    sections: list[Section]
    hidden: int

    @property
    def comments(self) -> int:
        return sum(s.comments for s in self.sections)

    @property
    def agrees(self) -> int:
        return sum(s.agrees for s in self.sections)

    @property
    def resolved(self) -> dict[str, int]:
        out = dict.fromkeys(RESOLUTION_LABELS, 0)
        for s in self.sections:
            for item in s.items:
                for c in walk(item):
                    if c.comment.resolution:
                        out[c.comment.resolution] += 1
        return out


def walk(item: Item):
    yield item
    for r in item.replies:
        yield from walk(r)


def build(db: Session, event: Event) -> list[DocumentSummary]:
    """The summary of every document that has had commenting opened, in the documents' order.
    Hidden comments are left out (and counted apart); replies stay under their comment."""
    pairs = db.execute(select(Document, ForumTopic)
                       .join(ForumTopic, ForumTopic.document_id == Document.id)
                       .where(Document.event_id == event.id)
                       .order_by(Document.position, Document.id)).all()
    out = []
    for doc, topic in pairs:
        rows = list(db.scalars(select(ForumComment).where(ForumComment.topic_id == topic.id)
                               .order_by(ForumComment.id)))
        visible = [c for c in rows if c.hidden_at is None]
        labels = author_labels(db, event, visible)
        agrees = agree_counts(db, [c.id for c in visible])
        anonymous = _("A delegate")
        items: dict[int, Item] = {}
        roots: list[Item] = []
        for c in visible:
            name, unit = labels.get(c.author_id, (anonymous, None))
            item = Item(c, name, unit, agrees.get(c.id, 0))
            items[c.id] = item
            parent = items.get(c.parent_id) if c.parent_id else None
            if c.parent_id and parent is None:
                continue  # a reply to a hidden comment goes with it
            (parent.replies if parent is not None else roots).append(item)
        order = [None, *doc.section_list]
        sections = {title: Section(title) for title in order}
        for item in roots:
            sections.setdefault(item.comment.section, Section(item.comment.section))
            sections[item.comment.section].items.append(item)
        # Left out: the hidden comments and the replies that went with them, so that what
        # is listed and what is left out add up to every comment on the document.
        listed = sum(1 + _count_replies(item) for item in roots)
        out.append(DocumentSummary(doc, topic.is_open,
                                   [s for s in sections.values() if s.items],
                                   hidden=len(rows) - listed))
    return out


def hidden_total(db: Session, event: Event, docs: list[DocumentSummary] | None = None) -> int:
    """The comments left out of the summary (of `docs`, when already built): those hidden on
    the documents and the replies under them — not the general board's, never summarised."""
    return sum(d.hidden for d in (build(db, event) if docs is None else docs))


def anchor_text(c: ForumComment) -> str:
    parts = []
    if c.page:
        parts.append(_("page %(n)s", n=c.page))
    if c.paragraph:
        parts.append(_("paragraph %(p)s", p=c.paragraph))
    return ", ".join(parts)


def xlsx(db: Session, event: Event) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    wb = Workbook()
    ws = wb.active
    ws.title = "Tổng hợp"
    ws.append([_("Summary of comments on the documents"), event.name])
    ws.append([_("Made at"), local_now().strftime("%H:%M %d/%m/%Y")])
    header_row(ws, [_("Document"), _("Section"), _("Page / paragraph"), "#", _("In reply to"),
                    _("Comment"), _("Author"), _("Unit"), _("Agree"), _("Decision"),
                    _("Committee's answer"), _("Written at")],
               [30, 30, 16, 7, 10, 70, 24, 30, 9, 14, 50, 17], row=4)
    wrap = Alignment(wrap_text=True, vertical="top")
    for doc in build(db, event):
        for section in doc.sections:
            for root in section.items:
                for item in walk(root):
                    c = item.comment
                    append_row(ws, [
                        doc.document.title, section.title or _("The document as a whole"),
                        anchor_text(c), c.id, c.parent_id or "", c.body, item.author,
                        item.unit or "", item.agrees,
                        str(RESOLUTION_LABELS[c.resolution]) if c.resolution else "",
                        c.resolution_reply or "",
                        _local(c.created_at)])
                    for cell in ws[ws.max_row]:
                        cell.alignment = wrap
    return workbook_bytes(wb)


def _local(value) -> str:
    from core.i18n import format_datetime

    return format_datetime(value)


PDF_LOCALE = "vi"


def pdf(db: Session, event: Event) -> bytes:
    """The summary as an official PDF, in Vietnamese whoever prints it."""
    from flask_babel import force_locale

    from plugins.delegates.report import document_date, place_name

    now = local_now()
    with force_locale(PDF_LOCALE):
        docs = build(db, event)
        html = render_template("forum/summary_print.html", e=event, docs=docs,
                               hidden=hidden_total(db, event, docs), made_at=now,
                               place=place_name(event),
                               date_line=document_date(now.date()),
                               labels={k: str(v) for k, v in RESOLUTION_LABELS.items()},
                               anchor_text=anchor_text, walk=walk)
    return render_pdf(html)

"""End to end in headless Chromium for documents and their comments: a delegate reads the demo
congress's draft report on a phone (pdf.js draws it) and comments on a page of it; another
reader sees that comment arrive without a reload, while typing their own; a moderator hides a
comment; a guest does not even see a delegates-only document."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.test_e2e import no_horizontal_overflow, sign_in
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

EVENT = "/lao-cai/dai-hoi"
TITLE = "Dự thảo Báo cáo chính trị"
# Loading pdf.js (about 1 MB of modules) and drawing a page, or a Socket.IO round trip, can take
# seconds on a busy machine (the suite runs beside others).
DRAW_TIMEOUT_MS = 20000
LIVE_TIMEOUT_MS = 15000

# How many pixels of a canvas are not (nearly) white: a drawn page has text on it.
INKED_PIXELS = """canvas => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let inked = 0;
    for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] > 0 && (data[i] < 200 || data[i + 1] < 200 || data[i + 2] < 200)) inked++;
    }
    return inked;
}"""


def prepare(server, world, *, visibility: str = "delegates", second_delegate: bool = False,
            comment: str | None = None) -> int:
    """The demo's draft political report, published to `visibility`, open for comments.

    `second_delegate` adds a.delegate2 (a delegate too); `comment` is posted by a.delegate.
    """
    from core.db import session, utcnow
    from plugins.documents.demo import SECTIONS, political_report_pdf
    from plugins.documents.services import create_document
    from plugins.forum import services as forum

    with server.app.app_context():
        db = session()
        ev = world.event("a")
        doc = create_document(
            db, ev, actor=None, title=TITLE, category="political_report",
            visibility=visibility, filename="Du thao.pdf", raw=political_report_pdf(),
            sections="\n".join(h for h, _p in SECTIONS), publish_at=utcnow())
        topic = forum.set_commenting(db, ev, doc, True, actor=None)
        if second_delegate:
            from core.accounts import create_account
            from core.events import add_member

            create_account(db, actor=None, unit=None, username="a.delegate2",
                           full_name="Lò Thị Hoa", password=PASSWORD)
            add_member(db, ev, actor=None, username="a.delegate2", role="delegate")
        if comment is not None:
            forum.post_comment(db, ev, topic, author=world.user("a.delegate"),
                               roles={"delegate"}, body=comment, section=SECTIONS[1][0],
                               page=2)
        db.commit()
        return doc.id


def reader(new_context, server, username: str, doc_id: int, **options) -> Page:
    """A signed-in page on the document, watching its comments live, its first page drawn."""
    page = new_context(server.url, **options).new_page()
    # forum.js catches up on the comments once the server has let it watch the topic over
    # Socket.IO: that request says the page is live.
    with page.expect_response(lambda r: "/comments?after=" in r.url, timeout=LIVE_TIMEOUT_MS):
        sign_in(page, username, f"{EVENT}/documents/{doc_id}")
    expect(page).to_have_url(re.compile(rf"{EVENT}/documents/{doc_id}$"))
    wait_drawn(page)
    return page


def wait_drawn(page: Page) -> int:
    """Wait for pdf.js to lay the pages out and draw the first; the number of pages."""
    viewer = page.locator("[data-pdf-viewer]")
    expect(viewer).to_have_attribute("data-ready", re.compile(r"^\d+$"), timeout=DRAW_TIMEOUT_MS)
    assert viewer.get_attribute("data-failed") is None
    expect(page.locator(".pdf-page[data-drawn]").first).to_be_visible(timeout=DRAW_TIMEOUT_MS)
    return int(viewer.get_attribute("data-ready"))


def test_delegate_reads_and_comments_on_a_page_from_a_phone(serve, new_context, shot):
    server, world = serve()
    doc_id = prepare(server, world)
    from plugins.documents.demo import SECTIONS

    page = new_context(server.url, **PHONE).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    scripts: dict[str, tuple[int, str]] = {}
    page.on("response", lambda r: scripts.setdefault(
        r.url.rsplit("/", 1)[-1], (r.status, r.headers.get("content-type", ""))))

    sign_in(page, "a.delegate", f"{EVENT}/")
    page.locator("nav.event-menu").get_by_role("link", name="Documents").click()
    expect(page).to_have_url(re.compile(rf"{EVENT}/documents/$"))
    page.locator("[data-documents]").get_by_role("link", name=TITLE).click()
    expect(page).to_have_url(re.compile(rf"{EVENT}/documents/{doc_id}$"))
    expect(page.locator("h1")).to_have_text(TITLE)

    # pdf.js, served as JavaScript modules, draws the pages into canvases fitted to the phone.
    pages = wait_drawn(page)
    assert pages >= 2, pages
    for name in ("viewer.mjs", "pdf.mjs", "pdf.worker.mjs"):
        status, kind = scripts.get(name, (None, ""))
        assert status == 200 and kind.startswith("text/javascript"), (name, scripts.get(name))
    expect(page.locator(".pdf-page")).to_have_count(pages)
    # Each page comes into view and is drawn as the delegate scrolls down to it.
    for n in range(1, pages + 1):
        figure = page.locator(f"#page-{n}")
        figure.scroll_into_view_if_needed()
        expect(figure).to_have_attribute("data-drawn", "1", timeout=DRAW_TIMEOUT_MS)
    first = page.locator("#page-1 canvas")
    size = first.evaluate("c => [c.width, c.height, c.clientWidth, c.clientHeight]")
    assert all(v > 0 for v in size), size
    viewer_width = page.locator("[data-pdf-viewer]").evaluate("el => el.clientWidth")
    assert size[2] <= viewer_width, f"page 1 is {size[2]}px wide in a {viewer_width}px viewer"
    assert size[0] >= size[2] * 2 - 2, f"not drawn for the phone's pixel ratio: {size}"
    for n in (1, 2):
        inked = page.locator(f"#page-{n} canvas").evaluate(INKED_PIXELS)
        assert inked > 1000, f"page {n} has {inked} inked pixels: pdf.js drew a blank page"
    no_horizontal_overflow(page)
    page.locator("#page-1").scroll_into_view_if_needed()
    shot(page, "20-document-phone")

    # "Comment on this page" under page 2 points the form at page 2.
    form = page.locator("form[data-comment-form]")
    page.locator("#page-2").get_by_role("button", name="Comment on this page").click()
    expect(form.locator("[data-comment-page]")).to_have_value("2")
    expect(form.locator("textarea[name=body]")).to_be_focused()
    section = SECTIONS[1][0]
    form.locator("select[name=section]").select_option(section)
    text = ("Đề nghị bổ sung giải pháp cụ thể cho các chi đoàn vùng sâu, vùng xa: "
            "hỗ trợ kinh phí sinh hoạt và đưa nội dung chuyển đổi số vào từng buổi sinh hoạt.")
    form.locator("textarea[name=body]").fill(text)
    no_horizontal_overflow(page)
    form.get_by_role("button", name="Send the comment").click()

    # Back on the document, at the comment: its section and page with it.
    expect(page).to_have_url(re.compile(rf"{EVENT}/documents/{doc_id}#c\d+$"))
    expect(page.locator(".flash-success")).to_contain_text("Your comment is posted.")
    item = page.locator("[data-comments] > li[data-comment]")
    expect(item).to_have_count(1)
    expect(item.locator(".comment-body")).to_have_text(text)
    expect(item.locator(".comment-head strong")).to_have_text("You")
    chip = item.locator(".anchor-chip")
    expect(chip).to_contain_text(section)
    expect(chip.get_by_role("link", name="page 2")).to_have_attribute("href", "#page-2")
    expect(page.locator("[data-no-comments]")).to_have_count(0)
    # The reader comes back drawn, too.
    wait_drawn(page)
    no_horizontal_overflow(page)
    item.scroll_into_view_if_needed()
    shot(page, "21-document-commented-phone")
    assert errors == [], errors


def test_another_reader_sees_a_new_comment_live_without_losing_their_draft(
        serve, new_context, shot):
    server, world = serve()
    doc_id = prepare(server, world)
    from plugins.documents.demo import SECTIONS

    # The secretariat reads the same document at a desk, and starts a comment of its own.
    desk = reader(new_context, server, "a.secretariat", doc_id, viewport=DESKTOP)
    expect(desk.locator("[data-no-comments]")).to_have_text("No comment yet.")
    desk.evaluate("window.__notReloaded = true")
    draft = desk.locator("form[data-comment-form] textarea[name=body]")
    half = "Phần III nên nêu rõ chỉ tiêu về"
    draft.click()
    draft.press_sequentially(half)
    desk.evaluate("document.querySelector('form[data-comment-form] textarea')"
                  ".setSelectionRange(5, 9)")

    # The delegate comments from a phone.
    phone = reader(new_context, server, "a.delegate", doc_id, **PHONE)
    form = phone.locator("form[data-comment-form]")
    form.locator("select[name=section]").select_option(SECTIONS[2][0])
    form.locator("[data-comment-page]").fill("3")
    text = "Nên có chỉ tiêu riêng về khởi nghiệp của thanh niên dân tộc thiểu số ở Bắc Hà."
    form.locator("textarea[name=body]").fill(text)
    form.get_by_role("button", name="Send the comment").click()
    expect(phone.locator(".flash-success")).to_contain_text("Your comment is posted.")
    no_horizontal_overflow(phone)

    # The desk gets it without a reload, anchored, and what it was typing is as it was.
    comments = desk.locator("[data-comments]")
    expect(comments).to_contain_text(text, timeout=LIVE_TIMEOUT_MS)
    item = comments.locator("> li[data-comment]")
    expect(item).to_have_count(1)
    expect(item.locator(".comment-head strong")).to_have_text("A Delegate")
    expect(item.locator(".anchor-chip")).to_contain_text(SECTIONS[2][0])
    expect(item.locator(".anchor-chip")).to_contain_text("page 3")
    # It came rendered for everyone; the page gave it this reader's own buttons.
    cid = item.get_attribute("data-comment")
    expect(item.locator(f"form[action$='/forum/c/{cid}/agree']")).to_have_count(1)
    expect(item.locator("details.moderate-box form")).to_have_attribute(
        "action", re.compile(rf"/forum/c/{cid}/moderate$"))
    expect(item.locator("input[name=parent_id]")).to_have_value(cid)
    expect(desk.locator("[data-no-comments]")).to_have_count(0)
    assert desk.evaluate("window.__notReloaded") is True
    expect(draft).to_have_value(half)
    expect(draft).to_be_focused()
    assert desk.evaluate("(t => [t.selectionStart, t.selectionEnd])"
                         "(document.querySelector('form[data-comment-form] textarea'))") == [5, 9]
    shot(desk, "22-document-live-desk")
    # The draft still goes out, and the list does not show anything twice.
    draft.press("End")
    draft.press_sequentially(" việc làm.")
    desk.get_by_role("button", name="Send the comment").click()
    expect(desk.locator(".flash-success")).to_contain_text("Your comment is posted.")
    expect(desk.locator("[data-comments] > li[data-comment]")).to_have_count(2)
    expect(phone.locator("[data-comments] > li[data-comment]")).to_have_count(
        2, timeout=LIVE_TIMEOUT_MS)
    pushed = phone.locator("[data-comments] > li[data-comment]").nth(1)
    expect(pushed).to_contain_text(half + " việc làm.")
    # A delegate's buttons: agree and reply, no moderation.
    expect(pushed.locator("button.agree")).to_have_count(1)
    expect(pushed.locator("details.moderate-box")).to_have_count(0)


def test_moderator_hides_a_comment_and_only_its_author_sees_why(serve, new_context, shot):
    server, world = serve()
    text = "Bình luận này lạc đề, có số điện thoại cá nhân 0912 345 678."
    doc_id = prepare(server, world, second_delegate=True, comment=text)
    reason = "Có thông tin cá nhân"

    author = reader(new_context, server, "a.delegate", doc_id, **PHONE)
    other = reader(new_context, server, "a.delegate2", doc_id, **PHONE)
    expect(author.locator("[data-comments]")).to_contain_text(text)
    expect(other.locator("[data-comments]")).to_contain_text(text)
    # Delegates may not moderate.
    expect(author.locator("details.moderate-box")).to_have_count(0)
    expect(other.locator("details.moderate-box")).to_have_count(0)

    moderator = reader(new_context, server, "a.documents", doc_id, viewport=DESKTOP)
    item = moderator.locator("[data-comments] > li[data-comment]", has_text=text)
    box = item.locator("details.moderate-box")
    box.locator("summary", has_text="Hide").click()
    box.locator("input[name=reason]").fill(reason)
    box.get_by_role("button", name="Hide the comment").click()
    expect(moderator).to_have_url(re.compile(rf"{EVENT}/documents/{doc_id}#c\d+$"))
    # The moderators still see it, marked, and may show it again.
    expect(item).to_have_class(re.compile(r"\bhidden-comment\b"))
    expect(item).to_contain_text(f"Hidden by the moderators: {reason}")
    expect(item.get_by_role("button", name="Show again")).to_be_visible()

    # The pages already open change at once, without a reload: the other delegate's loses
    # the comment, its author's shows why it was hidden.
    expect(other.locator("[data-comments]")).not_to_contain_text(text, timeout=LIVE_TIMEOUT_MS)
    expect(author.locator("[data-comments]")).to_contain_text(
        f"Hidden by the moderators: {reason}", timeout=LIVE_TIMEOUT_MS)

    # Its author sees it, and why; the other delegate no longer sees it at all.
    author.reload()
    wait_drawn(author)
    mine = author.locator("[data-comments] > li[data-comment]")
    expect(mine).to_have_count(1)
    expect(mine).to_have_class(re.compile(r"\bhidden-comment\b"))
    expect(mine.locator(".flash-error")).to_have_text(f"Hidden by the moderators: {reason}")
    expect(mine.locator(".comment-body")).to_have_text(text)
    no_horizontal_overflow(author)
    mine.scroll_into_view_if_needed()
    shot(author, "23-comment-hidden-author-phone")

    other.reload()
    wait_drawn(other)
    expect(other.locator("[data-comments] > li[data-comment]")).to_have_count(0)
    expect(other.locator("body")).not_to_contain_text(text)
    expect(other.locator("body")).not_to_contain_text(reason)
    expect(other.locator("[data-no-comments]")).to_have_text("No comment yet.")
    no_horizontal_overflow(other)
    # Nor through the live updates' feed.
    feed = other.locator("[data-comments]").get_attribute("data-fresh-url")
    resp = other.request.get(f"{server.url}{feed}?after=0")
    assert resp.status == 200 and text not in resp.text()


def test_guest_cannot_see_a_delegates_only_document(serve, new_context):
    server, world = serve()
    doc_id = prepare(server, world)
    from core.db import session, utcnow
    from plugins.documents.demo import political_report_pdf
    from plugins.documents.services import create_document

    with server.app.app_context():
        create_document(session(), world.event("a"), actor=None, title="Chương trình Đại hội",
                        category="programme", visibility="public", filename="Chuong trinh.pdf",
                        raw=political_report_pdf(), publish_at=utcnow())
        session().commit()

    page = new_context(server.url, **PHONE).new_page()
    sign_in(page, "a.guest", f"{EVENT}/documents/")
    expect(page).to_have_url(re.compile(rf"{EVENT}/documents/$"))
    docs = page.locator("[data-documents]")
    expect(docs.get_by_role("link", name="Chương trình Đại hội")).to_be_visible()
    expect(docs).not_to_contain_text(TITLE)
    expect(docs.locator(f'[data-document="{doc_id}"]')).to_have_count(0)
    no_horizontal_overflow(page)

    for path in (f"{EVENT}/documents/{doc_id}", f"{EVENT}/documents/{doc_id}/v1/file",
                 f"{EVENT}/documents/{doc_id}/v1/file?download=1"):
        resp = page.goto(path)
        assert resp.status == 404, (path, resp.status)
        expect(page.locator("main")).to_contain_text(
            "This page does not exist, or you do not have access to it.")
        expect(page.locator("body")).not_to_contain_text(TITLE)

"""Documents pages: the list, a document's reader page with its versions, the managers' forms,
and the file itself — every one of them behind the same read check."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from core.db import session
from core.errors import ServiceError
from core.event_context import EventBlueprint, can, require_permission
from core.forms import ActionForm
from core.i18n import local_time, utc_from_local
from core.plugins import event_hook, flatten
from plugins.documents import services
from plugins.documents.forms import (
    CATEGORY_LABELS,
    VISIBILITY_LABELS,
    DocumentForm,
    NewDocumentForm,
    VersionForm,
)

bp = EventBlueprint("documents", __name__, module="documents", url_prefix="/documents",
                    template_folder="templates")
# Scripts hold no data; served outside the event guard.
assets = Blueprint("documents_assets", __name__, static_folder="static",
                   static_url_path="/modules/documents/static")

# Shown in the page (pdf.js or <img>); the others are downloaded.
INLINE_KINDS = ("pdf", "image")


def _labels() -> dict:
    return {"categories": CATEGORY_LABELS, "visibilities": VISIBILITY_LABELS}


def _publish_at(form: DocumentForm):
    from core.db import utcnow

    if form.publish.data == "now":
        return utcnow()
    if form.publish.data == "at":
        if form.publish_at.data is None:
            raise ServiceError(_("give the time to publish at"))
        return utc_from_local(form.publish_at.data)
    return None


def _upload(form) -> tuple[str, bytes]:
    storage = form.file.data
    if storage is None or not getattr(storage, "filename", ""):
        raise ServiceError(_("choose a file to upload"))
    limit = int(current_app.config["DOCUMENT_MAX_MB"]) * 1024 * 1024
    return storage.filename, storage.stream.read(limit + 1)


@bp.route("/")
def index():
    db = session()
    docs = services.list_documents(db, g.event, g.event_roles)
    manager = can("documents.manage")
    return render_template("documents/index.html", docs=docs, manager=manager,
                           readers=services.reader_counts(db, g.event) if manager else {},
                           is_published=services.is_published, action_form=ActionForm(),
                           **_labels())


@bp.route("/new", methods=["GET", "POST"])
@require_permission("documents.manage")
def create():
    form = NewDocumentForm()
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                filename, raw = _upload(form)
                doc = services.create_document(
                    session(), g.event, actor=current_user, title=form.title.data,
                    category=form.category.data, visibility=form.visibility.data,
                    description=form.description.data, sections=form.sections.data,
                    publish_at=_publish_at(form), filename=filename, raw=raw,
                    note=form.note.data)
            except ServiceError as exc:
                session().rollback()
                flash(_("The document was not saved: %(why)s.", why=exc.message), "error")
            else:
                session().commit()
                flash(_("Document saved."), "success")
                return redirect(url_for(".show", document_id=doc.id))
        else:
            flash(_("Check the fields marked below."), "error")
    return render_template("documents/form.html", form=form, doc=None)


@bp.route("/<int:document_id>")
def show(document_id: int):
    db = session()
    doc = services.get_document(db, g.event, document_id, g.event_roles)
    if not can("documents.manage"):  # "read by" counts the readers, not those who publish
        services.record_read(db, doc, current_user)
        db.commit()
    panels = flatten(event_hook(g.event, "daihoi_document_panels")(
        event=g.event, document=doc, roles=g.event_roles))
    return render_template(
        "documents/show.html", doc=doc, version=doc.current, inline_kinds=INLINE_KINDS,
        manager=can("documents.manage"), is_published=services.is_published(doc),
        panels=sorted(panels, key=lambda p: p.order), version_form=VersionForm(),
        # A panel may bring its own stylesheet (context "stylesheet").
        panel_styles=[p.context["stylesheet"] for p in panels if "stylesheet" in p.context],
        action_form=ActionForm(), **_labels())


@bp.route("/<int:document_id>/edit", methods=["GET", "POST"])
@require_permission("documents.manage")
def edit(document_id: int):
    db = session()
    doc = services.get_document(db, g.event, document_id, g.event_roles)
    form = DocumentForm(obj=doc)
    if request.method == "GET":
        form.publish.data = ("draft" if doc.publish_at is None else
                             "at" if not services.is_published(doc) else "now")
        if doc.publish_at is not None:
            form.publish_at.data = local_time(doc.publish_at).replace(tzinfo=None)
    elif form.validate_on_submit():
        try:
            publish_at = doc.publish_at if (form.publish.data == "now"
                                            and services.is_published(doc)) else \
                _publish_at(form)
            services.update_document(
                db, g.event, doc, actor=current_user, title=form.title.data,
                category=form.category.data, visibility=form.visibility.data,
                description=form.description.data, sections=form.sections.data,
                publish_at=publish_at)
        except ServiceError as exc:
            db.rollback()
            flash(_("Nothing was changed: %(why)s.", why=exc.message), "error")
        else:
            db.commit()
            flash(_("Document saved."), "success")
            return redirect(url_for(".show", document_id=doc.id))
    else:
        flash(_("Check the fields marked below."), "error")
    return render_template("documents/form.html", form=form, doc=doc)


@bp.route("/<int:document_id>/versions", methods=["POST"])
@require_permission("documents.manage")
def add_version(document_id: int):
    db = session()
    doc = services.get_document(db, g.event, document_id, g.event_roles)
    form = VersionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        filename, raw = _upload(form)
        version = services.add_version(db, g.event, doc, actor=current_user, filename=filename,
                                       raw=raw, note=form.note.data)
    except ServiceError as exc:
        db.rollback()
        flash(_("The new version was not saved: %(why)s.", why=exc.message), "error")
    else:
        db.commit()
        flash(_("Version %(n)s saved; readers now see it.", n=version.number), "success")
    return redirect(url_for(".show", document_id=doc.id))


@bp.route("/<int:document_id>/move", methods=["POST"])
@require_permission("documents.manage")
def move(document_id: int):
    db = session()
    doc = services.get_document(db, g.event, document_id, g.event_roles)
    if not ActionForm().validate_on_submit():
        abort(400)
    services.move(db, g.event, doc, -1 if request.form.get("direction") == "up" else 1,
                  actor=current_user)
    db.commit()
    return redirect(url_for(".index"))


@bp.route("/<int:document_id>/delete", methods=["POST"])
@require_permission("documents.manage")
def delete(document_id: int):
    db = session()
    doc = services.get_document(db, g.event, document_id, g.event_roles)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        services.delete_document(db, g.event, doc, actor=current_user)
    except ServiceError as exc:
        db.rollback()
        flash(_("The document was not deleted: %(why)s.", why=exc.message), "error")
        return redirect(url_for(".show", document_id=document_id))
    db.commit()
    flash(_("Document deleted."), "success")
    return redirect(url_for(".index"))


@bp.route("/<int:document_id>/v<int:number>/file")
def file(document_id: int, number: int):
    """The file of one version. Read check first; a download (not an in-page view) counts."""
    db = session()
    doc = services.get_document(db, g.event, document_id, g.event_roles)
    version = services.get_version(doc, number)
    path = services.file_path(g.event, version)
    if path is None:
        current_app.logger.error("document file missing: event %s version %s", g.event.id,
                                 version.id)
        abort(404)
    download = request.args.get("download") == "1" or version.kind not in INLINE_KINDS
    resp = send_file(path, mimetype=version.mimetype, as_attachment=download,
                     download_name=version.filename, conditional=True, etag=version.sha256,
                     max_age=0)
    # A download is a whole file sent: not a HEAD, a range of it, or "not modified" (304).
    if download and request.method == "GET" and resp.status_code == 200:
        services.count_download(db, version)
        db.commit()
    # Readers change (a document can go back to draft): the browser keeps it to itself and
    # asks again each time.
    resp.headers["Cache-Control"] = "private, no-cache"
    if version.kind != "pdf":
        # Nothing opened from here may run on our origin. (Chrome's own PDF viewer shows a
        # blank page under a sandbox, so PDFs go without it; pdf.js runs no PDF scripts.)
        resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return resp

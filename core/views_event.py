"""An event's home, its settings (details, sessions, modules, people, hall screens), its screen."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core import events as event_service
from core.db import session as db_session
from core.errors import ServiceError
from core.event_context import (
    PROJECTOR_SESSION_KEY,
    EventBlueprint,
    projector_allowed,
    projector_link_for,
    require_roles,
)
from core.forms import (
    SESSION_KIND_LABELS,
    ActionForm,
    EventForm,
    MemberForm,
    ProjectorForm,
    SessionForm,
    role_label,
)
from core.modules import disable_module, enable_module, enabled_modules
from core.plugins import event_hook, flatten, get_registry
from core.realtime import full_state

bp = EventBlueprint("event", __name__)
api = EventBlueprint("event_api", __name__, api=True)
links = Blueprint("projector_link", __name__)


def _commit_or_flash(action) -> bool:
    """Run a service call; commit on success, roll back and show the reason on refusal."""
    try:
        result = action()
    except ServiceError as exc:
        db_session().rollback()
        flash(exc.message, "error")
        return False
    db_session().commit()
    return result if result is not None else True


def _remove(action, done: str, anchor: str):
    """A settings button acting on one object of this event; another event's id is a 404."""
    if not ActionForm().validate_on_submit():
        abort(400)
    action()  # a NotFound answers 404 through the app's handler, with the session rolled back
    db_session().commit()
    flash(done, "success")
    return redirect(url_for(".manage") + f"#{anchor}")


@bp.route("/")
def home():
    event = g.event
    widgets = sorted(flatten(event_hook(event, "daihoi_dashboard_widgets")(
        event=event, roles=g.event_roles)), key=lambda w: w.order)
    return render_template("core/event_home.html", widgets=widgets,
                           role_names=[role_label(r) for r in sorted(g.event_roles)])


@bp.route("/manage", methods=["GET", "POST"])
@require_roles("organiser")
def manage():
    event = g.event
    form = EventForm(obj=event)
    if form.validate_on_submit():
        ok = _commit_or_flash(lambda: event_service.update_event(
            db_session(), event, actor=current_user, name=form.name.data, kind=form.kind.data,
            starts_on=form.starts_on.data, ends_on=form.ends_on.data, venue=form.venue.data,
            convened_count=form.convened_count.data))
        if ok:
            flash(_("Saved."), "success")
            return redirect(url_for(".manage"))
    registry = get_registry()
    return render_template(
        "core/event_manage.html",
        form=form,
        session_form=SessionForm(prefix="s"),
        member_form=MemberForm(prefix="m"),
        projector_form=ProjectorForm(prefix="p"),
        action_form=ActionForm(),
        modules=registry.ordered(),
        enabled=enabled_modules(event),
        registry=registry,
        members=event_service.members(db_session(), event),
        projector_links=event_service.projector_links(db_session(), event),
        new_projector_url=session.pop("daihoi_new_projector_url", None),
        role_label=role_label,
        session_kind_label=lambda k: SESSION_KIND_LABELS.get(k, k),
    )


@bp.route("/manage/modules/<name>", methods=["POST"])
@require_roles("organiser")
def toggle_module(name: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    event = g.event
    registry = get_registry()
    if name not in registry.modules:
        abort(404)
    turn_on = request.form.get("on") == "1"
    if turn_on:
        turned = _commit_or_flash(lambda: enable_module(db_session(), event, name, current_user))
        if turned:
            titles = ", ".join(str(registry.modules[m].title) for m in turned)
            flash(_("Switched on: %(modules)s.", modules=titles), "success")
    elif _commit_or_flash(lambda: disable_module(db_session(), event, name, current_user)):
        flash(_("Switched off: %(module)s.", module=registry.modules[name].title), "success")
    return redirect(url_for(".manage") + "#modules")


@bp.route("/manage/sessions", methods=["POST"])
@require_roles("organiser")
def add_session():
    form = SessionForm(prefix="s")
    if not form.validate_on_submit():
        flash(_("Give the session a name."), "error")
    elif _commit_or_flash(lambda: event_service.add_session(
            db_session(), g.event, actor=current_user, name=form.name.data,
            kind=form.kind.data)):
        flash(_("Session added."), "success")
    return redirect(url_for(".manage") + "#sessions")


@bp.route("/manage/sessions/<int:session_id>/remove", methods=["POST"])
@require_roles("organiser")
def remove_session(session_id: int):
    return _remove(lambda: event_service.remove_session(
        db_session(), g.event, session_id, actor=current_user), _("Session removed."), "sessions")


@bp.route("/manage/members", methods=["POST"])
@require_roles("organiser")
def add_member():
    form = MemberForm(prefix="m")
    if not form.validate_on_submit():
        flash(_("Enter a username and a role."), "error")
    elif _commit_or_flash(lambda: event_service.add_member(
            db_session(), g.event, actor=current_user, username=form.username.data,
            role=form.role.data)):
        flash(_("Role given."), "success")
    return redirect(url_for(".manage") + "#people")


@bp.route("/manage/members/<int:member_id>/remove", methods=["POST"])
@require_roles("organiser")
def remove_member(member_id: int):
    return _remove(lambda: event_service.remove_member(
        db_session(), g.event, member_id, actor=current_user), _("Role removed."), "people")


@bp.route("/manage/projectors", methods=["POST"])
@require_roles("organiser")
def add_projector():
    form = ProjectorForm(prefix="p")
    if not form.validate_on_submit():
        abort(400)
    link, token = event_service.create_projector_link(db_session(), g.event, actor=current_user,
                                                      label=form.label.data or "")
    db_session().commit()
    # Shown once: the token is a credential, so it is not listed again afterwards.
    session["daihoi_new_projector_url"] = url_for("projector_link.open_link", token=token,
                                                  _external=True)
    return redirect(url_for(".manage") + "#screens")


@bp.route("/manage/projectors/<int:link_id>/revoke", methods=["POST"])
@require_roles("organiser")
def revoke_projector(link_id: int):
    return _remove(lambda: event_service.revoke_projector_link(
        db_session(), g.event, link_id, actor=current_user),
        _("The screen link no longer works."), "screens")


@bp.route("/projector")
@projector_allowed
def projector():
    token = None
    if projector_link_for(g.event) is not None:
        token = session[PROJECTOR_SESSION_KEY][str(g.event.id)]
    panels = sorted(flatten(event_hook(g.event, "daihoi_projector_panels")(event=g.event)),
                    key=lambda w: w.order)
    return render_template("core/projector.html", projector_token=token, panels=panels)


@links.route("/p/<token>")
def open_link(token: str):
    """A hall screen opens its link once; the browser then holds it in its session."""
    link = event_service.resolve_projector_token(db_session(), token)
    if link is None:
        abort(404)
    from core.models import Event

    event = db_session().get(Event, link.event_id)
    held = dict(session.get(PROJECTOR_SESSION_KEY) or {})
    held[str(event.id)] = token
    session[PROJECTOR_SESSION_KEY] = held
    return redirect(url_for("event.projector", unit_code=event.unit.code, event_slug=event.slug))


@api.route("/")
def info():
    return {"ok": True, "state": full_state(g.event, g.event_roles)}

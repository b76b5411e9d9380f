"""Unit pages: the read-only overview of a unit's subtree and the admin of its structure."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from core import accounts
from core import events as event_service
from core.db import session as db_session
from core.errors import ServiceError
from core.forms import ActionForm, EventForm
from core.models import UNIT_RIGHTS, User
from core.plugins import event_hook
from core.rights import can_manage_events, can_manage_structure, can_view_reports
from tenants import services
from tenants.forms import AccountForm, ImportForm, UnitForm
from tenants.models import Unit, UnitLevel

bp = Blueprint("units", __name__)


def _unit_or_404(code: str) -> Unit:
    unit = db_session().scalar(select(Unit).where(Unit.code == code))
    if unit is None:
        abort(404)
    return unit


def _visible_path(unit: Unit) -> list[Unit]:
    """Breadcrumb from the viewer's own unit down to `unit`; never above the viewer."""
    chain = [*services.ancestors(db_session(), unit), unit]
    return [u for u in chain if current_user.unit and u.path.startswith(current_user.unit.path)]


@bp.route("/<unit_code>/")
@login_required
def overview(unit_code: str):
    unit = _unit_or_404(unit_code)
    if not can_view_reports(current_user, unit):
        abort(404)
    db = db_session()
    level_counts = db.execute(
        select(UnitLevel.name, func.count(Unit.id))
        .join(Unit, Unit.level_id == UnitLevel.id)
        .where(services.subtree_filter(unit), Unit.id != unit.id)
        .group_by(UnitLevel.name, UnitLevel.rank).order_by(UnitLevel.rank)
    ).all()
    rows = []
    for ev in event_service.events_in_subtree(db, unit):
        stats: dict = {}
        for part in event_hook(ev, "daihoi_event_stats")(event=ev):
            stats.update(part or {})
        rows.append({"event": ev, "stats": stats,
                     "can_enter": ev.unit_id == current_user.unit_id
                     and can_manage_events(current_user, ev.unit)})
    return render_template(
        "tenants/overview.html", unit=unit, rows=rows, level_counts=level_counts,
        children=services.children(db, unit), breadcrumb=_visible_path(unit),
        can_manage=can_manage_structure(current_user, unit),
        can_create_event=can_manage_events(current_user, unit),
    )


@bp.route("/<unit_code>/new-event", methods=["GET", "POST"])
@login_required
def new_event(unit_code: str):
    unit = _unit_or_404(unit_code)
    if not can_manage_events(current_user, unit):
        abort(404)
    form = EventForm()
    if form.validate_on_submit():
        try:
            ev = event_service.create_event(
                db_session(), actor=current_user, unit=unit, name=form.name.data,
                slug=form.slug.data or "", kind=form.kind.data, starts_on=form.starts_on.data,
                ends_on=form.ends_on.data, venue=form.venue.data,
                convened_count=form.convened_count.data or 0)
        except ServiceError as exc:
            db_session().rollback()
            flash(exc.message, "error")
        else:
            db_session().commit()
            flash(_("Event created. Add its sessions and switch on its modules."), "success")
            return redirect(url_for("event.manage", unit_code=unit.code, event_slug=ev.slug))
    return render_template("tenants/new_event.html", unit=unit, form=form)


@bp.route("/admin/units/<unit_code>/")
@login_required
def admin(unit_code: str):
    unit = _admin_unit(unit_code)
    db = db_session()
    unit_form = UnitForm(prefix="u")
    unit_form.level.choices = _child_levels(unit)
    return render_template(
        "tenants/admin.html", unit=unit, children=services.children(db, unit),
        accounts=accounts.accounts_of(db, unit), unit_form=unit_form,
        account_form=AccountForm(prefix="a"), import_form=ImportForm(prefix="i"),
        action_form=ActionForm(), rights=UNIT_RIGHTS, breadcrumb=_visible_path(unit),
        subtree_size=services.count_descendants(db, unit),
    )


def _child_levels(unit: Unit) -> list[tuple[str, str]]:
    levels = db_session().scalars(select(UnitLevel).where(UnitLevel.rank > unit.level.rank)
                                  .order_by(UnitLevel.rank))
    return [SelectChoice(lvl.code, lvl.name) for lvl in levels]


def _admin_unit(unit_code: str) -> Unit:
    unit = _unit_or_404(unit_code)
    if not can_manage_structure(current_user, unit):
        abort(404)
    return unit


@bp.route("/admin/units/<unit_code>/children", methods=["POST"])
@login_required
def create_child(unit_code: str):
    unit = _admin_unit(unit_code)
    form = UnitForm(prefix="u")
    form.level.choices = _child_levels(unit)
    if not form.validate_on_submit():
        flash(_("Fill in the code, the name and the level."), "error")
        return redirect(url_for(".admin", unit_code=unit.code))
    db = db_session()
    level = db.scalar(select(UnitLevel).where(UnitLevel.code == form.level.data))
    try:
        child = services.create_unit(db, code=form.code.data, name=form.name.data,
                                     level=level, parent=unit)
        from core import audit

        audit.record("unit.create", actor=current_user, unit=child,
                     detail={"code": child.code, "parent": unit.code})
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        db.commit()
        flash(_("Unit %(name)s created.", name=child.name), "success")
    return redirect(url_for(".admin", unit_code=unit.code))


@bp.route("/admin/units/<unit_code>/import", methods=["POST"])
@login_required
def import_units(unit_code: str):
    unit = _admin_unit(unit_code)
    if unit.parent_id is not None:
        # Import may add units anywhere in the tree, so only the top admin may run it.
        abort(404)
    form = ImportForm(prefix="i")
    if not form.validate_on_submit():
        flash(_("Choose a CSV file."), "error")
        return redirect(url_for(".admin", unit_code=unit.code))
    db = db_session()
    report = services.import_units(db, form.file.data.read())
    if not report.ok:
        db.rollback()
        for p in report.problems[:50]:
            flash(str(p), "error")
        flash(_("Nothing was imported: %(n)s problems.", n=len(report.problems)), "error")
    else:
        from core import audit

        audit.record("unit.import", actor=current_user, unit=unit,
                     detail={"created": report.created, "updated": report.updated})
        db.commit()
        flash(_("Imported: %(c)s new, %(u)s updated, %(s)s unchanged.", c=report.created,
                u=report.updated, s=report.unchanged), "success")
    return redirect(url_for(".admin", unit_code=unit.code))


@bp.route("/admin/units/<unit_code>/accounts", methods=["POST"])
@login_required
def create_account(unit_code: str):
    unit = _admin_unit(unit_code)
    form = AccountForm(prefix="a")
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{form[field].label.text}: {'; '.join(errors)}", "error")
        return redirect(url_for(".admin", unit_code=unit.code) + "#accounts")
    rights = tuple(r for r in UNIT_RIGHTS if getattr(form, f"right_{r}").data)
    try:
        accounts.create_account(db_session(), actor=current_user, unit=unit,
                                username=form.username.data, full_name=form.full_name.data,
                                password=form.password.data, email=form.email.data,
                                rights=rights)
    except ServiceError as exc:
        db_session().rollback()
        flash(exc.message, "error")
    else:
        db_session().commit()
        flash(_("Account %(u)s created.", u=form.username.data.strip().lower()), "success")
    return redirect(url_for(".admin", unit_code=unit.code) + "#accounts")


@bp.route("/admin/units/<unit_code>/accounts/<int:user_id>/<action>", methods=["POST"])
@login_required
def account_action(unit_code: str, user_id: int, action: str):
    unit = _admin_unit(unit_code)
    if not ActionForm().validate_on_submit():
        abort(400)
    db = db_session()
    user = db.scalar(select(User).where(User.id == user_id, User.unit_id == unit.id))
    if user is None:
        abort(404)
    right = request.form.get("right", "")
    try:
        if action == "grant":
            accounts.grant_right(db, actor=current_user, user=user, right=right)
        elif action == "revoke":
            accounts.revoke_right(db, actor=current_user, user=user, right=right)
        elif action in ("enable", "disable"):
            accounts.set_active(db, actor=current_user, user=user, active=action == "enable")
        else:
            abort(404)
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        db.commit()
        flash(_("Saved."), "success")
    return redirect(url_for(".admin", unit_code=unit.code) + "#accounts")

"""Voting pages: the board's list and console per poll, a delegate's ballot (which works
without JavaScript, and over Socket.IO with it), published results and the counted ballots."""

from __future__ import annotations

import uuid

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core.db import session
from core.errors import ServiceError
from core.event_context import EventBlueprint, can, require_permission
from core.forms import ActionForm
from core.group_commit import WriterBusy
from plugins.voting import ballots, serialize, services
from plugins.voting.forms import (
    BASE_LABELS,
    CHANNEL_LABELS,
    COUNTDOWNS,
    FRACTION_LABELS,
    KIND_NAMES,
    MODE_LABELS,
    STATUS_LABELS,
    PollForm,
    options_text,
    parse_options,
    rule_text,
)
from plugins.voting.realtime import my_polls, vote_answer

bp = EventBlueprint("voting", __name__, module="voting", url_prefix="/voting",
                    template_folder="templates")
# Scripts hold no data; served outside the event guard so a hall screen can load them.
assets = Blueprint("voting_assets", __name__, static_folder="static",
                   static_url_path="/modules/voting/static")


def _staff() -> bool:
    return can("voting.manage") or can("voting.count")


def _require_staff() -> None:
    if not _staff():
        abort(403)


@bp.app_context_processor
def _labels():
    return {"vote_labels": {"kind": KIND_NAMES, "mode": MODE_LABELS, "base": BASE_LABELS,
                            "fraction": FRACTION_LABELS, "status": STATUS_LABELS,
                            "channel": CHANNEL_LABELS},
            "vote_rule_text": rule_text, "answer_label": serialize.answer_label}


def _poll_form(poll=None) -> PollForm:
    form = PollForm(obj=poll)
    form.session_id.choices = [(0, _("The session open for check-in"))] + [
        (s.id, s.name) for s in g.event.sessions]
    if poll is not None and request.method == "GET":
        form.options.data = options_text(poll) if poll.kind != "motion" else ""
        form.session_id.data = poll.session_id or 0
    return form


def _input(form: PollForm) -> services.PollInput:
    return services.PollInput(
        title=form.title.data or "", kind=form.kind.data, mode=form.mode.data,
        channel=form.channel.data, seats=form.seats.data or 1, base=form.base.data,
        fraction=form.fraction.data, description=(form.description.data or "").strip() or None,
        session_id=form.session_id.data or None, options=parse_options(form.options.data),
        position=form.position.data)


@bp.route("/")
def index():
    _require_staff()
    db = session()
    services.settle_deadlines(db, g.event)
    db.commit()
    polls = services.list_polls(db, g.event)
    voted = {p.id: services.voted_count(db, p.id) for p in polls if p.status == "open"}
    return render_template("voting/index.html", polls=polls, voted=voted, action=ActionForm())


@bp.route("/new", methods=["GET", "POST"])
@require_permission("voting.manage")
def create():
    form = _poll_form()
    if form.validate_on_submit():
        db = session()
        try:
            poll = services.create_poll(db, g.event, _input(form), actor=current_user)
        except ServiceError as exc:
            db.rollback()
            flash(exc.message, "error")
        else:
            db.commit()
            flash(_("The poll is prepared."), "success")
            return redirect(url_for(".poll", poll_id=poll.id))
    elif request.method == "POST":
        flash(_("Check the fields marked in red."), "error")
    return render_template("voting/edit.html", form=form, poll=None)


@bp.route("/polls/<int:poll_id>/edit", methods=["GET", "POST"])
@require_permission("voting.manage")
def edit(poll_id: int):
    db = session()
    poll = services.get_poll(db, g.event, poll_id)
    form = _poll_form(poll)
    if form.validate_on_submit():
        try:
            services.update_poll(db, g.event, poll, _input(form), actor=current_user)
        except ServiceError as exc:
            db.rollback()
            flash(exc.message, "error")
        else:
            db.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".poll", poll_id=poll.id))
    elif request.method == "POST":
        flash(_("Check the fields marked in red."), "error")
    return render_template("voting/edit.html", form=form, poll=poll)


@bp.route("/polls/<int:poll_id>")
def poll(poll_id: int):
    _require_staff()
    db = session()
    services.settle_deadlines(db, g.event)
    db.commit()
    p = services.get_poll(db, g.event, poll_id)
    # A secret poll's count is shown to nobody before it is closed; a named one's likewise,
    # so the board cannot sway the hall with partial figures.
    show_result = p.status in ("closed", "published") and p.result is not None
    return render_template(
        "voting/poll.html", poll=p, action=ActionForm(), countdowns=COUNTDOWNS,
        voted=services.voted_count(db, p.id), show_result=show_result,
        remaining=serialize.remaining_seconds(p),
        paper=db.get(services.PaperCount, p.id),
        named=services.named_votes(db, p) if show_result and can("voting.count") else [],
        previous=db.get(services.Poll, p.previous_id) if p.previous_id else None,
        can_manage=can("voting.manage"), can_count=can("voting.count"))


ACTIONS = {
    # name: (permission, function, success message)
    "open": ("voting.manage", lambda db, p, f: services.open_poll(
        db, g.event, p, actor=current_user), _l("Voting is open.")),
    "close": ("voting.manage", lambda db, p, f: services.close_poll(
        db, g.event, p, actor=current_user), _l("Voting is closed; the ballots are counted.")),
    "countdown": ("voting.manage", lambda db, p, f: services.start_countdown(
        db, g.event, p, _seconds(f), actor=current_user), _l("The countdown has started.")),
    "cancel": ("voting.manage", lambda db, p, f: services.cancel_poll(
        db, g.event, p, f.get("reason", ""), actor=current_user), _l("The poll is cancelled.")),
    "publish": ("voting.count", lambda db, p, f: services.publish_poll(
        db, g.event, p, actor=current_user), _l("The result is published.")),
    "paper": ("voting.count", lambda db, p, f: services.enter_paper(
        db, g.event, p, issued=f.get("issued"), returned=f.get("returned"),
        invalid=f.get("invalid"),
        votes={o.id: f.get(f"votes-{o.id}", 0) for o in p.options}, actor=current_user),
        _l("The paper ballots' figures are saved.")),
    "appoint": ("voting.manage", lambda db, p, f: services.record_appointment(
        db, g.event, p, [int(x) for x in f.getlist("option") if x.isdigit()],
        f.get("note", ""), actor=current_user), _l("The appointed result is recorded.")),
    "clone": ("voting.manage", lambda db, p, f: services.clone_poll(
        db, g.event, p, actor=current_user), _l("A copy is prepared.")),
    "new_round": ("voting.manage", lambda db, p, f: services.new_round(
        db, g.event, p, actor=current_user), _l("The new round is prepared.")),
    "delete": ("voting.manage", lambda db, p, f: services.delete_poll(
        db, g.event, p, actor=current_user), _l("The poll is deleted.")),
}


def _seconds(form) -> int:
    try:
        return int(form.get("seconds", ""))
    except ValueError:
        raise ServiceError(_("Choose how long the countdown lasts.")) from None


@bp.route("/polls/<int:poll_id>/<action_name>", methods=["POST"])
def act(poll_id: int, action_name: str):
    if action_name not in ACTIONS:
        abort(404)
    permission, run, message = ACTIONS[action_name]
    if not can(permission):
        abort(403)
    if not ActionForm().validate_on_submit():
        abort(400)
    db = session()
    p = services.get_poll(db, g.event, poll_id)
    try:
        made = run(db, p, request.form)
    except ServiceError as exc:
        db.rollback()
        flash(exc.message, "error")
        return redirect(url_for(".poll", poll_id=poll_id))
    db.commit()
    flash(str(message), "success")
    if action_name == "countdown":
        _close_at_deadline(p.id, p.closes_at)
    if action_name == "delete":
        return redirect(url_for(".index"))
    if action_name in ("clone", "new_round"):
        return redirect(url_for(".edit", poll_id=made.id))
    return redirect(url_for(".poll", poll_id=poll_id))


def _close_at_deadline(poll_id: int, deadline) -> None:
    """Close the poll when its countdown ends, in this process (another process or the next
    page view closes it too if this one is gone: services.settle_deadlines)."""
    from core.db import utcnow

    app = current_app._get_current_object()
    sio = app.extensions["socketio"]
    event_id = g.event.id

    def wait_and_close() -> None:
        sio.sleep(max(0.0, (deadline - utcnow()).total_seconds()) + 0.05)
        with app.app_context():
            db = session()
            from core.models import Event

            event = db.get(Event, event_id)
            p = db.get(services.Poll, poll_id)
            if event is None or p is None or p.status != "open" or p.closes_at != deadline:
                return
            try:
                services.close_poll(db, event, p, actor=None)
                db.commit()
            except ServiceError:
                db.rollback()

    sio.start_background_task(wait_and_close)


# ---------------------------------------------------------------- delegates

@bp.route("/ballot")
def ballot():
    db = session()
    state = my_polls(db, g.event, current_user)
    return render_template("voting/ballot.html", state=state, nonce=uuid.uuid4().hex,
                           receipt=ballots.new_receipt(), action=ActionForm())


@bp.route("/ballot/polls/<int:poll_id>")
def ballot_fragment(poll_id: int):
    """One poll's part of the ballot page, as it is now: the page swaps it in on a live update
    (never while its ballot is being filled in)."""
    db = session()
    state = my_polls(db, g.event, current_user)
    found = next((p for p in state["polls"] if p["id"] == poll_id), None)
    if found is None:
        abort(404)
    return render_template("voting/_ballot_poll.html", p=found, nonce=uuid.uuid4().hex,
                           receipt=ballots.new_receipt(), action=ActionForm())


@bp.route("/polls/<int:poll_id>/vote", methods=["POST"])
def vote(poll_id: int):
    """A vote over plain HTTP: the form of a phone without JavaScript, or the page's fallback
    when its Socket.IO connection is down (JSON in, JSON out). Same writer, same answers."""
    wants_json = request.is_json
    body = request.get_json(silent=True) if wants_json else None
    if wants_json:
        if not isinstance(body, dict):
            return jsonify({"ok": False, "error": "bad_request",
                            "message": _("The vote could not be read; reload the page and "
                                         "vote again.")}), 400
        choices, nonce, receipt = body.get("choices"), body.get("nonce"), body.get("receipt")
    else:
        # A single candidate's "disagree" is an empty choice.
        raw = [c for c in request.form.getlist("choice") if c != ""]
        choices = [int(c) for c in raw if c.isdigit()]
        if len(choices) != len(raw):
            choices = None
        nonce, receipt = request.form.get("nonce"), request.form.get("receipt")
    try:
        item = ballots.vote_input(user_id=current_user.id, choices=choices, nonce=nonce,
                                  receipt=receipt)
    except ServiceError as exc:
        answer = {"ok": False, "error": exc.code, "message": exc.message}
    else:
        session().rollback()  # nothing is held while the writer works
        try:
            result = ballots.cast_votes(current_app._get_current_object(), g.event.id,
                                        poll_id, [item])[0]
            answer = vote_answer(result)
        except WriterBusy:
            answer = {"ok": False, "error": "busy",
                      "message": _("The server is busy; send your vote again.")}
    if wants_json:
        return jsonify(answer), 200 if answer["ok"] else (
            404 if answer["error"] == "not_found" else 409)
    if answer.get("error") == "not_found":
        abort(404)
    flash(answer["message"] + (f" {_('Receipt')}: {answer['receipt']}"
                               if answer.get("receipt") else ""),
          "success" if answer["ok"] else "error")
    return redirect(url_for(".ballot"))


# ---------------------------------------------------------------- everyone

@bp.route("/results")
def results():
    db = session()
    polls = services.list_polls(db, g.event, statuses=("published",))
    return render_template("voting/results.html", polls=polls)


@bp.route("/polls/<int:poll_id>/ballots")
def counted(poll_id: int):
    """The published list of counted ballots, by receipt: a voter finds theirs."""
    db = session()
    p = services.get_poll(db, g.event, poll_id)
    if p.status != "published" or p.channel == "appointed":
        abort(404)
    wanted = ballots.normalize_receipt(request.args.get("receipt", ""))
    rows = services.counted_ballots(db, p)
    labels = {o.id: serialize.answer_label(o.answer, o.label) for o in p.options}
    found = None
    if wanted:
        found = next((b for b in rows if b.receipt == wanted), None)
    return render_template("voting/ballots.html", poll=p, rows=rows, labels=labels,
                           wanted=wanted, found=found, fmt=ballots.format_receipt)

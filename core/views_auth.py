"""Sign in and out, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from core.accounts import authenticate
from core.db import session as db_session
from core.forms import ActionForm, LoginForm
from core.i18n import LANG_SESSION_KEY
from core.throttle import blocked, charge, failure_keys

bp = Blueprint("auth", __name__)

def _safe_next(target: str | None) -> str:
    """Only same-site paths, so the login page cannot bounce a user to another site."""
    if not target:
        return url_for("home.index")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("home.index")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        username = form.username.data.strip().lower()
        # Only failed attempts count; once over the limit even a right password waits.
        keys = failure_keys("login", username, current_app.config["LOGIN_RATE_LIMIT"])
        if blocked(keys):
            abort(429)
        user = authenticate(db_session(), username, form.password.data)
        if user is None:
            charge(keys)
            db_session().rollback()
            flash(_("Wrong username or password."), "error")
            return render_template("core/login.html", form=form), 401
        db_session().commit()
        session.clear()
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("core/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if not ActionForm().validate_on_submit():
        abort(400)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.route("/lang/<code>", methods=["POST"])
def set_language(code: str):
    if not ActionForm().validate_on_submit():
        abort(400)
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session[LANG_SESSION_KEY] = code
    return redirect(_safe_next(request.form.get("next")))

"""The signed-in home page: my events and the units I look after."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from core.db import session
from core.events import visible_events

bp = Blueprint("home", __name__)


@bp.route("/")
@login_required
def index():
    events = visible_events(session(), current_user)
    return render_template("core/home.html", events=events)

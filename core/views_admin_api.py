"""JSON endpoints outside any event (docs/api.md lists them)."""

from __future__ import annotations

from flask import Blueprint, abort
from flask_login import current_user

from core.db import session
from core.events import visible_events

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.route("/me")
def me():
    if not current_user.is_authenticated:
        abort(401)
    u = current_user
    return {
        "ok": True,
        "user": {"username": u.username, "full_name": u.full_name,
                 "unit": u.unit.code if u.unit else None, "rights": sorted(u.right_names)},
        "events": [{"ref": f"{e.unit.code}/{e.slug}", "name": e.name}
                   for e in visible_events(session(), u)],
    }

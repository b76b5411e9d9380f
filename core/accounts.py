"""Staff accounts: passwords, sign-in, and rights granted downward (phân quyền)."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import audit
from core.errors import Forbidden, ServiceError
from core.models import UNIT_RIGHTS, User, UserRight
from core.rights import can_manage_structure
from tenants.models import Unit
from tenants.services import nfc

_hasher = PasswordHasher()
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,79}$")
MIN_PASSWORD = 8
# Verifying against this keeps a wrong username as slow as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ServiceError(_("the password needs at least %(n)s characters", n=MIN_PASSWORD))


def authenticate(db: Session, username: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    stored = user.password_hash if user and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active or not user.password_hash:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def create_account(
    db: Session,
    *,
    actor: User | None,
    unit: Unit | None,
    username: str,
    full_name: str,
    password: str | None,
    email: str | None = None,
    rights: tuple[str, ...] = (),
) -> User:
    """Create an account at `unit`; `actor` must administer that unit or one above it.

    `actor=None` is the command line (create-admin, demo), which acts as the operator.
    """
    if actor is not None and (unit is None or not can_manage_structure(actor, unit)):
        raise Forbidden(_("you may create accounts only for your unit and the units below it"))
    username = username.strip().lower()
    if not USERNAME_RE.match(username):
        raise ServiceError(_("username: 3–80 lower-case letters, digits, dots, hyphens"))
    if db.scalar(select(func.count()).select_from(User).where(User.username == username)):
        raise ServiceError(_("the username %(u)s is taken", u=username))
    full_name = nfc(full_name)
    if not full_name:
        raise ServiceError(_("full name is required"))
    if password is not None:
        check_password_strength(password)
    user = User(
        username=username,
        full_name=full_name,
        email=(email or "").strip() or None,
        password_hash=hash_password(password) if password else None,
        unit=unit,
    )
    db.add(user)
    db.flush()
    for right in rights:
        _grant(db, user, right, actor)
    audit.record("account.create", actor=actor, unit=unit,
                 detail={"username": username, "rights": sorted(rights)})
    return user


def _grant(db: Session, user: User, right: str, actor: User | None) -> None:
    if right not in UNIT_RIGHTS:
        raise ServiceError(_("unknown right %(r)s", r=right))
    if user.unit is None:
        raise ServiceError(_("only staff accounts of a unit can hold rights"))
    if right not in user.right_names:
        user.rights.append(UserRight(right=right, granted_by_id=actor.id if actor else None))
        db.flush()


def grant_right(db: Session, *, actor: User, user: User, right: str) -> None:
    if user.unit is None or not can_manage_structure(actor, user.unit):
        raise Forbidden(_("you may grant rights only in your unit and the units below it"))
    _grant(db, user, right, actor)
    from core.realtime import forget_socket_contexts_after_commit

    # A right can make its holder an organiser of events: resolved afresh at the next call.
    forget_socket_contexts_after_commit(db)
    audit.record("right.grant", actor=actor, unit=user.unit,
                 detail={"username": user.username, "right": right})


def revoke_right(db: Session, *, actor: User, user: User, right: str) -> None:
    if user.unit is None or not can_manage_structure(actor, user.unit):
        raise Forbidden(_("you may revoke rights only in your unit and the units below it"))
    if user.id == actor.id and right == "admin":
        raise ServiceError(_("you cannot revoke your own admin right; ask another admin"))
    for r in list(user.rights):
        if r.right == right:
            user.rights.remove(r)
    db.flush()
    from core.realtime import evict_after_commit

    # Losing a right can cost the organiser role and its staff rooms: reconnect and rejoin.
    evict_after_commit("user", user.id, db)
    audit.record("right.revoke", actor=actor, unit=user.unit,
                 detail={"username": user.username, "right": right})


def set_active(db: Session, *, actor: User, user: User, active: bool) -> None:
    if user.unit is None or not can_manage_structure(actor, user.unit):
        raise Forbidden(_("you may manage accounts only in your unit and the units below it"))
    if user.id == actor.id:
        raise ServiceError(_("you cannot disable your own account"))
    user.active = active
    user.session_version += 1  # signs the account out everywhere
    from core.realtime import evict_after_commit

    evict_after_commit("user", user.id, db)
    audit.record("account.enable" if active else "account.disable", actor=actor, unit=user.unit,
                 detail={"username": user.username})


def accounts_of(db: Session, unit: Unit) -> list[User]:
    return list(db.scalars(select(User).where(User.unit_id == unit.id).order_by(User.username)))

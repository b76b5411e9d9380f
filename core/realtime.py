"""The realtime channel: one Flask-SocketIO server, rooms per event and audience.

Connect is authenticated by the login session (the cookie of the handshake) or by a projector
link token in the Socket.IO `auth` payload. Every other Socket.IO event names its event in the
payload (`{"event": "<unit>/<slug>", ...}`) and passes the same guard as the pages: no role in
that event, or the module off, and the answer is `{"ok": false, "error": "not_found"}` with no
effect. With DAIHOI_REDIS_URL set, Redis is the message queue, so any process can emit to a
client connected to another.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import gettext as _
from flask_login import current_user
from flask_socketio import SocketIO, join_room
from socketio.exceptions import ConnectionRefusedError  # noqa: A004 - the reason reaches the client
from sqlalchemy.orm import Session

from core.db import after_commit, database_unavailable, rollback_quietly
from core.db import session as db_session
from core.errors import unavailable_message
from core.events import get_event, resolve_projector_token
from core.models import PARTICIPANT_ROLES, Event, User
from core.modules import enabled_modules
from core.plugins import event_hook, flatten
from core.rights import event_roles, has_permission, is_staff

AUDIENCES = ("all", "staff", "delegates", "projector")
logger = logging.getLogger(__name__)


def room(event_id: int, audience: str = "all") -> str:
    return f"event:{event_id}" if audience == "all" else f"event:{event_id}:{audience}"


@dataclass
class SocketHandler:
    """A Socket.IO event a module answers; `permission` limits who may call it (None: anyone)."""

    name: str
    func: Callable[[SocketContext, dict], Any]
    module: str | None = None
    permission: str | None = None


@dataclass
class SocketContext:
    """The resolved caller of a socket call: its event, roles and account.

    `event` and `user` are loaded from the ids on first use, so a handler that needs only the
    ids (a scan at the morning rush) costs no query for them.
    """

    event_id: int
    roles: frozenset[str]
    user_id: int | None
    sid: str
    extra: dict = field(default_factory=dict)
    _event: Event | None = None
    _user: User | None = None

    @property
    def event(self) -> Event:
        if self._event is None:
            self._event = db_session().get(Event, self.event_id)
        return self._event

    @property
    def user(self) -> User | None:
        if self._user is None and self.user_id is not None:
            self._user = db_session().get(User, self.user_id)
        return self._user


@dataclass(frozen=True)
class _Resolved:
    expires: float
    event_id: int
    roles: frozenset[str]
    modules: frozenset[str]
    user_id: int | None


# How long a connection's resolved event, roles and modules are reused. Every change to them
# acts at once: a removed role, a disabled account or a revoked screen link disconnects the
# connection (Evictor); a module switched, a role added or a right granted clears every
# process's cache. So this is only a safety net; a long one keeps a phone that joined
# minutes ago from paying the resolution again when a thousand of them vote at once.
CONTEXT_TTL_SECONDS = 300.0


class PerRoom(dict):
    """What a keyed update's function may return when rooms get different payloads:
    {room name: payload}, each sent to its room alone (instead of one payload to the
    update's audiences). Made once per flush, it lets one rendering serve a whole room."""


def _error(code: str, message: str) -> dict:
    return {"ok": False, "error": code, "message": message}


def not_found() -> dict:
    return _error("not_found", _("Not found."))


class Publisher:
    """Sends updates to rooms; keyed updates are coalesced to at most one per flush interval.

    A tally or a counter changes with every vote or scan; clients need its latest value a few
    times a second, not every intermediate one, so the newest payload per key wins. A keyed
    payload may be a function: it is then called once per flush, in an app context, so an
    expensive figure (an attendance count) is computed a few times a second, not per scan.

    `settle`: with several processes, each computes and sends the figure after its own
    commits, and two sends through Redis may arrive in the other order (a count of 999 after
    the 1,000 of another process). A settled key is computed and sent once more when it has
    been quiet for SETTLE_SECONDS, by every process that sent it, so the last value a screen
    gets is one computed after every commit.
    """

    SETTLE_SECONDS = 1.0

    def __init__(self, sio: SocketIO, interval: float, app: Flask) -> None:
        self.app = app
        self.sio = sio
        self.interval = interval
        self._pending: dict[tuple, Any] = {}
        self._settle: dict[tuple, tuple[Any, float]] = {}
        self._settled_keys: set[tuple] = set()
        self._lock = threading.Lock()
        self._running = False

    def publish(self, event_id: int, audiences: tuple[str, ...], name: str, data: Any,
                key: str | None = None, settle: bool = False) -> None:
        # One emit to several rooms reaches a connection in two of them once.
        targets = tuple(room(event_id, a) for a in audiences)
        if key is None:
            self.sio.emit(name, data, to=list(targets))
            return
        with self._lock:
            self._pending[(targets, name, key)] = data
            if settle:
                self._settled_keys.add((targets, name, key))
            if not self._running:
                self._running = True
                self.sio.start_background_task(self._flush_loop)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            due = time.monotonic() + self.SETTLE_SECONDS
            for k, data in pending.items():
                if k in self._settled_keys:
                    self._settle[k] = (data, due)
            now = time.monotonic()
            for k, (data, when) in list(self._settle.items()):
                if when <= now and k not in pending:
                    pending[k] = data
                    del self._settle[k]
                    self._settled_keys.discard(k)
        self._send(pending)

    def _send(self, pending: dict[tuple, Any]) -> None:
        for (targets, name, _key), data in pending.items():
            try:
                if callable(data):
                    with self.app.app_context():
                        data = data()
                if isinstance(data, PerRoom):
                    for target, payload in data.items():
                        self.sio.emit(name, payload, to=target)
                    continue
                self.sio.emit(name, data, to=list(targets))
            except Exception:  # noqa: BLE001 - one failed update must not hold back the others
                logger.exception("realtime update %s failed", name)

    def _flush_loop(self) -> None:
        while True:
            self.sio.sleep(self.interval)
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a failed emit must not stop later updates
                logger.exception("realtime flush failed")
            with self._lock:
                if not self._pending and not self._settle:
                    self._running = False
                    return


def _audiences(audience: str | tuple[str, ...]) -> tuple[str, ...]:
    return (audience,) if isinstance(audience, str) else tuple(audience)


def publish(event: Event | int, name: str, data: Any, *,
            audience: str | tuple[str, ...] = "all", key: str | None = None,
            settle: bool = False) -> None:
    """Send `name` to an event's audience(s) now; give `key` to coalesce frequent updates.

    With a key, `data` may be a function of no arguments, called at flush time in an app
    context; `settle=True` sends such a figure once more when the key has been quiet for a
    second (Publisher), for figures that must end right on every screen (a turnout, an
    attendance). Use `publish_after_commit` for anything announcing a change to the database.
    """
    event_id = event if isinstance(event, int) else event.id
    current_app.extensions["daihoi_publisher"].publish(event_id, _audiences(audience), name,
                                                       data, key, settle)


def publish_after_commit(event: Event | int, name: str, data: Any, *,
                         audience: str | tuple[str, ...] = "all", key: str | None = None,
                         settle: bool = False, db: Session | None = None) -> None:
    """Like `publish`, once `db`'s transaction has committed (and never if it rolls back)."""
    app = current_app._get_current_object()
    event_id = event if isinstance(event, int) else event.id

    def send() -> None:
        with app.app_context():
            publish(event_id, name, data, audience=audience, key=key, settle=settle)

    after_commit(send, db)


# ---------------------------------------------------------------- eviction

def identity_room(kind: str, ident: int) -> str:
    """The room every connection of one account ("user") or screen link ("link") sits in."""
    return f"{kind}:{ident}"


class Evictor:
    """Disconnects every connection of an account or screen link, in every process.

    A revoked screen link or a disabled account must stop receiving broadcasts at once, not at
    its next reconnect. Each process disconnects its own connections; with Redis configured
    the order fans out on a pub/sub channel to the other processes.
    """

    CHANNEL = "daihoi:evict"
    # Not a room: tells every process to drop the socket contexts it resolved.
    FORGET_CONTEXTS = "*contexts*"

    def __init__(self, sio: SocketIO, redis_url: str | None, contexts: dict) -> None:
        self.sio = sio
        self.contexts = contexts
        self.redis_url = redis_url
        self._redis = None
        if redis_url:
            import redis

            self._redis = redis.Redis.from_url(redis_url, **REDIS_OPTIONS)
            sio.start_background_task(self._listen)

    def evict(self, room_name: str) -> None:
        if self._redis is not None:
            try:
                self._redis.publish(self.CHANNEL, room_name)
                return
            except Exception:  # noqa: BLE001 - still evict here when Redis is down
                logger.exception("could not publish an eviction; evicting locally only")
        self.evict_local(room_name)

    def evict_local(self, room_name: str) -> None:
        if room_name == self.FORGET_CONTEXTS:
            self.contexts.clear()
            return
        server = self.sio.server
        for participant in list(server.manager.get_participants("/", room_name)):
            sid = participant[0] if isinstance(participant, tuple) else participant
            server.disconnect(sid, namespace="/")

    def _listen(self) -> None:
        import redis

        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.CHANNEL)
                for message in pubsub.listen():
                    if message.get("type") == "message":
                        try:
                            self.evict_local(message["data"].decode())
                        except Exception:  # noqa: BLE001 - keep listening for the next one
                            logger.exception("eviction failed")
            except redis.RedisError:
                logger.warning("eviction channel lost; retrying in 1 s")
                self.sio.sleep(1)


def forget_socket_contexts_after_commit(db: Session | None = None) -> None:
    """After commit, every process resolves its socket callers afresh (modules changed)."""
    evictor = current_app.extensions["daihoi_evictor"]

    def forget() -> None:
        evictor.contexts.clear()  # here at once; the other processes through Redis
        evictor.evict(Evictor.FORGET_CONTEXTS)

    after_commit(forget, db)


def evict_after_commit(kind: str, ident: int, db: Session | None = None) -> None:
    """Disconnect an account's or a screen link's connections once the change is committed."""
    evictor = current_app.extensions["daihoi_evictor"]
    after_commit(lambda: evictor.evict(identity_room(kind, ident)), db)


def _projector_links() -> dict[str, int]:
    return current_app.extensions["daihoi_socket_projectors"]


def _resolved_cache() -> dict[str, dict[str, _Resolved]]:
    """sid -> event ref -> what was resolved for that connection."""
    return current_app.extensions["daihoi_socket_contexts"]


def socket_context(payload: Any, module: str | None) -> SocketContext | dict:
    """Resolve the event a socket call names, or the error to acknowledge.

    A connection calling again for the same event within CONTEXT_TTL_SECONDS reuses what was
    resolved (no query): a scanning station sends hundreds of calls a minute.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        return _error("bad_request", _("The request must name an event."))
    ref = payload["event"]
    hit = _resolved_cache().get(request.sid, {}).get(ref)
    if hit is not None and hit.expires > time.monotonic():
        if module is not None and module not in hit.modules:
            return not_found()
        return SocketContext(event_id=hit.event_id, roles=hit.roles, user_id=hit.user_id,
                             sid=request.sid)
    ctx = _resolve(ref)
    if isinstance(ctx, dict):
        return ctx
    modules = enabled_modules(ctx.event)
    _resolved_cache().setdefault(request.sid, {})[ref] = _Resolved(
        time.monotonic() + CONTEXT_TTL_SECONDS, ctx.event_id, ctx.roles, modules, ctx.user_id)
    if module is not None and module not in modules:
        return not_found()
    return ctx


def _resolve(ref: str) -> SocketContext | dict:
    unit_code, _sep, slug = ref.partition("/")
    event = get_event(db_session(), unit_code, slug)
    if event is None:
        return not_found()
    roles = set(event_roles(current_user, event)) if current_user.is_authenticated else set()
    link_id = _projector_links().get(request.sid)
    if link_id is not None:
        from core.models import ProjectorLink

        link = db_session().get(ProjectorLink, link_id)
        if link is not None and link.revoked_at is None and link.event_id == event.id:
            roles.add("projector")
    if not roles:
        return not_found()
    user = current_user._get_current_object() if current_user.is_authenticated else None
    return SocketContext(event_id=event.id, roles=frozenset(roles),
                         user_id=user.id if user else None, sid=request.sid, _event=event,
                         _user=user)


def full_state(event: Event, roles: frozenset[str]) -> dict:
    """Everything a client needs to redraw, sent on every (re)connect."""
    state: dict[str, Any] = {
        "event": {"id": event.id, "ref": f"{event.unit.code}/{event.slug}", "name": event.name,
                  "convened_count": event.convened_count},
        "modules": sorted(enabled_modules(event)),
        "sessions": [{"id": s.id, "name": s.name, "kind": s.kind} for s in event.sessions],
        "roles": sorted(roles),
    }
    for part in event_hook(event, "daihoi_realtime_state")(event=event, roles=roles):
        if part:
            state.update(part)
    return state


def _join(ctx: SocketContext, payload: dict) -> dict:
    if payload.get("as") == "projector":
        # A hall screen shows what the hall may see, even in a browser signed in as staff.
        join_room(room(ctx.event.id))
        join_room(room(ctx.event.id, "projector"))
        return {"ok": True, "state": full_state(ctx.event, frozenset({"projector"}))}
    join_room(room(ctx.event.id))
    if ctx.user_id is not None:
        # Messages for this person alone within the event (a reply to their comment).
        join_room(room(ctx.event.id, f"user:{ctx.user_id}"))
    if is_staff(ctx.roles):
        join_room(room(ctx.event.id, "staff"))
    if ctx.roles & PARTICIPANT_ROLES:
        join_room(room(ctx.event.id, "delegates"))
    if "projector" in ctx.roles:
        join_room(room(ctx.event.id, "projector"))
    return {"ok": True, "state": full_state(ctx.event, ctx.roles)}


def handlers(app: Flask) -> dict[str, SocketHandler]:
    return app.extensions["daihoi_socket_handlers"]


def _dispatch(handler: SocketHandler, payload: Any) -> Any:
    try:
        ctx = socket_context(payload, handler.module)
        if isinstance(ctx, dict):
            return ctx
        if handler.permission is not None and not has_permission(
                ctx.roles, handler.permission, current_app.extensions["daihoi_permissions"]):
            return _error("forbidden", _("You may not do this."))
        g.socket_context = ctx
        return handler.func(ctx, payload)
    except Exception as exc:
        rollback_quietly()
        if database_unavailable(exc):
            current_app.logger.warning("socket handler %s: database unavailable",
                                       handler.name)
            return _error("unavailable", unavailable_message(exc))
        current_app.logger.exception("socket handler %s failed", handler.name)
        return _error("server_error", _("Something went wrong; nothing was saved. Try again."))


# A Redis that cannot be reached must fail fast, not hang a request for the kernel's TCP
# timeout; keepalive finds a connection that died silently (a network cut, not a restart).
REDIS_OPTIONS = {"socket_connect_timeout": 3, "socket_keepalive": True}


def _message_queue(app: Flask) -> dict:
    url = app.config["REDIS_URL"]
    if not url:
        return {}
    import socketio

    return {"client_manager": socketio.RedisManager(url, channel="flask-socketio",
                                                    redis_options=REDIS_OPTIONS)}


def init_realtime(app: Flask) -> SocketIO:
    sio = SocketIO(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        **_message_queue(app),
        manage_session=False,
        # Same-origin only: a page of another site cannot ride a delegate's cookie.
        cors_allowed_origins=app.config.get("SOCKETIO_CORS_ORIGINS"),
        ping_interval=20,
        ping_timeout=20,
        # A connection's events are handled in order, in the thread (or greenlet) that reads
        # it, instead of a new thread per event: measured, that is what lets one process keep
        # up with a hall's scanning stations (docs/benchmarks.md, "Check-in").
        async_handlers=app.config["SOCKETIO_ASYNC_HANDLERS"],
    )
    app.extensions["daihoi_publisher"] = Publisher(sio, app.config["REALTIME_FLUSH_SECONDS"],
                                                      app)
    app.extensions["daihoi_socket_projectors"] = {}
    app.extensions["daihoi_socket_contexts"] = {}
    app.extensions["daihoi_evictor"] = Evictor(sio, app.config["REDIS_URL"],
                                               app.extensions["daihoi_socket_contexts"])
    registry: dict[str, SocketHandler] = {"join": SocketHandler("join", _join)}
    for h in flatten(app.extensions["daihoi_pm"].hook.daihoi_socket_handlers()):
        if h.name in registry:
            raise RuntimeError(f"socket event {h.name!r} is registered twice")
        registry[h.name] = h
    app.extensions["daihoi_socket_handlers"] = registry

    @sio.on("connect")
    def on_connect(auth=None):
        try:
            return _admit(auth)
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            # Refused with a reason the page understands: it tries again in a few seconds.
            rollback_quietly()
            current_app.logger.warning("socket connect: database unavailable")
            raise ConnectionRefusedError("unavailable") from None

    def _admit(auth) -> bool:
        # A hall screen's link counts even in a browser that is also signed in.
        token = auth.get("projector") if isinstance(auth, dict) else None
        link = resolve_projector_token(db_session(), token) if isinstance(token, str) else None
        if token is not None and link is None:
            raise ConnectionRefusedError("unauthorized")
        if link is not None:
            _projector_links()[request.sid] = link.id
            join_room(identity_room("link", link.id))
        if current_user.is_authenticated:
            join_room(identity_room("user", current_user.id))
        elif link is None:
            raise ConnectionRefusedError("unauthorized")
        return True

    @sio.on("disconnect")
    def on_disconnect(*_args):
        _projector_links().pop(request.sid, None)
        _resolved_cache().pop(request.sid, None)

    for name, handler in registry.items():
        sio.on_event(name, _bind(handler))
    return sio


def _bind(handler: SocketHandler):
    def on_event(payload=None):
        return _dispatch(handler, payload)

    on_event.__name__ = f"on_{handler.name.replace(':', '_')}"
    return on_event




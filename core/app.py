"""The application factory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import (
    Flask,
    abort,
    current_app,
    g,
    render_template,
    request,
    send_from_directory,
)
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from core.config import PROJECT_ROOT, load_config
from core.db import Database, database_unavailable, rollback_quietly, session
from core.errors import NotFound, unavailable_message
from core.models import User
from core.plugins import ModuleRegistry, event_hook, flatten, make_plugin_manager

# Files of npm packages the pages load; only these are served from node_modules.
VENDOR_FILES = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
    "jsQR.js": "jsqr/dist/jsQR.js",
    # The legacy build of pdf.js runs on the older phone browsers delegates bring.
    "pdf.mjs": "pdfjs-dist/legacy/build/pdf.min.mjs",
    "pdf.worker.mjs": "pdfjs-dist/legacy/build/pdf.worker.min.mjs",
}
# Folders pdf.js reads from when a PDF does not embed its fonts.
VENDOR_DIRS = {
    "pdf-cmaps": "pdfjs-dist/cmaps",
    "pdf-fonts": "pdfjs-dist/standard_fonts",
}


class DatabaseIdConverter(IntegerConverter):
    """`<int:…>` in URLs: a number past a 32-bit integer names nothing of ours, so the URL
    does not match (404) instead of failing in the database (PostgreSQL's integer overflows,
    a 500)."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(overrides: dict | None = None, *, extra_plugins: tuple = (),
               instance_path: str | Path | None = None) -> Flask:
    instance = Path(instance_path or os.environ.get("DAIHOI_INSTANCE_DIR")
                    or (PROJECT_ROOT / "instance")).resolve()
    app = Flask(
        __name__,
        instance_path=str(instance),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config(instance, overrides))
    # Before any route is added: every <int:…> of a URL is an id as the database holds it.
    app.url_map.converters["int"] = DatabaseIdConverter

    if app.config["PROXY_COUNT"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    from core.session_cache import CachingSessionInterface

    app.session_interface = CachingSessionInterface()
    Database().init_app(app)
    _init_login(app)
    CSRFProtect(app)
    app.extensions["daihoi_limiter"] = Limiter(
        get_remote_address, app=app, storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        default_limits=[],
    )
    from core.i18n import init_i18n

    init_i18n(app)

    pm = make_plugin_manager(extra_plugins, load_entry_points=app.config.get("LOAD_ENTRY_POINTS",
                                                                               True))
    app.extensions["daihoi_pm"] = pm
    app.extensions["daihoi_modules"] = ModuleRegistry(pm)
    permissions: dict[str, set[str]] = {}
    for table in pm.hook.daihoi_permissions():
        for name, roles in (table or {}).items():
            permissions.setdefault(name, set()).update(roles)
    app.extensions["daihoi_permissions"] = permissions

    from core import views_admin_api, views_auth, views_event, views_home
    from tenants import views as tenant_views

    app.register_blueprint(views_auth.bp)
    app.register_blueprint(views_home.bp)
    app.register_blueprint(views_admin_api.bp)
    app.register_blueprint(tenant_views.bp)
    app.register_blueprint(views_event.bp)
    app.register_blueprint(views_event.api)
    app.register_blueprint(views_event.links)
    for bp in flatten(pm.hook.daihoi_blueprints()):
        app.register_blueprint(bp)

    from core.realtime import init_realtime

    app.extensions["daihoi_socketio"] = init_realtime(app)
    _init_pages(app)
    return app


def _init_login(app: Flask) -> None:
    lm = LoginManager(app)
    lm.login_view = "auth.login"
    lm.login_message = None
    # "strong" would sign out a delegate whose phone moves from the hall Wi-Fi to 4G.
    lm.session_protection = "basic"

    @lm.user_loader
    def load_user(token: str):
        user_id, _sep, version = token.partition(":")
        if not user_id.isdigit():
            return None
        user = session().get(User, int(user_id))
        if user is None or not user.active or str(user.session_version) != version:
            return None
        return user


def _init_pages(app: Flask) -> None:
    @app.route("/vendor/<path:name>")
    def vendor(name: str):
        folder, _sep, rest = name.partition("/")
        if folder in VENDOR_DIRS and rest:
            # send_from_directory refuses anything that would leave the folder.
            return send_from_directory(Path(app.config["NODE_MODULES"]) / VENDOR_DIRS[folder],
                                       rest, max_age=86400)
        if name not in VENDOR_FILES:
            abort(404)
        path = Path(app.config["NODE_MODULES"]) / VENDOR_FILES[name]
        # Browsers run module scripts only when served as JavaScript.
        mimetype = "text/javascript" if path.suffix == ".mjs" else None
        return send_from_directory(path.parent, path.name, max_age=86400, mimetype=mimetype)

    @app.route("/favicon.ico")
    def favicon():
        return app.send_static_file("favicon.svg")

    @app.route("/health")
    def health():
        from core.health import check

        report = check(app)
        return report, (200 if report["ok"] else 503)

    @app.context_processor
    def inject():
        from flask_babel import get_locale

        from core.event_context import can

        event = g.get("event")
        roles = g.get("event_roles", frozenset())
        menu, scripts = [], []
        if event is not None:
            menu = sorted(flatten(event_hook(event, "daihoi_event_menu_items")(
                event=event, roles=roles)), key=lambda m: m.order)
            scripts = flatten(event_hook(event, "daihoi_page_scripts")(event=event, roles=roles))
        return {"event": event, "event_roles": roles, "event_menu": menu,
                "module_scripts": scripts, "current_locale": str(get_locale()), "can": can}

    @app.after_request
    def security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.errorhandler(NotFound)
    def service_not_found(exc):
        # A service looking an object up through its event found nothing there: the same 404
        # as a URL that never existed, with nothing of the request kept.
        session().rollback()
        return _error_page(404, _("This page does not exist, or you do not have access to it."))

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return _error_page(400, _("The form expired or was sent from elsewhere. "
                                  "Reload the page and try again; nothing was saved."))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        messages = {
            401: _("Sign in first."),
            403: _("You do not have the right to see this page."),
            404: _("This page does not exist, or you do not have access to it."),
            429: _("Too many attempts. Wait a minute and try again."),
        }
        return _error_page(exc.code or 500, messages.get(exc.code, exc.description))

    @app.errorhandler(Exception)
    def server_error(exc):
        rollback_quietly()
        if database_unavailable(exc):
            # The transaction never committed, so nothing of the request is saved; say so,
            # and that trying again is right, instead of a bare 500.
            app.logger.warning("database unavailable: %s", type(exc).__name__)
            return _error_page(503, unavailable_message(exc), standalone=True)
        app.logger.exception("unhandled error")
        return _error_page(500, _("Something went wrong; nothing was saved. Try again."))


ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 429: "too_many_requests", 500: "server_error",
               503: "unavailable"}


def _error_page(code: int, message: str, *, standalone: bool = False):
    """`standalone`: a page that needs nothing from the database (no account, no menu), for
    when the database is what failed."""
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        # The same codes as Socket.IO acknowledgements, so clients handle both alike.
        return {"ok": False, "error": ERROR_CODES.get(code, "error"), "message": message}, code
    if standalone:
        # The page's layout asks for the signed-in account; with the database down, nobody.
        g.event = None
        g._login_user = current_app.login_manager.anonymous_user()
        return render_template("errors/unavailable.html", code=code, message=message), code
    return render_template("errors/error.html", code=code, message=message), code



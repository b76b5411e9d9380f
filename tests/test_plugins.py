"""The plugin system, through the example plugin: one test per hook, plus enable/disable."""

from __future__ import annotations

import pytest

from core.db import session
from core.errors import ServiceError
from core.modules import disable_module, enable_module, enabled_modules
from tests import example_plugin
from tests.conftest import LiveServer, SocketClient, build_world, login, make_app

EV = "/lao-cai/dai-hoi"


@pytest.fixture
def papp(db_url, tmp_path):
    app = make_app(db_url, tmp_path, EXTRA_PLUGINS=(example_plugin,))
    example_plugin.CALLS.clear()
    yield app
    app.extensions["daihoi_db"].engine.dispose()


@pytest.fixture
def pworld(papp):
    world = build_world(papp)
    with papp.app_context():
        disable_module(session(), world.event("a"), "example", actor=None)
        session().commit()
    example_plugin.CALLS.clear()
    return world


def switch(app, world, name, on):
    with app.app_context():
        ev = world.event("a")
        (enable_module if on else disable_module)(session(), ev, name, actor=None)
        session().commit()


def organiser(app):
    return login(app.test_client(), "a.admin")


def test_modules(papp, pworld):
    registry = papp.extensions["daihoi_modules"]
    assert registry.modules["example"].depends == ("announcements",)
    assert registry.dependencies("example") == ["announcements"]
    assert registry.dependents("announcements") == ["example"]


def test_enabling_switches_on_dependencies_and_disabling_a_needed_module_is_refused(papp, pworld):
    with papp.app_context():
        ev = pworld.event("a")
        disable_module(session(), ev, "announcements", actor=None)
        session().commit()
        assert enable_module(session(), ev, "example", actor=None) == ["announcements", "example"]
        session().commit()
        with pytest.raises(ServiceError, match="needed by"):
            disable_module(session(), ev, "announcements", actor=None)
        session().rollback()
        assert {"announcements", "example"} <= enabled_modules(pworld.event("a"))


def test_module_toggle_through_the_settings_page(papp, pworld):
    c = organiser(papp)
    assert c.get(f"{EV}/example/").status_code == 404
    r = c.post(f"{EV}/manage/modules/example", data={"on": "1"}, follow_redirects=True)
    assert "Example" in r.get_data(as_text=True)
    assert c.get(f"{EV}/example/").status_code == 200
    r = c.post(f"{EV}/manage/modules/announcements", data={"on": "0"}, follow_redirects=True)
    assert "needed by" in r.get_data(as_text=True)
    assert c.get(f"{EV}/announcements/").status_code == 200
    c.post(f"{EV}/manage/modules/example", data={"on": "0"})
    assert c.get(f"{EV}/example/").status_code == 404
    assert c.post(f"{EV}/manage/modules/no-such-module", data={"on": "1"}).status_code == 404


def test_only_organisers_toggle_modules(papp, pworld):
    c = login(papp.test_client(), "a.secretariat")
    assert c.post(f"{EV}/manage/modules/example", data={"on": "1"}).status_code == 403
    with papp.app_context():
        assert "example" not in enabled_modules(pworld.event("a"))


def test_blueprints(papp, pworld):
    switch(papp, pworld, "example", True)
    c = login(papp.test_client(), "a.delegate")
    r = c.get(f"{EV}/example/")
    assert r.status_code == 200 and "Đại hội lao-cai" in r.get_data(as_text=True)


def test_permissions(papp, pworld):
    switch(papp, pworld, "example", True)
    assert login(papp.test_client(), "a.tellers").get(f"{EV}/example/secret").status_code == 200
    assert organiser(papp).get(f"{EV}/example/secret").status_code == 200
    assert login(papp.test_client(), "a.delegate").get(
        f"{EV}/example/secret").status_code == 403


def test_event_menu_items(papp, pworld):
    c = organiser(papp)
    assert "Example menu" not in c.get(f"{EV}/").get_data(as_text=True)
    switch(papp, pworld, "example", True)
    assert "Example menu" in c.get(f"{EV}/").get_data(as_text=True)


def test_dashboard_widgets(papp, pworld):
    c = organiser(papp)
    assert "Example widget" not in c.get(f"{EV}/").get_data(as_text=True)
    switch(papp, pworld, "example", True)
    assert "Example widget" in c.get(f"{EV}/").get_data(as_text=True)


def test_page_scripts(papp, pworld):
    c = organiser(papp)
    assert "example-plugin.js" not in c.get(f"{EV}/").get_data(as_text=True)
    switch(papp, pworld, "example", True)
    assert "/static/example-plugin.js" in c.get(f"{EV}/").get_data(as_text=True)


def test_projector_panels(papp, pworld):
    c = organiser(papp)
    assert "Example panel" not in c.get(f"{EV}/projector").get_data(as_text=True)
    switch(papp, pworld, "example", True)
    c.get(f"{EV}/projector")
    # The example panel reuses the sessions widget template: its sessions are on the screen.
    assert "Phiên trù bị" in c.get(f"{EV}/projector").get_data(as_text=True)


def test_document_panels(papp, pworld):
    from core.db import utcnow
    from plugins.documents.demo import political_report_pdf
    from plugins.documents.services import create_document

    with papp.app_context():
        doc = create_document(session(), pworld.event("a"), actor=None, title="Dự thảo",
                              category="other", visibility="public", filename="d.pdf",
                              raw=political_report_pdf(), publish_at=utcnow())
        session().commit()
        url = f"{EV}/documents/{doc.id}"
    c = organiser(papp)
    assert "Phiên trù bị" not in c.get(url).get_data(as_text=True)
    switch(papp, pworld, "example", True)
    # The example panel reuses the sessions widget template: its sessions show under the PDF.
    assert "Phiên trù bị" in c.get(url).get_data(as_text=True)


def test_delegate_checked_in(papp, pworld):
    import uuid

    from plugins.checkin import services as checkin
    from plugins.delegates.roster_import import apply_roster, parse_roster
    from tests.plugins.conftest import ROSTER

    with papp.app_context():
        ev = pworld.event("a")
        apply_roster(session(), ev, parse_roster(ROSTER.read_bytes(), ROSTER.name), actor=None)
        lst = checkin.ensure_lists(session(), ev)[0]  # preparatory: convened delegates enter
        checkin.open_list(session(), ev, lst, actor=None)
        session().commit()
        people = sorted(ev_people(ev), key=lambda d: d.code)[:2]
        checkin.record_scan(session(), ev, lst, code=people[0].checkin_secret,
                            nonce=uuid.uuid4().hex)
        session().commit()
        assert [c for c in example_plugin.CALLS if c[0] == "delegate_checked_in"] == []
    switch(papp, pworld, "example", True)
    with papp.app_context():
        ev = pworld.event("a")
        lst = checkin.ensure_lists(session(), ev)[0]
        for _ in range(2):  # the second scan finds them present: no second call
            checkin.record_scan(session(), ev, lst, code=people[1].checkin_secret,
                                nonce=uuid.uuid4().hex, station="Cổng A")
            session().commit()
    calls = [c for c in example_plugin.CALLS if c[0] == "delegate_checked_in"]
    assert calls == [("delegate_checked_in", "dai-hoi", people[1].code, "Phiên trù bị",
                      "badge")]


def ev_people(ev):
    from sqlalchemy import select

    from plugins.delegates.models import Delegate

    return session().scalars(select(Delegate).where(Delegate.event_id == ev.id)).all()


def test_event_stats(papp, pworld):
    c = login(papp.test_client(), "tw.admin")
    assert "Example figure" not in c.get("/lao-cai/").get_data(as_text=True)
    switch(papp, pworld, "example", True)
    page = c.get("/lao-cai/").get_data(as_text=True)
    assert "Example figure" in page and "<b>42</b>" in page


def test_event_created(papp, pworld):
    c = organiser(papp)
    r = c.post("/lao-cai/new-event", data={"name": "Hội nghị", "slug": "hoi-nghi",
                                           "kind": "conference", "convened_count": "3"})
    assert r.status_code == 302
    assert ("event_created", "hoi-nghi", "a.admin") in example_plugin.CALLS


def test_module_enabled(papp, pworld):
    switch(papp, pworld, "example", True)
    assert ("module_enabled", "dai-hoi", "example") in example_plugin.CALLS


def test_module_disabled(papp, pworld):
    switch(papp, pworld, "example", True)
    switch(papp, pworld, "example", False)
    assert ("module_disabled", "dai-hoi", "example") in example_plugin.CALLS
    # Hooks that take an event reach only enabled modules: the example's stats are gone.
    with papp.app_context():
        from core.plugins import event_hook

        ev = pworld.event("a")
        results = event_hook(ev, "daihoi_event_stats")(event=ev)
        assert all("Example figure" not in (r or {}) for r in results)


def test_demo_data(db_url, tmp_path):
    app = make_app(db_url, tmp_path, EXTRA_PLUGINS=(example_plugin,))
    example_plugin.CALLS.clear()
    from core.demo import load_demo

    with app.app_context():
        assert load_demo(session(), password="demo-password-1")
        session().commit()
        assert not load_demo(session(), password="demo-password-1")
    calls = [c for c in example_plugin.CALLS if c[0] == "demo_data"]
    assert calls == [("demo_data", "dai-hoi-xvi", calls[0][2])]
    assert {"organiser", "delegate", "tellers", "checkin"} <= set(calls[0][2])
    app.extensions["daihoi_db"].engine.dispose()


def test_migration_locations(papp):
    from alembic.script import ScriptDirectory

    from core.migrate import alembic_config, pending_heads, upgrade

    with papp.app_context():
        script = ScriptDirectory.from_config(alembic_config(papp))
        assert "0001_example" in script.get_heads()
        assert pending_heads(papp) == {"0001_example"}
        upgrade(papp)
        assert pending_heads(papp) == set()
        from sqlalchemy import inspect

        assert "example_notes" in inspect(papp.extensions["daihoi_db"].engine).get_table_names()


@pytest.fixture
def plive(papp, pworld):
    server = LiveServer(papp).start()
    yield server
    server.stop()


def test_socket_handlers(papp, pworld, plive):
    c = SocketClient(plive.url, cookie=plive.session_cookie("a.delegate"))
    try:
        off = c.call("example:ping", {"event": "lao-cai/dai-hoi"})
        assert off["ok"] is False and off["error"] == "not_found"
        switch(papp, pworld, "example", True)
        on = c.call("example:ping", {"event": "lao-cai/dai-hoi"})
        assert on["ok"] is True and on["roles"] == ["delegate"]
        assert c.call("example:ping", {"event": "yen-bai/dai-hoi"})["error"] == "not_found"
    finally:
        c.close()


def test_realtime_state(papp, pworld, plive):
    switch(papp, pworld, "example", True)
    c = SocketClient(plive.url, cookie=plive.session_cookie("a.delegate"))
    try:
        ack = c.call("join", {"event": "lao-cai/dai-hoi"})
        assert ack["ok"]
        with papp.app_context():
            ev_id = pworld.ids["a"]
        assert ack["state"]["example"] == {"event": ev_id}
        assert "example" in ack["state"]["modules"]
    finally:
        c.close()


def test_registry_refuses_unknown_dependency():
    import pluggy

    from core.plugins import ModuleInfo, ModuleRegistry, hookimpl, make_plugin_manager

    class Broken:
        @hookimpl
        def daihoi_modules(self):
            return [ModuleInfo("broken", "Broken", depends=("nothing",))]

    pm = make_plugin_manager((Broken(),), load_entry_points=False)
    assert isinstance(pm, pluggy.PluginManager)
    with pytest.raises(RuntimeError, match="unknown"):
        ModuleRegistry(pm)

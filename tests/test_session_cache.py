"""The session cookie is verified once per cookie header, and each request still gets a
session of its own."""

from __future__ import annotations

import time

from core.session_cache import CachingSessionInterface
from tests.conftest import login


def _open(app, cookie: str):
    with app.test_request_context("/", headers={"Cookie": cookie}) as rc:
        return rc.session


def test_a_cookie_is_checked_once_then_reused(app, world, monkeypatch):
    client = login(app.test_client(), "a.delegate")
    cookie = f"daihoi_session={client.get_cookie('daihoi_session').value}"
    assert isinstance(app.session_interface, CachingSessionInterface)
    checked = []
    real = app.session_interface.get_signing_serializer

    def counting(a):
        checked.append(1)
        return real(a)

    monkeypatch.setattr(app.session_interface, "get_signing_serializer", counting)
    first, second = _open(app, cookie), _open(app, cookie)
    assert first["_user_id"] == second["_user_id"]
    assert len(checked) == 1
    # Each request has its own copy: a change made in one is not seen by the next.
    first["_user_id"] = "999:1"
    first["nested"] = {"x": 1}
    assert _open(app, cookie)["_user_id"] == second["_user_id"]
    assert "nested" not in _open(app, cookie)


def test_a_forged_cookie_is_still_refused(app, world):
    client = login(app.test_client(), "a.delegate")
    value = client.get_cookie("daihoi_session").value
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    assert "_user_id" not in _open(app, f"daihoi_session={forged}")
    assert "_user_id" not in _open(app, f"daihoi_session={forged}")  # not cached as good
    assert "_user_id" in _open(app, f"daihoi_session={value}")


def test_an_entry_is_checked_again_after_its_minute(app, world, monkeypatch):
    client = login(app.test_client(), "a.delegate")
    cookie = f"daihoi_session={client.get_cookie('daihoi_session').value}"
    _open(app, cookie)
    later = time.monotonic() + CachingSessionInterface.TTL_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    checked = []
    real = app.session_interface.get_signing_serializer
    monkeypatch.setattr(app.session_interface, "get_signing_serializer",
                        lambda a: checked.append(1) or real(a))
    assert "_user_id" in _open(app, cookie)
    assert checked == [1]


def test_signing_out_still_signs_out(app, world):
    client = login(app.test_client(), "a.delegate")
    assert client.get("/lao-cai/dai-hoi/").status_code == 200
    client.post("/logout")
    assert client.get("/lao-cai/dai-hoi/").status_code == 302

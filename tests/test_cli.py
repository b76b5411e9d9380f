"""The `daihoi` command line, run in-process through Click's runner and once as a process."""

from __future__ import annotations

import os
import subprocess
import sys

from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import func, select

from core.cli import main
from core.db import session
from tenants.models import Unit
from tests.conftest import SHARED


def run(app, *args, input=None):
    return CliRunner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app),
                              input=input)


def test_import_units_good_and_bad(app, tmp_path):
    r = run(app, "import-units", str(SHARED / "data" / "units-2022-lao-cai.csv"))
    assert r.exit_code == 0, r.output
    assert "92 new" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level,parent_code\nx,X,district,nowhere\ny,,district,lao-cai\n")
    r = run(app, "import-units", str(bad))
    assert r.exit_code == 1
    assert "line 2: unknown parent nowhere" in r.output and "line 3: name is empty" in r.output
    assert "nothing imported: 2 problem(s)" in r.output
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(Unit)) == 92


def test_create_admin_on_an_empty_tree_then_sign_in(app):
    r = run(app, "create-admin", "--unit", "ha-noi", "--unit-name", "Thành đoàn Hà Nội",
            "--username", "hn.admin", "--full-name", "Quản trị Hà Nội",
            input="mat-khau-rat-dai\nmat-khau-rat-dai\n")
    assert r.exit_code == 0, r.output
    c = app.test_client()
    assert c.post("/login", data={"username": "hn.admin",
                                  "password": "mat-khau-rat-dai"}).status_code == 302
    assert c.get("/admin/units/ha-noi/").status_code == 200
    r = run(app, "create-admin", "--unit", "nowhere", "--username", "x.admin",
            "--full-name", "X", "--password", "mat-khau-rat-dai")
    assert r.exit_code == 1 and "--unit-name" in r.output


def test_demo_is_idempotent_and_signs_in(app):
    r = run(app, "demo", "--password", "demo-pass-123")
    assert r.exit_code == 0 and "demo data created" in r.output
    r = run(app, "demo", "--password", "demo-pass-123")
    assert "already present" in r.output
    c = app.test_client()
    assert c.post("/login", data={"username": "laocai.admin",
                                  "password": "demo-pass-123"}).status_code == 302
    page = c.get("/lao-cai/dai-hoi-xvi/manage").get_data(as_text=True)
    assert "Phiên trù bị" in page and "Phiên bế mạc" in page
    assert "Chào mừng đại biểu" in c.get("/lao-cai/dai-hoi-xvi/announcements/").get_data(
        as_text=True)
    roster = c.get("/lao-cai/dai-hoi-xvi/delegates/").get_data(as_text=True)
    assert "Delegates (300)" in roster and "Guests (20)" in roster
    delegate = app.test_client()
    assert delegate.post("/login", data={"username": "daibieu.demo",
                                         "password": "demo-pass-123"}).status_code == 302
    assert "DB0001" in delegate.get("/lao-cai/dai-hoi-xvi/delegates/me").get_data(as_text=True)


def test_the_installed_command_upgrades_a_fresh_database(tmp_path):
    env = {**os.environ, "DAIHOI_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.sqlite3'}",
           "DAIHOI_SECRET_KEY": "cli-test"}
    daihoi = os.path.join(os.path.dirname(sys.executable), "daihoi")
    out = subprocess.run([daihoi, "db", "upgrade"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "unit levels: central, province, district, grassroots, chapter" in out.stdout
    out = subprocess.run([daihoi, "levels"], env={**env, "DAIHOI_UNIT_LEVELS": "x:y"},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.splitlines()[0].split("\t")[1] == "central"

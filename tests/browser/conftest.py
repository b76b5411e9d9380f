"""Headless Chromium (Debian's, driven by Playwright) against a live server with CSRF on."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REDIS_URL, LiveServer, build_world, make_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
# A fixed place, so a human can look at the latest run.
SHOTS_DIR = Path("/tmp/daihoi-shots")  # noqa: S108
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
# Playwright's expect() and waits, in milliseconds.
TIMEOUT_MS = 5000


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium package to run browser tests"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def serve(db_url, tmp_path):
    """serve(**config) -> (LiveServer, World): the app with CSRF on, English unless told."""
    started: list[LiveServer] = []

    def start(**overrides):
        config = {"WTF_CSRF_ENABLED": True, "REDIS_URL": REDIS_URL, "DEFAULT_LOCALE": "en"}
        config.update(overrides)
        app = make_app(db_url, tmp_path, **config)
        world = build_world(app)
        server = LiveServer(app).start()
        started.append(server)
        return server, world

    yield start
    for server in started:
        server.stop()
        server.app.extensions["daihoi_db"].engine.dispose()


@pytest.fixture
def new_context(browser, serve):
    """Browser contexts (separate cookie jars), closed before the server stops."""
    opened = []

    def make(base_url: str, locale: str = "en-US", **options):
        options.setdefault("viewport", DESKTOP)
        ctx = browser.new_context(base_url=base_url, locale=locale, **options)
        ctx.set_default_timeout(TIMEOUT_MS)
        opened.append(ctx)
        return ctx

    yield make
    for ctx in opened:
        ctx.close()


@pytest.fixture
def shot(tmp_path):
    """shot(page, name): a full-page PNG in tmp_path, copied to /tmp/daihoi-shots/."""
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = tmp_path / f"{name}.png"
        # A full page of 300 rows can take longer than the 5 s of the assertions on a busy
        # machine; the picture is for people, so it gets its own, longer limit.
        page.screenshot(path=str(path), full_page=True, timeout=30_000)
        shutil.copy(path, SHOTS_DIR / path.name)
        return path

    return take

"""Fixtures for module tests: the shared 300-delegate roster imported into Lào Cai."""

from __future__ import annotations

import pytest

from core.db import session
from plugins.delegates.roster_import import apply_roster, parse_roster
from tests.conftest import SHARED

ROSTER = SHARED / "data" / "roster-300.csv"


@pytest.fixture
def roster_world(app, world):
    """`world` (see tests/conftest.py) plus the 300 sample delegates in event "a"."""
    with app.app_context():
        preview = parse_roster(ROSTER.read_bytes(), ROSTER.name)
        assert preview.ok, preview.problems[:5]
        apply_roster(session(), world.event("a"), preview, actor=None)
        session().commit()
    return world

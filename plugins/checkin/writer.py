"""The scan writer: every station's scans recorded by this process's group commit
(core.group_commit), one transaction per list and batch, acknowledged after commit."""

from __future__ import annotations

import time

from flask import Flask
from sqlalchemy.orm import Session

from core.errors import NotFound
from core.group_commit import GroupCommit, WriterBusy, group_commit
from core.models import Event
from plugins.checkin import serialize, services
from plugins.checkin.models import CheckinList

__all__ = ["ScanWriter", "WriterBusy", "forget_list_after_commit", "writer"]

# How long the writer reuses an event and list it loaded. Changes made in this process reach
# it at once (forget_list_after_commit); changes made by another process within this.
TARGETS_SECONDS = 1.0


class ScanWriter:
    def __init__(self, app: Flask) -> None:
        self._recent: dict[int, tuple[float, Event, CheckinList]] = {}
        self.commit: GroupCommit = group_commit(app, "checkin-writer", self._write)

    def record(self, event_id: int, list_id: int, items: list[services.ScanInput],
               timeout: float = 15.0) -> list[services.ScanResult]:
        """Queue scans and wait until they are committed; their results, in order."""
        return self.commit.submit((event_id, list_id), items, timeout)

    def _write(self, db: Session, key: tuple[int, int],
               items: list[services.ScanInput]) -> list[services.ScanResult]:
        event, lst = self._targets(db, *key)
        results = services.record_scans(db, event, lst, items)
        if any(not r.replay for r in results):
            serialize.announce_change(event, lst)
        return results

    def _targets(self, db: Session, event_id: int, list_id: int) -> tuple[Event, CheckinList]:
        """The event and list of a batch; reused for a second rather than loaded per batch."""
        hit = self._recent.get(list_id)
        if hit is not None and hit[0] > time.monotonic() and hit[1].id == event_id:
            return db.merge(hit[1], load=False), db.merge(hit[2], load=False)
        event = db.get(Event, event_id)
        lst = db.get(CheckinList, list_id)
        if event is None or lst is None or lst.event_id != event_id:
            raise NotFound()
        self._recent[list_id] = (time.monotonic() + TARGETS_SECONDS, event, lst)
        return event, lst

    def forget(self, list_id: int) -> None:
        """A list's rules changed: the next batch reads them afresh."""
        self._recent.pop(list_id, None)


def forget_list_after_commit(db: Session, list_id: int) -> None:
    """After a list opens, closes or changes, this process's writer stops reusing it."""
    from flask import current_app

    from core.db import after_commit

    found = current_app.extensions.get("checkin_writer")
    if found is not None:
        after_commit(lambda: found.forget(list_id), db)


def writer(app: Flask) -> ScanWriter:
    """This process's scan writer (made on first use)."""
    found = app.extensions.get("checkin_writer")
    if found is None:
        found = app.extensions.setdefault("checkin_writer", ScanWriter(app))
    return found

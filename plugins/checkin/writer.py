"""Group commit for scans: one writer per app process records what all stations send.

At the morning rush hundreds of badges a second reach one process. Written one transaction
per scan, each scan pays its own statements and commit, and the handlers queue on the
database's write lock (SQLite wakes a waiting writer only by polling). Here a single thread
takes every scan waiting in the queue, records each event's and list's share with
`services.record_scans` in one transaction, commits, and only then wakes the handlers, which
acknowledge. A quiet hall gets one-scan batches with no added wait; a busy one gets larger
batches. (Waiting a few milliseconds to gather more was measured and made latency worse: the
per-batch cost is small next to the per-message cost of the socket server.)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from flask import Flask

from core.db import session
from core.errors import NotFound
from core.models import Event
from plugins.checkin import serialize, services
from plugins.checkin.models import CheckinList

logger = logging.getLogger(__name__)

# A batch stops growing here, so one transaction never holds the write lock for long.
MAX_BATCH = 200
# How long the writer reuses an event and list it loaded. Changes made in this process reach
# it at once (forget_list_after_commit); changes made by another process within this.
TARGETS_SECONDS = 1.0


class WriterBusy(Exception):
    """No answer in time; the scan may or may not be recorded, and a retry is safe."""


@dataclass
class Job:
    event_id: int
    list_id: int
    items: list[services.ScanInput]
    done: threading.Event = field(default_factory=threading.Event)
    results: list[services.ScanResult] | None = None
    error: BaseException | None = None


class ScanWriter:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.jobs: queue.Queue[Job] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._recent: dict[int, tuple[float, Event, CheckinList]] = {}

    def record(self, event_id: int, list_id: int, items: list[services.ScanInput],
               timeout: float = 15.0) -> list[services.ScanResult]:
        """Queue scans and wait until they are committed; their results, in order."""
        job = Job(event_id, list_id, items)
        self._ensure_thread()
        self.jobs.put(job)
        if not job.done.wait(timeout):
            raise WriterBusy()
        if job.error is not None:
            raise job.error
        return job.results

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="checkin-writer",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self.jobs.get()]
            size = len(batch[0].items)
            while size < MAX_BATCH:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                batch.append(job)
                size += len(job.items)
            groups: dict[tuple[int, int], list[Job]] = {}
            for job in batch:
                groups.setdefault((job.event_id, job.list_id), []).append(job)
            for (event_id, list_id), jobs in groups.items():
                self._write(event_id, list_id, jobs)

    def _write(self, event_id: int, list_id: int, jobs: list[Job]) -> None:
        try:
            with self.app.app_context():
                db = session()
                try:
                    event, lst = self._targets(db, event_id, list_id)
                    items = [item for job in jobs for item in job.items]
                    results = services.record_scans(db, event, lst, items)
                    if any(not r.replay for r in results):
                        serialize.announce_change(event, lst)
                    db.commit()
                except BaseException:
                    db.rollback()
                    raise
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting handler
            if not isinstance(exc, NotFound):
                logger.exception("recording %s scans failed", sum(len(j.items) for j in jobs))
            for job in jobs:
                job.error = exc
                job.done.set()
            return
        start = 0
        for job in jobs:
            job.results = results[start:start + len(job.items)]
            start += len(job.items)
            job.done.set()

    def _targets(self, db, event_id: int, list_id: int) -> tuple[Event, CheckinList]:
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


def forget_list_after_commit(db, list_id: int) -> None:
    """After a list opens, closes or changes, this process's writer stops reusing it."""
    from flask import current_app

    from core.db import after_commit

    found = current_app.extensions.get("checkin_writer")
    if found is not None:
        after_commit(lambda: found.forget(list_id), db)


def writer(app: Flask) -> ScanWriter:
    """This process's writer (made on first use)."""
    found = app.extensions.get("checkin_writer")
    if found is None:
        found = app.extensions.setdefault("checkin_writer", ScanWriter(app))
    return found

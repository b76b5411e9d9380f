"""Group commit: one writer thread per process and purpose records what many handlers send.

At a congress's busy moments (the morning rush at the doors, a thousand delegates pressing
"vote" when the chair says so) hundreds of writes a second reach one process. Written one
transaction each, every write pays its own statements and commit, and the handlers queue on
the database's write lock (SQLite wakes a waiting writer only by polling). A `GroupCommit`
thread takes every job waiting in its queue, hands each key's share to its `write` function in
one transaction, commits, and only then wakes the handlers, which acknowledge. A quiet hall
gets one-job batches with no added wait; a busy one gets larger batches. (Waiting a few
milliseconds to gather more was measured and made latency worse: the per-batch cost is small
next to the per-message cost of the socket server; docs/benchmarks.md. The writer only lets
the handlers already able to run add theirs before cutting a batch.)
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from core.db import database_unavailable, session
from core.errors import ServiceError

logger = logging.getLogger(__name__)


class WriterBusy(Exception):
    """No answer in time; the write may or may not be committed, and a retry must be safe."""


@dataclass
class Job:
    key: Hashable
    items: list
    done: threading.Event = field(default_factory=threading.Event)
    results: list | None = None
    error: BaseException | None = None


# write(db, key, items) -> one result per item, in order; the writer commits.
WriteFunc = Callable[[Session, Hashable, list], list]


class GroupCommit:
    """Records jobs in batches: one transaction per key and batch, acknowledged after commit."""

    def __init__(self, app: Flask, name: str, write: WriteFunc, *, max_batch: int = 200) -> None:
        self.app = app
        self.name = name
        self.write = write
        # A batch stops growing here, so one transaction never holds the write lock for long.
        self.max_batch = max_batch
        self.jobs: queue.Queue[Job] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, key: Hashable, items: list, timeout: float = 15.0) -> list:
        """Queue items under `key` and wait until they are committed; their results, in order.

        Raises what `write` raised (nothing of the batch was saved), or WriterBusy.
        """
        job = Job(key, items)
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
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self.jobs.get()]
            _let_ready_handlers_run()
            size = len(batch[0].items)
            while size < self.max_batch:
                try:
                    job = self.jobs.get_nowait()
                except queue.Empty:
                    break
                batch.append(job)
                size += len(job.items)
            groups: dict[Hashable, list[Job]] = {}
            for job in batch:
                groups.setdefault(job.key, []).append(job)
            for key, jobs in groups.items():
                self._write(key, jobs)

    def _write(self, key: Hashable, jobs: list[Job]) -> None:
        items = [item for job in jobs for item in job.items]
        try:
            with self.app.app_context():
                db = session()
                try:
                    results: list[Any] = self.write(db, key, items)
                    db.commit()
                except BaseException:
                    db.rollback()
                    raise
        except BaseException as exc:  # noqa: BLE001 - handed to every waiting handler
            if database_unavailable(exc):
                logger.warning("%s: database unavailable, %s items not written", self.name,
                               len(items))
            elif not isinstance(exc, ServiceError):
                logger.exception("%s: writing %s items failed", self.name, len(items))
            for job in jobs:
                job.error = exc
                job.done.set()
            return
        start = 0
        for job in jobs:
            job.results = results[start:start + len(job.items)]
            start += len(job.items)
            job.done.set()


def _let_ready_handlers_run() -> None:
    """Before a batch is cut, let the handlers that are ready to run queue their jobs: not a
    wait. Under gevent the writer is a greenlet woken by the first put, and would otherwise cut
    one-job batches while a thousand handlers wait their turn; it waits until the hub has
    nothing else to run (measured: batches of ~150 instead of 1 in a burst of 1,000 votes,
    docs/benchmarks.md). With threads, a yield of the GIL."""
    if _under_gevent():
        import gevent

        gevent.idle()
    else:
        time.sleep(0)


def _under_gevent() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def group_commit(app: Flask, name: str, write: WriteFunc, **kwargs) -> GroupCommit:
    """This process's writer called `name` (made on first use)."""
    key = f"daihoi_group_commit:{name}"
    found = app.extensions.get(key)
    if found is None:
        found = app.extensions.setdefault(key, GroupCommit(app, name, write, **kwargs))
    return found

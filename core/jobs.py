"""A small job runner for work too long for a request, such as a whole congress's badges.

    key = enqueue(app, "plugins.delegates.badges:run_job", job_id, codes, key="badges-7")

- With Redis configured (`DAIHOI_REDIS_URL`, `app.config["REDIS_URL"]`) the call goes on the
  RQ queue `app.config["JOBS_QUEUE"]` (default "daihoi") and `daihoi worker` runs it; the
  worker may run on another machine if it shares the database and the instance folder.
- Without Redis (the embedded set-up) it runs in a daemon thread of this process.

Either way the function runs inside a fresh app context, so it has its own database session
(`core.db.session()`), and arguments must be plain values (ids, strings, lists). The function
records its own outcome (status, progress) in the database; this module only runs it.

While a job runs, its heartbeat file `instance/jobs/<key>.alive` is touched every few seconds.
`is_lost(app, key)` says when a job can no longer finish: its heartbeat went stale (the
process died, was killed or restarted), or it never started and the queue no longer holds it.
A page showing progress uses it so that a dead job shows failed instead of running forever.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import threading
import time
import uuid
from pathlib import Path

from flask import Flask, current_app, has_app_context

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "daihoi"
HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 30.0
KEY_RE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")

_threads: dict[str, threading.Thread] = {}
_worker_app: Flask | None = None
_worker_pid: int | None = None


def resolve(func_path: str):
    """`package.module:function` (or `package.module.function`) to the function."""
    module, sep, name = func_path.partition(":")
    if not sep:
        module, _dot, name = func_path.rpartition(".")
    if not module or not name:
        raise ValueError(f"not a function path: {func_path!r}")
    func = getattr(importlib.import_module(module), name)
    if not callable(func):
        raise ValueError(f"{func_path!r} is not callable")
    return func


def _setting(app: Flask, name: str, default: float) -> float:
    return float(app.config.get(name) or default)


def queue_name(app: Flask) -> str:
    return app.config.get("JOBS_QUEUE") or DEFAULT_QUEUE


def uses_redis(app: Flask) -> bool:
    return bool(app.config.get("REDIS_URL"))


def heartbeat_path(app: Flask, key: str) -> Path:
    if not KEY_RE.match(key):
        raise ValueError(f"bad job key {key!r}")
    return Path(app.instance_path) / "jobs" / f"{key}.alive"


def rq_job_id(app: Flask, key: str) -> str:
    # Deployments sharing one Redis keep their jobs apart by queue name. RQ takes letters,
    # digits, "_" and "-" in ids.
    return re.sub(r"[^A-Za-z0-9_-]", "_", queue_name(app)) + "-" + key


class Heartbeat:
    """Touches the job's heartbeat file from a side thread while the job runs."""

    def __init__(self, app: Flask, key: str) -> None:
        self.path = heartbeat_path(app, key)
        self.interval = _setting(app, "JOBS_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
            except OSError:
                logger.exception("could not touch the heartbeat %s", self.path)

    def __enter__(self) -> Heartbeat:
        self.beat()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{self.path.stem}",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.interval + 1)
        self.path.unlink(missing_ok=True)


def redis_connection(app: Flask):
    import redis

    # Fail fast when Redis is out of reach (the badge page then says so), keepalive for a
    # connection that died silently; no read timeout: the worker waits on a blocking pop.
    return redis.Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=3,
                                socket_keepalive=True)


def rq_queue(app: Flask, connection=None):
    import rq

    return rq.Queue(queue_name(app), connection=connection or redis_connection(app))


def enqueue(app: Flask, func_path: str, *args, key: str | None = None,
            timeout: int = 1800) -> str:
    """Run `func_path(*args)` in the background; returns the job's key.

    Raises when the job cannot be queued (unknown function, Redis unreachable), so the
    caller can mark its record failed and tell the user at once.
    """
    key = key or uuid.uuid4().hex
    heartbeat_path(app, key)  # checks the key
    resolve(func_path)  # a typo fails here, not later in a worker
    if uses_redis(app):
        rq_queue(app).enqueue("core.jobs.run", func_path, key, *args, job_id=rq_job_id(app, key),
                              job_timeout=timeout, result_ttl=24 * 3600,
                              failure_ttl=7 * 24 * 3600, description=f"{func_path} {key}")
        return key
    # In-process: the heartbeat starts now, so another process of this machine serving the
    # progress page sees the job alive before the thread gets going.
    Heartbeat(app, key).beat()
    thread = threading.Thread(target=_run_thread, args=(app, func_path, key, args),
                              name=f"job-{key}", daemon=True)
    _threads[key] = thread
    thread.start()
    return key


def execute(app: Flask, func_path: str, key: str, args: tuple | list):
    """Run one job now in this thread, in its own app context, with its heartbeat; returns
    what the function returns."""
    with Heartbeat(app, key), app.app_context():
        return resolve(func_path)(*args)


def _run_thread(app: Flask, func_path: str, key: str, args: tuple) -> None:
    try:
        execute(app, func_path, key, args)
    except Exception:  # noqa: BLE001 - the job records its failure; a thread has no caller
        logger.exception("background job %s (%s) failed", key, func_path)
    finally:
        _threads.pop(key, None)


def join(key: str, timeout: float | None = None) -> bool:
    """Wait for an in-process job of this process; True when it is not running (any more)."""
    thread = _threads.get(key)
    if thread is not None:
        thread.join(timeout)
        return not thread.is_alive()
    return True


def run(func_path: str, key: str, *args):
    """The RQ entry point: find the app, then `execute`."""
    app = _app_for_job()
    if _worker_app is app and _worker_pid is not None and os.getpid() != _worker_pid:
        # A work horse forked from `daihoi worker`: never reuse the parent's connections.
        app.extensions["daihoi_db"].engine.dispose(close=False)
    return execute(app, func_path, key, args)


def _app_for_job() -> Flask:
    global _worker_app
    if has_app_context():
        return current_app._get_current_object()
    if _worker_app is None:
        from core.app import create_app

        _worker_app = create_app()
    return _worker_app


def is_lost(app: Flask, key: str) -> bool:
    """True when the job can no longer finish: its process is gone, or its queue dropped it."""
    path = heartbeat_path(app, key)
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        age = None
    if age is not None:
        return age > _setting(app, "JOBS_STALE_SECONDS", STALE_SECONDS)
    if not uses_redis(app):
        # In-process jobs beat from the moment they are queued until they end.
        return True
    return _rq_lost(app, key)


def _rq_lost(app: Flask, key: str) -> bool:
    import redis
    from rq.exceptions import NoSuchJobError
    from rq.job import Job, JobStatus

    try:
        job = Job.fetch(rq_job_id(app, key), connection=redis_connection(app))
        status = job.get_status()
    except NoSuchJobError:
        return True
    except redis.RedisError:
        logger.warning("cannot reach Redis to check job %s", key)
        return False  # unknown: do not fail a job only because Redis is briefly away
    return status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED,
                      JobStatus.FINISHED)


def run_worker(app: Flask, *, burst: bool = False, worker_class=None) -> bool:
    """The loop behind `daihoi worker`: take jobs from the app's queue until stopped."""
    import rq

    global _worker_app, _worker_pid
    if not uses_redis(app):
        raise RuntimeError("jobs go through Redis only when DAIHOI_REDIS_URL is set")
    _worker_app, _worker_pid = app, os.getpid()
    connection = redis_connection(app)
    worker_class = worker_class or rq.Worker
    worker = worker_class([rq_queue(app, connection)], connection=connection)
    return worker.work(burst=burst)

"""The job runner: in-process threads (no Redis) and RQ on a real Redis (the PostgreSQL + Redis
pass sets DAIHOI_TEST_REDIS_URL), heartbeats, and telling a dead job from a waiting one."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest
from flask import current_app, g, has_app_context

from core import jobs
from core.db import session
from tests.conftest import REDIS_URL, login, wait_for

pytestmark_redis = pytest.mark.skipif(
    not REDIS_URL, reason="needs DAIHOI_TEST_REDIS_URL (the PostgreSQL + Redis pass sets it)")


# ---------------------------------------------------------------- job bodies (by path)

def record(path: str, value: str) -> str:
    """Write what the job saw: an app context of its own, a database session, a heartbeat."""
    key = value.split(":")[0]
    out = {
        "value": value,
        "app_context": has_app_context(),
        "app": current_app.name if has_app_context() else None,
        "g": id(g._get_current_object()),
        "session_works": session().execute(__import__("sqlalchemy").text("SELECT 1")).scalar(),
        "heartbeat": jobs.heartbeat_path(current_app, key).is_file(),
        "thread": threading.current_thread().name,
    }
    Path(path).write_text(json.dumps(out))
    return value


def boom(path: str) -> None:
    Path(path).write_text("started")
    raise RuntimeError("the job broke")


def sleepy(seconds: float) -> None:
    time.sleep(seconds)


# ---------------------------------------------------------------- in-process

def test_resolve():
    assert jobs.resolve("tests.test_jobs:record") is record
    assert jobs.resolve("tests.test_jobs.boom") is boom
    for bad in ("record", "tests.test_jobs:nothing_here", "no.such.module:f"):
        with pytest.raises((ValueError, AttributeError, ImportError)):
            jobs.resolve(bad)


def test_in_process_job_runs_in_a_thread_with_its_own_context(app, tmp_path):
    out = tmp_path / "out.json"
    with app.app_context():
        outer_g = id(g._get_current_object())
        key = jobs.enqueue(app, "tests.test_jobs:record", str(out), "k1:hello", key="k1")
        assert key == "k1"
        assert jobs.join(key, 10)
    seen = json.loads(out.read_text())
    assert seen["value"] == "k1:hello" and seen["app_context"] and seen["session_works"] == 1
    assert seen["g"] != outer_g  # a context (and so a database session) of its own
    assert seen["heartbeat"] and seen["thread"] == "job-k1"
    # Finished: the heartbeat is gone. A record still saying "running" now means lost.
    assert not jobs.heartbeat_path(app, "k1").exists()
    assert jobs.is_lost(app, "k1")


def test_failing_in_process_job_is_logged_not_raised(app, tmp_path, caplog):
    out = tmp_path / "started"
    key = jobs.enqueue(app, "tests.test_jobs:boom", str(out))
    assert jobs.join(key, 10)
    assert out.read_text() == "started"
    assert "the job broke" in caplog.text
    assert not jobs.heartbeat_path(app, key).exists()


def test_heartbeat_keeps_a_long_job_alive_and_goes_stale_when_it_stops(app):
    app.config.update(JOBS_HEARTBEAT_SECONDS=0.05, JOBS_STALE_SECONDS=0.5)
    key = jobs.enqueue(app, "tests.test_jobs:sleepy", 1.2, key="long")
    path = jobs.heartbeat_path(app, key)
    assert path.exists() and not jobs.is_lost(app, key)
    time.sleep(0.8)  # longer than the stale limit: only the beating keeps it fresh
    assert not jobs.is_lost(app, key)
    assert jobs.join(key, 5)
    # A process killed mid-job leaves its file behind, and stops touching it.
    path.touch()
    assert not jobs.is_lost(app, key)
    old = time.time() - 5
    os.utime(path, (old, old))
    assert jobs.is_lost(app, key)


def test_enqueue_refuses_bad_keys_and_unknown_functions(app):
    with pytest.raises(ValueError):
        jobs.enqueue(app, "tests.test_jobs:record", key="../../etc/passwd")
    with pytest.raises(AttributeError):
        jobs.enqueue(app, "tests.test_jobs:missing")
    assert not (Path(app.instance_path) / "jobs").exists() or not any(
        (Path(app.instance_path) / "jobs").iterdir())


def test_worker_needs_redis(app):
    with pytest.raises(RuntimeError, match="DAIHOI_REDIS_URL"):
        jobs.run_worker(app, burst=True)


# ---------------------------------------------------------------- RQ on a real Redis

@pytest.fixture
def rq_app(live_app):
    """The app with Redis configured, on a queue of its own in the shared Redis."""
    import redis
    import rq

    live_app.config["JOBS_QUEUE"] = f"daihoi-test-{uuid.uuid4().hex[:10]}"
    conn = redis.Redis.from_url(REDIS_URL)
    queue = rq.Queue(live_app.config["JOBS_QUEUE"], connection=conn)
    yield live_app, queue, conn
    queue.delete(delete_jobs=True)


def work(app, queue, conn) -> None:
    import rq

    with app.app_context():
        rq.SimpleWorker([queue], connection=conn).work(burst=True)


@pytestmark_redis
def test_rq_job_runs_in_the_worker_with_its_own_context(rq_app, tmp_path):
    app, queue, conn = rq_app
    out = tmp_path / "out.json"
    key = jobs.enqueue(app, "tests.test_jobs:record", str(out), "rq1:over redis", key="rq1")
    assert queue.count == 1 and not out.exists()
    assert not jobs.is_lost(app, key)  # waiting in the queue, no heartbeat yet: not lost
    work(app, queue, conn)
    seen = json.loads(out.read_text())
    assert seen["value"] == "rq1:over redis" and seen["app_context"] and seen["heartbeat"]
    assert seen["session_works"] == 1
    from rq.job import Job

    job = Job.fetch(jobs.rq_job_id(app, key), connection=conn)
    assert job.get_status() == "finished" and job.return_value() == "rq1:over redis"
    assert jobs.is_lost(app, key)  # finished and no heartbeat: a record still running is lost


@pytestmark_redis
def test_rq_job_dropped_from_the_queue_is_lost(rq_app):
    app, queue, conn = rq_app
    key = jobs.enqueue(app, "tests.test_jobs:sleepy", 0, key="dropped")
    assert not jobs.is_lost(app, key)
    queue.delete(delete_jobs=True)
    assert jobs.is_lost(app, key)


@pytestmark_redis
def test_rq_badge_job_through_the_page(rq_app):
    from sqlalchemy import select

    from plugins.delegates.models import BadgeJob
    from plugins.delegates.roster_import import apply_roster, parse_roster
    from tests.conftest import build_world
    from tests.plugins.conftest import ROSTER
    from tests.plugins.delegates.test_badges import pages_of, qr_texts

    app, queue, conn = rq_app
    world = build_world(app)
    with app.app_context():
        apply_roster(session(), world.event("a"), parse_roster(ROSTER.read_bytes(), "r.csv"),
                     actor=None)
        session().commit()
    c = login(app.test_client(), "a.secretariat")
    base = "/lao-cai/dai-hoi/badges"
    assert c.post(f"{base}/jobs", data={"scope": "delegates", "layout": "sheet"}).status_code \
        == 302
    with app.app_context():
        job_id = session().scalar(select(BadgeJob.id))
    assert queue.count == 1
    assert c.get(f"{base}/jobs/{job_id}").json["status"] == "queued"  # waits, is not failed
    work(app, queue, conn)
    state = c.get(f"{base}/jobs/{job_id}").json
    assert state["status"] == "done" and state["done"] == state["total"] == 300, state
    pdf = c.get(state["url"])
    assert pdf.status_code == 200 and len(pages_of(pdf.data)) == 30
    assert len(qr_texts(pdf.data, 29)) == 10
    assert login(app.test_client(), "b.secretariat").get(state["url"]).status_code == 404
    # A second job whose queue entry vanishes (Redis flushed, say) shows failed.
    assert c.post(f"{base}/jobs", data={"scope": "delegates", "layout": "card"}).status_code \
        == 302
    with app.app_context():
        second = max(session().scalars(select(BadgeJob.id)))
    queue.delete(delete_jobs=True)
    assert wait_for(lambda: c.get(f"{base}/jobs/{second}").json["status"] == "failed", 2)

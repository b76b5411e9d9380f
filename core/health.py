"""The health check a load balancer or monitor polls: database and Redis reachable."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from core.db import session


def check(app: Flask) -> dict:
    report: dict = {"ok": True, "database": "ok"}
    try:
        session().execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure is a failed check
        report.update(ok=False, database=f"error: {type(exc).__name__}")
    if app.config["REDIS_URL"]:
        try:
            import redis

            redis.Redis.from_url(app.config["REDIS_URL"], socket_timeout=2).ping()
            report["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001
            report.update(ok=False, redis=f"error: {type(exc).__name__}")
    return report

"""gunicorn settings for one DaiHoi app process.

    DAIHOI_PORT=8001 gunicorn -c deploy/gunicorn.conf.py wsgi:app

One worker per gunicorn, and N gunicorns on N ports behind nginx (deploy/nginx/): a Socket.IO
connection lives in the process that accepted it, and gunicorn hands new connections to its
workers with no regard for which one a phone talked to before, so several workers in one
gunicorn would break the long-polling fallback. nginx keeps each browser on one process
instead (docs/deploy.md). The worker is gevent with gevent-websocket: measured, a process in
this mode holds 2,000 phones, where threads collapse between 1,000 and 1,500
(docs/benchmarks.md).
"""

import os

# Set here, before the worker imports the app: Flask-SocketIO must run on gevent's loop, and
# the worker has made the standard library cooperative (monkey-patched) by then.
os.environ.setdefault("DAIHOI_ASYNC_MODE", "gevent")

bind = os.environ.get("DAIHOI_BIND") or f"127.0.0.1:{os.environ.get('DAIHOI_PORT', '8001')}"
workers = 1
worker_class = "geventwebsocket.gunicorn.workers.GeventWebSocketWorker"
# Connections one process may hold at once: every phone's websocket counts. gunicorn's default
# (1,000) would refuse a national congress's hall on one process.
worker_connections = int(os.environ.get("DAIHOI_WORKER_CONNECTIONS", "10000"))
backlog = 2048
# The worker's heartbeat is a greenlet: a process that cannot run it for this long is stuck,
# and gunicorn replaces it.
timeout = 60
# On stop or restart, requests in flight get this long; websockets are then closed and the
# phones reconnect (to another process, through nginx).
graceful_timeout = 10
keepalive = 75
proc_name = f"daihoi-web-{bind}"
# gunicorn 24+ opens a control socket at one fixed path per user; N instances would fight over
# it, and nothing here uses it.
control_socket_disable = True
accesslog = os.environ.get("DAIHOI_ACCESS_LOG") or None  # "-": to stdout
errorlog = "-"
loglevel = os.environ.get("DAIHOI_LOG_LEVEL", "info")


def post_worker_init(worker) -> None:  # noqa: ARG001 - gunicorn's hook signature
    from core.launch import freeze_loaded_objects

    freeze_loaded_objects()

"""The `daihoi` command's entry point.

With DAIHOI_ASYNC_MODE=gevent the standard library is made cooperative (gevent's monkey
patching) before anything else is imported, as gevent requires; then the CLI runs. Serving a
hall of a thousand screens and phones from one process needs it: in the default threading
mode every websocket costs threads, and a broadcast to a thousand of them takes a quarter of a
second (docs/benchmarks.md, "Check-in").
"""

from __future__ import annotations

import gc
import os


def freeze_loaded_objects() -> None:
    """Before serving: what loading the app made lives as long as the process. Moved out of
    the collector's sight, a full collection during a burst of votes walks only what the
    requests made (measured: a 228 ms pause in a burst of 1,000 votes otherwise;
    docs/benchmarks.md). `daihoi run` and the gunicorn worker both call it."""
    gc.collect()
    gc.freeze()


def main() -> None:
    if os.environ.get("DAIHOI_ASYNC_MODE") == "gevent":
        from gevent import monkey

        monkey.patch_all()
    from core.cli import main as cli_main

    cli_main()

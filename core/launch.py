"""The `daihoi` command's entry point.

With DAIHOI_ASYNC_MODE=gevent the standard library is made cooperative (gevent's monkey
patching) before anything else is imported, as gevent requires; then the CLI runs. Serving a
hall of a thousand screens and phones from one process needs it: in the default threading
mode every websocket costs threads, and a broadcast to a thousand of them takes a quarter of a
second (docs/benchmarks.md, "Check-in").
"""

from __future__ import annotations

import os


def main() -> None:
    if os.environ.get("DAIHOI_ASYNC_MODE") == "gevent":
        from gevent import monkey

        monkey.patch_all()
    from core.cli import main as cli_main

    cli_main()

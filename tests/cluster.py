"""A deployment on one machine, as docs/deploy.md sets it up: N app processes (gunicorn with
deploy/gunicorn.conf.py, one gevent worker each) on one PostgreSQL database and one Redis, and
nginx in front with the shipped site's upstream and locations (deploy/nginx/).

Used by tests/test_cluster.py (two processes) and the scale-out benchmarks in bench/. Also
here, for the failure tests: `RedisServer`, a private redis-server the test may restart, and
`TcpProxy`, a cut-able TCP path to PostgreSQL (the database "briefly unreachable").
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30, proc: subprocess.Popen | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process on port {port} exited ({proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port} after {timeout} s")


def cluster_available() -> str | None:
    """Why a cluster cannot be started here (None: it can)."""
    if not GUNICORN.exists():
        return "gunicorn is not installed (pip install -e '.[test]')"
    try:
        import gevent  # noqa: F401
        import geventwebsocket  # noqa: F401
    except ImportError:
        return "gevent and gevent-websocket are not installed"
    return None


class AppProcess:
    """One app process: gunicorn with the shipped settings on its own port."""

    def __init__(self, index: int, env: dict, logs: Path) -> None:
        self.index = index
        self.port = free_port()
        self.env = dict(env, DAIHOI_PORT=str(self.port))
        self.log_path = logs / f"app-{index}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> AppProcess:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [str(GUNICORN), "-c", str(DEPLOY / "gunicorn.conf.py"), "wsgi:app"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        import requests

        wait_port(self.port, timeout, self.proc)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if requests.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"app {self.index} not healthy; log:\n{self.log()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def kill(self) -> None:
        """Gone at once, as a crashed process or a machine losing power."""
        self.stop(signal.SIGKILL)

    @property
    def pids(self) -> list[int]:
        """gunicorn's arbiter and its worker."""
        if self.proc is None:
            return []
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True,
                             text=True).stdout
        return [int(p) for p in out.split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Nginx:
    """nginx with the shipped maps, upstream (its ports replaced by ours) and locations."""

    def __init__(self, folder: Path, backends: list[int], *, show_upstream: bool = True) -> None:
        self.folder = folder
        self.port = free_port()
        self.backends = backends
        self.show_upstream = show_upstream
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> str:
        site = (DEPLOY / "nginx" / "daihoi.conf").read_text()
        upstream = re.search(r"^upstream daihoi \{.*?^\}", site, re.M | re.S).group(0)
        template = re.search(r"^\s*server 127\.0\.0\.1:\d+(.*);$", upstream, re.M)
        servers = "".join(f"    server 127.0.0.1:{p}{template.group(1)};\n"
                          for p in self.backends)
        upstream = re.sub(r"^\s*server 127\.0\.0\.1:\d+.*;\n", "", upstream, flags=re.M)
        upstream = upstream.replace("{\n", "{\n" + servers, 1)
        user = "user root root;\n" if os.geteuid() == 0 else ""
        shown = "add_header X-Upstream $upstream_addr always;" if self.show_upstream else ""
        f = self.folder
        return f"""{user}worker_processes 1;
pid {f}/nginx.pid;
error_log {f}/nginx-error.log warn;
events {{ worker_connections 20000; }}
http {{
  access_log off;
  client_body_temp_path {f}/client_body;
  proxy_temp_path {f}/proxy;
  fastcgi_temp_path {f}/fastcgi;
  uwsgi_temp_path {f}/uwsgi;
  scgi_temp_path {f}/scgi;
  include {DEPLOY}/nginx/daihoi-maps.conf;
  {upstream}
  server {{
    listen 127.0.0.1:{self.port} backlog=4096;
    {shown}
    include {DEPLOY}/nginx/daihoi-locations.conf;
  }}
}}
"""

    def start(self) -> Nginx:
        self.folder.mkdir(parents=True, exist_ok=True)
        conf = self.folder / "nginx.conf"
        conf.write_text(self.config())
        self.proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(self.folder), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(self.folder / "nginx.out", "ab"),  # noqa: SIM115
            start_new_session=True)
        wait_port(self.port, 15, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class RedisServer:
    """A redis-server of the test's own, on its own port, that may be stopped and started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--maxclients", "20000"],
            stdout=open(self.folder / "redis.log", "ab"), stderr=subprocess.STDOUT)  # noqa: SIM115
        wait_port(self.port, 15, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


class TcpProxy:
    """Forwards a local port to a server; `cut()` drops every connection and refuses new ones
    (the server unreachable), `restore()` lets connections through again."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._open = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def start(self) -> TcpProxy:
        self._open.set()
        self._listen()
        return self

    def _listen(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(256)
        self._listener = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _addr = srv.accept()
            except OSError:
                return
            if not self._open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self._open.clear()
        if self._listener is not None:
            self._listener.close()  # new connections refused, as a server that is down
            self._listener = None
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def restore(self) -> None:
        self._open.set()
        self._listen()

    def stop(self) -> None:
        self.cut()


class Cluster:
    """N app processes and (where nginx is installed) nginx in front of them."""

    def __init__(self, folder: Path, *, database_url: str, redis_url: str, processes: int = 2,
                 nginx: bool = True, secret_key: str = "cluster-secret",  # noqa: S107 - a test key
                 env: dict | None = None) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("DAIHOI_")}
        base.update({
            "DAIHOI_DATABASE_URL": database_url,
            "DAIHOI_REDIS_URL": redis_url,
            "DAIHOI_SECRET_KEY": secret_key,
            "DAIHOI_COOKIE_SECURE": "0",
            "DAIHOI_INSTANCE_DIR": str(folder / "instance"),
            "DAIHOI_PROXY_COUNT": "1" if nginx and NGINX else "0",
            "DAIHOI_LOGIN_RATE_LIMIT": "10000 per minute",
        })
        base.update(env or {})
        self.env = base
        self.apps = [AppProcess(i, base, folder) for i in range(processes)]
        self.nginx = Nginx(folder / "nginx", [a.port for a in self.apps]) \
            if nginx and NGINX else None

    def start(self) -> Cluster:
        for a in self.apps:
            a.start(wait=False)
        for a in self.apps:
            a.wait_ready()
        if self.nginx is not None:
            self.nginx.start()
        return self

    @property
    def url(self) -> str:
        """Where a browser goes: nginx, or the first process without it."""
        return self.nginx.url if self.nginx is not None else self.apps[0].url

    def route_to(self, index: int) -> str:
        """A `daihoi_route` cookie value that nginx sends to process `index` (nginx only)."""
        import requests

        port = self.apps[index].port
        for n in range(500):
            route = f"route-{n}"
            resp = requests.get(self.url + "/health", cookies={"daihoi_route": route},
                                timeout=10)
            if resp.headers.get("X-Upstream", "").endswith(f":{port}"):
                return route
        raise RuntimeError(f"no route value reaches process {index}")

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for a in self.apps:
            a.stop()

    def logs(self) -> str:
        return "\n".join(f"--- app {a.index}\n{a.log()[-4000:]}" for a in self.apps)

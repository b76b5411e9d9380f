"""The example deployment in deploy/ stays true: the files load in the tools that read them,
they agree with each other, and every setting the code reads is documented.

tests/test_cluster.py runs the gunicorn settings and nginx's maps, upstream and locations for
real; here the parts it cannot run (the TLS site, the units) are checked as far as this
machine can.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster import DEPLOY, NGINX, ROOT

CODE = [*ROOT.glob("core/**/*.py"), *ROOT.glob("plugins/**/*.py"), *ROOT.glob("tenants/**/*.py"),
        ROOT / "wsgi.py", DEPLOY / "gunicorn.conf.py"]


def _variables(paths) -> set[str]:
    found = set()
    for path in paths:
        found |= set(re.findall(r"DAIHOI_[A-Z_]+", Path(path).read_text()))
    return found


def _upstream_ports() -> list[str]:
    site = (DEPLOY / "nginx" / "daihoi.conf").read_text()
    block = re.search(r"^upstream daihoi \{.*?^\}", site, re.M | re.S).group(0)
    return re.findall(r"server 127\.0\.0\.1:(\d+)", block)


def test_the_multi_process_test_is_not_skipped_in_ci():
    # tests/test_cluster.py skips where gunicorn, gevent or nginx are missing; under CI's
    # PostgreSQL pass that would hide that it never ran.
    if os.environ.get("CI") == "true" and os.environ.get("DAIHOI_TEST_DATABASE_URL"):
        from tests.cluster import cluster_available

        assert cluster_available() is None, cluster_available()
        assert NGINX is not None, "nginx is not installed (.ci/run installs it)"
        assert shutil.which("redis-server"), "redis-server is needed for the cluster's Redis"


def test_every_setting_the_code_reads_is_documented():
    documented = _variables([ROOT / "docs" / "architecture.md"])
    missing = sorted(_variables(CODE) - documented)
    assert not missing, f"add to the configuration table of docs/architecture.md: {missing}"


def test_the_example_environment_sets_only_what_the_code_reads():
    example = _variables([DEPLOY / "daihoi.env.example"])
    assert example <= _variables(CODE), sorted(example - _variables(CODE))


def test_the_processes_and_nginx_name_the_same_ports():
    ports = _upstream_ports()
    assert len(ports) >= 2
    target = (DEPLOY / "systemd" / "daihoi.target").read_text()
    assert sorted(re.findall(r"daihoi-web@(\d+)\.service", target)) == sorted(ports)
    procfile = (DEPLOY / "Procfile").read_text()
    assert sorted(re.findall(r"DAIHOI_PORT=(\d+) gunicorn", procfile)) == sorted(ports)
    unit = (DEPLOY / "systemd" / "daihoi-web@.service").read_text()
    assert "Environment=DAIHOI_PORT=%i" in unit
    assert "deploy/gunicorn.conf.py wsgi:app" in unit


def test_gunicorn_accepts_the_settings(tmp_path):
    gunicorn = Path(sys.executable).with_name("gunicorn")
    if not gunicorn.exists():
        pytest.skip("gunicorn is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAIHOI_")}
    env.update(DAIHOI_INSTANCE_DIR=str(tmp_path), DAIHOI_DATABASE_URL=f"sqlite:///{tmp_path}/x")
    out = subprocess.run([str(gunicorn), "--check-config", "-c", str(DEPLOY / "gunicorn.conf.py"),
                          "wsgi:app"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.skipif(NGINX is None or shutil.which("openssl") is None,
                    reason="nginx and openssl are needed")
def test_nginx_accepts_the_site_with_tls(tmp_path):
    """The shipped site, as installed by docs/deploy.md, with a throw-away certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=daihoi.example.vn", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    site = (DEPLOY / "nginx" / "daihoi.conf").read_text()
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    site = site.replace("/etc/nginx/snippets/daihoi-locations.conf",
                        str(DEPLOY / "nginx" / "daihoi-locations.conf"))
    site = re.sub(r"listen (\[::\]:)?(80|443)", lambda m: f"listen {m.group(1) or ''}"
                  f"{18080 if m.group(2) == '80' else 18443}", site)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(f"""pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
  include {DEPLOY}/nginx/daihoi-maps.conf;
  include {tmp_path}/site.conf;
}}
""")
    out = subprocess.run([NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "syntax is ok" in out.stderr

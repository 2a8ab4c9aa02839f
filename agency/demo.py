"""The one-command demo: seed data (one agency, two clients, one user per role; safe to run
twice) and ``serve_with_worker``, the web app and an RQ worker stopped together by Ctrl+C.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from dataclasses import replace

import click
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import WSGIRequestHandler, run_simple

from agency.config import PROJECT_ROOT
from agency.db import db
from agency.jobs import shutdown_embedded_redis
from tenants import service
from tenants.context import tenant_context
from tenants.models import Agency, ClientCompany, Role

DEMO_PASSWORD = "regia-demo-2026"  # noqa: S105 - printed to the newcomer on purpose
DEMO_SLUG = "aurora-social"

USERS = [
    (Role.OWNER, "owner@aurora.example", "Olivia Owner"),
    (Role.MANAGER, "manager@aurora.example", "Marco Manager"),
    (Role.STAFF, "staff@aurora.example", "Sara Staff"),
    (Role.FINANCE, "finance@aurora.example", "Franco Finance"),
    (Role.CLIENT_MANAGER, "manager@bellavista.example", "Chiara Cliente"),
    (Role.CLIENT_VIEWER, "viewer@bellavista.example", "Vittorio Viewer"),
]


class _NoDelayHandler(WSGIRequestHandler):
    """Werkzeug writes a response's headers and body separately: with Nagle's algorithm the
    body of each keep-alive response waited for the browser's delayed ACK (40 ms on Linux)."""

    disable_nagle_algorithm = True


def seed_demo() -> tuple[Agency, list[tuple[str, str]]]:
    logins = [(role.value, email) for role, email, _name in USERS]
    agency = db.session.scalar(select(Agency).where(Agency.slug == DEMO_SLUG))
    if agency is not None:
        return agency, logins
    owner_role, owner_email, owner_name = USERS[0]
    agency, _owner = service.create_agency_with_owner(
        "Aurora Social", owner_name, owner_email, DEMO_PASSWORD
    )
    agency.slug = DEMO_SLUG
    # Legal details as an Italian agency would enter them (printed on invoices).
    agency.legal_name = "Aurora Social S.r.l."
    agency.country = "IT"
    agency.vat_number = "IT01234560124"
    agency.fiscal_code = "01234560124"
    # Structured, as FatturaPA needs it (DESIGN §8): the demo finalizes and exports XML.
    agency.address = "Corso Buenos Aires 10"
    agency.postal_code = "20124"
    agency.city = "Milano"
    agency.province = "MI"
    agency.iban = "IT60X0542811101000000123456"
    agency.tax_regime = "RF01"
    agency.timezone = "Europe/Rome"
    with tenant_context(agency.id):
        trattoria = ClientCompany(
            name="Trattoria Bella Vista",
            legal_name="Bella Vista S.r.l.",
            country="IT",
            vat_number="IT00743110157",
            address="Via Roma 1",
            postal_code="20121",
            city="Milano",
            province="MI",
            billing_email="amministrazione@bellavista.example",
            sdi_code="M5UXCR1",
            currency="EUR",
            timezone="Europe/Rome",
            language="it",
            status="active",
        )
        northwind = ClientCompany(
            name="Northwind Outdoor",
            legal_name="Northwind Outdoor Ltd",
            country="GB",
            billing_email="accounts@northwind.example",
            currency="GBP",
            timezone="Europe/London",
            language="en",
            status="onboarding",
        )
        db.session.add_all([trattoria, northwind])
        db.session.flush()
        for role, email, name in USERS[1:]:
            user = service.find_user_by_email(email) or service.create_user(
                name, email, DEMO_PASSWORD
            )
            client_id = trattoria.id if role.is_client_role else None
            membership = service.add_membership(user, agency, role, client_id=client_id)
            if role == Role.STAFF:
                service.assign_staff(membership, trattoria.id)
    db.session.commit()
    from agency.content.demo import demo_emails, seed_demo_posts

    seed_demo_posts(agency, trattoria, demo_emails(USERS))
    from billing.demo import seed_demo_billing

    manager, staff = (service.find_user_by_email(u[1]) for u in USERS[1:3])
    # Sara is assigned to the trattoria only: Marco logged Northwind's hours.
    workers = [staff.id if staff else None, manager.id if manager else None]
    seed_demo_billing(agency, [trattoria, northwind], workers)
    return agency, logins


_demo_lock: list = []  # the open lock file, held for the life of this process


def hold_demo_lock(instance_path: str) -> bool:
    """Take the instance folder's demo lock (False: another demo serves from it).

    Two demos on one folder would share its embedded Redis, and the first to stop shuts it
    down under the other (which then answers 500). The lock is the kernel's (flock): it goes
    with the process, however it ends."""
    import fcntl

    os.makedirs(instance_path, exist_ok=True)
    handle = open(os.path.join(instance_path, "demo.lock"), "a")  # noqa: SIM115 - held open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return False
    _demo_lock.append(handle)
    return True


def bind_problem(host: str, port: int) -> str | None:
    """Why the web app could not listen on host:port (None: it can), in a sentence."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except socket.gaierror:
            return f"{host} is not an address or a host name this machine can resolve."
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"{host}:{port} is already in use; choose another with --port."
            if exc.errno == errno.EACCES:
                return f"Port {port} needs administrator rights; choose one above 1023."
            return f"Cannot listen on {host}:{port}: {exc.strerror or exc}."
    return None


def serve_with_worker(app: Flask, host: str, port: int, *, force: bool = False) -> None:
    """Serve ``app`` on host:port with an RQ worker beside it until Ctrl+C (or SIGTERM).

    The served app has the demo switch on (the outbox page); ``force`` allows it on a server
    database, which ``create_app`` otherwise refuses.
    """
    from agency.app import create_app

    base_url = f"http://{host}:{port}"
    settings = replace(app.config["REGIA"], demo=True, demo_force=force)
    env = dict(os.environ)
    if not env.get("REGIA_BASE_URL"):
        # Links in e-mails must point at the port actually served.
        env["REGIA_BASE_URL"] = base_url
        settings = replace(settings, base_url=base_url)
    app = create_app(settings)
    # Same settings and instance folder, so the worker shares the database and the Redis.
    worker = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=PROJECT_ROOT, env=env
    )
    click.echo(f"Worker started (pid {worker.pid}). Web app on {base_url}/ - Ctrl+C stops both.")
    # Explicit handlers: a shell that starts us in the background ignores SIGINT.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # Not app.run(): Flask ignores it inside a `flask` CLI command.
        run_simple(
            host, port, app, threaded=True, use_reloader=False, request_handler=_NoDelayHandler
        )
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop(worker)
        shutdown_embedded_redis()
    click.echo("Demo stopped.")


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _stop(worker: subprocess.Popen) -> None:
    # Ctrl+C in a terminal already reached the worker (same process group); a second
    # signal would make RQ abandon its current job, so give it a moment first.
    try:
        worker.wait(timeout=3)
        return
    except subprocess.TimeoutExpired:
        worker.terminate()
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()

"""Operator commands: ``flask --app wsgi db upgrade | worker | demo | create-agency``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from agency import migrate
from agency.db import db


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(worker_command)
    app.cli.add_command(demo_command)
    app.cli.add_command(create_agency_command)


@click.group("db", help="Database migrations (Alembic).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Migrate the database up to REVISION (default: head), as the migration role."""
    settings = current_app.config["REGIA"]
    with _revision_errors():
        migrate.upgrade(
            settings.migration_database_url, revision, app_role=settings.app_database_role
        )
    click.echo(f"Database at {revision}.")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Migrate the database down to REVISION (e.g. -1, base)."""
    settings = current_app.config["REGIA"]
    with _revision_errors():
        migrate.downgrade(
            settings.migration_database_url, revision, app_role=settings.app_database_role
        )
    click.echo(f"Database at {revision}.")


@contextmanager
def _revision_errors() -> Iterator[None]:
    """Alembic's refusals (an unknown revision, a downgrade past base...) as a one-line
    error and exit status 1, not a traceback; nothing was migrated."""
    from alembic.util import CommandError

    try:
        yield
    except CommandError as exc:
        raise click.ClickException(f"{exc} (nothing was migrated).") from exc


@click.command("worker")
@click.option("--queue", "queues", multiple=True, help="Queues to listen on (default: all).")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--fork-per-job",
    is_flag=True,
    help="Run each job in a forked work horse (RQ's Worker) instead of in the worker process.",
)
@with_appcontext
def worker_command(queues: tuple[str, ...], burst: bool, fork_per_job: bool) -> None:
    """Run an RQ worker (with the scheduler) on the publish, default, mail and billing queues."""
    from agency.jobs import QUEUES, redis_client
    from agency.worker import MAINTENANCE_INTERVAL_SECONDS, ForkingWorker, InProcessWorker

    names = list(queues) or list(QUEUES)
    unknown = sorted(set(names) - set(QUEUES))
    if unknown:
        raise click.BadParameter(f"unknown queue(s): {', '.join(unknown)}", param_hint="--queue")
    from agency.publishing import jobs as publishing_jobs
    from agency.publishing import ticker

    publishing_jobs.warm()  # once, in this process: not again in every job (or work horse)
    # Jobs run in this process by default: its database and Redis connections, TLS context,
    # compiled SQL and HTTP keep-alive serve job after job (README, "Publishing and workers").
    # Job timeouts still apply (SIGALRM); --fork-per-job isolates each job in a work horse.
    worker_class = ForkingWorker if fork_per_job else InProcessWorker
    worker = worker_class(
        names, connection=redis_client(), maintenance_interval=MAINTENANCE_INTERVAL_SECONDS
    )
    if not burst:
        ticker.start(current_app._get_current_object())  # the sweeper, every minute
    worker.work(burst=burst, with_scheduler=True)


@click.command("create-agency")
@click.argument("name")
@click.option("--owner-email", required=True)
@click.option("--owner-name", required=True)
@click.password_option("--password", help="The owner's password (asked for when omitted).")
@with_appcontext
def create_agency_command(name: str, owner_email: str, owner_name: str, password: str) -> None:
    """Create an agency and its owner from the shell (sign-up may be disabled)."""
    from agency.errors import ValidationFailed
    from tenants import service

    try:
        agency, user, _token = service.signup(name, owner_name, owner_email, password)
    except ValidationFailed as exc:
        for field, messages in exc.errors.items():
            click.echo(f"{field}: {' '.join(messages)}", err=True)
        raise SystemExit(1) from exc
    click.echo(f"Created agency {agency.name!r} (slug {agency.slug}) owned by {user.email}.")


@click.command("demo")
@click.option("--serve", is_flag=True, help="Then start the web app and a worker.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=5000,
    show_default=True,
    help="Web port (try another if busy).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Seed a server (PostgreSQL) database too: its logins share a published password.",
)
@with_appcontext
def demo_command(serve: bool, host: str, port: int, force: bool) -> None:
    """Migrate, seed a demo agency (idempotent), print the logins; --serve runs web + worker."""
    from agency.demo import (
        DEMO_PASSWORD,
        bind_problem,
        hold_demo_lock,
        seed_demo,
        serve_with_worker,
    )

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    problem = bind_problem(host, port) if serve else None
    if problem:
        raise click.UsageError(problem)
    if serve and not hold_demo_lock(app.instance_path):
        raise click.UsageError(
            f"Another Regia demo is serving from {app.instance_path}; stop it first (Ctrl+C), "
            "or give this one a folder of its own with REGIA_INSTANCE_PATH."
        )
    settings = app.config["REGIA"]
    if not settings.is_sqlite and not force:
        raise click.UsageError(
            "DATABASE_URL names a server database; the demo's logins share a published "
            "password. Refusing to seed it without --force."
        )
    migrate.upgrade(settings.migration_database_url, app_role=settings.app_database_role)
    agency, logins = seed_demo()
    db.session.remove()
    url = f"http://{host}:{port}/"
    click.echo("")
    click.echo(f"Regia demo agency: {agency.name}")
    click.echo(f"Open {url} and sign in as any of (password {DEMO_PASSWORD!r}):")
    for role, email in logins:
        click.echo(f"  {role:<15} {email}")
    if app.config["REGIA"].smtp_host is None:
        click.echo(f"E-mails are not sent: with --serve, signed in, read them at {url}dev/outbox/")
    if serve:
        serve_with_worker(app, host, port, force=force)


def main() -> None:
    """The ``regia`` console script: the same commands without ``--app wsgi``."""
    from agency.app import create_app

    FlaskGroup(create_app=create_app)(prog_name="regia")

"""``flask --app wsgi rotate-keys``: re-encrypt secrets under the newest ENCRYPTION_KEYS key."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    app.cli.add_command(rotate_keys_command)


@click.command("rotate-keys")
@with_appcontext
def rotate_keys_command() -> None:
    """Re-encrypt channel credentials with the first ENCRYPTION_KEYS key.

    Put the new key first, keep the old ones after it, run this, then drop the old keys.
    """
    from agency.channels.service import rotate_all_credentials

    count = rotate_all_credentials()
    click.echo(f"Re-encrypted the credentials of {count} channel(s) under the newest key.")

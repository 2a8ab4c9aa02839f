"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

from agency.app import create_app

app = create_app()

"""WSGI entry point: ``gunicorn wsgi:app``."""

from cbt_server import create_app

app = create_app()

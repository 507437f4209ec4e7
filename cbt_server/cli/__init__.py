"""Command-line interface: ``flask --app cbt_server <group> <command>``."""

from __future__ import annotations

from flask import Flask


def register_commands(app: Flask) -> None:
    from cbt_server.cli.admin import admin
    from cbt_server.cli.attempts import attempts
    from cbt_server.cli.audit import audit
    from cbt_server.cli.backup import backup
    from cbt_server.cli.banks import banks
    from cbt_server.cli.demo import demo
    from cbt_server.cli.people import people

    app.cli.add_command(admin)
    app.cli.add_command(attempts)
    app.cli.add_command(audit)
    app.cli.add_command(backup)
    app.cli.add_command(banks)
    app.cli.add_command(demo)
    app.cli.add_command(people)

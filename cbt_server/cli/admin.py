"""``admin create-first``: the first admin of a server, asked for on the terminal.

Every other account is made by an admin in the browser (/admin/staff, docs/accounts.md).
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from cbt_server.accounts import policy
from cbt_server.accounts.staff import (
    StaffError,
    active_demo_accounts,
    create_first_admin,
    has_active_admin,
)

#: what each refusal of accounts/staff.py says on the terminal
REFUSALS = {
    "username_invalid": "user name {username!r}: use 3-64 lower-case letters, digits, '.', '_' "
    "or '-', starting with a letter",
    "username_taken": "user name {username!r} is already taken",
    "name_missing": "give the full name",
    "name_too_long": "the full name is longer than {limit} characters",
    policy.TOO_SHORT: "the password is shorter than {length} characters",
    policy.IS_USERNAME: "the password is the user name",
    policy.TOO_COMMON: "the password is one of the most common ones: choose another",
    "admin_exists": "an active admin exists already: they make further accounts at /admin/staff",
}

NO_TERMINAL = (
    "no active admin, and no terminal to ask for one on: run "
    "`flask --app cbt_server admin create-first` (or `python3 run.py serve --production`) "
    "in a terminal first"
)


@click.group(help="Administrators.")
def admin() -> None:
    pass


@admin.command("create-first")
@click.option(
    "--if-missing",
    is_flag=True,
    help="do nothing when an active admin exists; refuse without a terminal (the production "
    "start uses this)",
)
@with_appcontext
def create_first(if_missing: bool) -> None:
    """Create the first admin: user name, full name and password (twice, not shown)."""
    if if_missing and (demo := active_demo_accounts()):
        click.echo(
            f"Warning: demo accounts can still log in ({', '.join(demo)}): their passwords were "
            "printed by a demo start; deactivate them at /admin/staff."
        )
    if has_active_admin():
        if if_missing:
            click.echo("An active admin exists.")
            return
        raise click.ClickException(REFUSALS["admin_exists"])
    if if_missing and not sys.stdin.isatty():
        raise click.ClickException(NO_TERMINAL)
    click.echo("No active admin yet: create the first one.")
    username = click.prompt("User name")
    full_name = click.prompt("Full name")
    password = click.prompt(
        f"Password (at least {policy.MIN_LENGTH} characters)",
        hide_input=True,
        confirmation_prompt="Password again",
    )
    try:
        user = create_first_admin(username, full_name, password)
    except StaffError as refused:
        raise click.ClickException(REFUSALS[refused.code].format(**refused.values)) from None
    click.echo(
        f"Admin {user.username} created: log in and make the other accounts at /admin/staff."
    )

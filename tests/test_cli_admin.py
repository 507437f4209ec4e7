"""``admin create-first``: the first admin of a production server, asked for on the terminal."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.models import AuditEntry, User, db
from tests.helpers import login

FIRST = "budi.admin\nBudi Santoso\nSandi-Admin-Lab-1\nSandi-Admin-Lab-1\n"


def test_creates_the_first_admin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["admin", "create-first"], input=FIRST)
    assert result.exit_code == 0, result.output
    assert "Sandi-Admin-Lab-1" not in result.output  # typed, never shown
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "budi.admin"))
        assert user.role == "admin" and user.active and not user.must_change_password
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "staff.create"))
        assert entry.target == "budi.admin" and entry.details["first_admin"] is True
    assert login(app.test_client(), "budi.admin", "Sandi-Admin-Lab-1").status_code == 302


def test_refuses_when_an_active_admin_exists(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context(), write_transaction():
        create_user("admin-lama", "sandi-admin-lama", "admin", "Admin Lama")
    result = runner.invoke(args=["admin", "create-first"], input=FIRST)
    assert result.exit_code == 1 and "active admin exists" in result.output
    # The production start asks nothing and goes on.
    result = runner.invoke(args=["admin", "create-first", "--if-missing"])
    assert result.exit_code == 0 and "An active admin exists" in result.output
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.username == "budi.admin")) is None


def test_a_weak_password_is_refused_with_the_reason(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["admin", "create-first"], input="budi\nBudi\npendek\npendek\n")
    assert result.exit_code == 1 and "shorter than 10 characters" in result.output
    result = runner.invoke(
        args=["admin", "create-first"], input="budi\nBudi\nkatasandi123\nkatasandi123\n"
    )
    assert result.exit_code == 1 and "most common" in result.output
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.role == "admin")) is None


def test_the_production_start_without_a_terminal_says_what_to_run(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["admin", "create-first", "--if-missing"], input=FIRST)
    assert result.exit_code == 1
    assert "flask --app cbt_server admin create-first" in result.output


def test_demo_admins_do_not_count_and_are_pointed_out(app: Flask, runner: FlaskCliRunner) -> None:
    with app.app_context(), write_transaction():
        create_user("admin", "dicetak-demo", "admin", "Administrator Lab").demo = True
    result = runner.invoke(args=["admin", "create-first", "--if-missing"])
    assert result.exit_code == 1  # a demo admin is no admin: the terminal is asked for
    assert "demo accounts can still log in (admin)" in result.output
    assert runner.invoke(args=["admin", "create-first"], input=FIRST).exit_code == 0

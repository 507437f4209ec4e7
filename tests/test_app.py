"""The application factory, configuration layering, login and the pages every role reaches."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from cbt_server import create_app
from cbt_server.accounts.service import create_user
from cbt_server.models import db
from tests.helpers import csrf_token, login


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CBT_SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    first = create_app({"INSTANCE_PATH": instance})
    second = create_app({"INSTANCE_PATH": instance})
    key_file = instance / "secret_key"
    assert key_file.exists()
    assert key_file.stat().st_mode & 0o077 == 0, "the key file must be private"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32


def test_configuration_layers(tmp_path: Path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text(
        "CBT_BANKS_PATH = '/from/instance'\nSQLALCHEMY_DATABASE_URI = 'sqlite:///inst.db'\n"
    )
    monkeypatch.setenv("CBT_DATABASE_URL", "postgresql://u@db.example/cbt")
    monkeypatch.setenv("CBT_SECRET_KEY", "from-env")
    app = create_app({"INSTANCE_PATH": instance})
    assert app.config["CBT_BANKS_PATH"] == "/from/instance"
    # The environment wins over instance/config.py, and postgresql:// uses psycopg 3.
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/cbt"
    assert app.config["SECRET_KEY"] == "from-env"
    app = create_app({"INSTANCE_PATH": instance, "CBT_BANKS_PATH": "/explicit"})
    assert app.config["CBT_BANKS_PATH"] == "/explicit"


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("CBT_DATABASE_URL", raising=False)
    app = create_app({"INSTANCE_PATH": tmp_path / "inst", "SECRET_KEY": "x"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'inst' / 'cbt.sqlite3'}"


def test_sqlite_pragmas(app: Flask):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite only")
    with app.app_context():
        conn = db.session.connection()
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_login_page_is_served_in_indonesian_and_english(client):
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Masuk" in html and "Kata sandi" in html
    assert 'name="csrf_token"' in html
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Password" in english and "Sign in" in english


def test_root_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert client.get("/home").status_code == 302


def _make_user(app: Flask, role: str = "participant", **extra) -> None:
    with app.app_context():
        create_user(f"u-{role}", "rahasia-123", role, f"Pengguna {role}", **extra)
        db.session.commit()


def test_login_with_username_or_nip_and_logout(app: Flask, client):
    _make_user(app, nip="198703152010012001")
    response = login(client, "198703152010012001", "rahasia-123")
    assert response.status_code == 302
    home = client.get("/home").get_data(as_text=True)
    assert "Pengguna participant" in home and "198703152010012001" in home
    token = csrf_token(home)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/home").status_code == 302


def test_wrong_password_is_refused_with_a_message(app: Flask, client):
    _make_user(app)
    response = login(client, "u-participant", "salah")
    assert response.status_code == 401
    assert "Nama pengguna atau kata sandi salah." in response.get_data(as_text=True)
    assert client.get("/home").status_code == 302


def test_post_without_csrf_token_is_refused(app: Flask, client):
    _make_user(app)
    response = client.post("/login", data={"login": "u-participant", "password": "rahasia-123"})
    assert response.status_code == 400
    assert client.get("/home").status_code == 302


def test_open_redirect_through_next_is_ignored(app: Flask, client):
    _make_user(app)
    page = client.get("/login?next=https://evil.example/")
    token = csrf_token(page.get_data(as_text=True))
    response = client.post(
        "/login?next=https://evil.example/",
        data={"login": "u-participant", "password": "rahasia-123", "csrf_token": token},
    )
    location = response.headers["Location"]
    assert "evil.example" not in location
    assert location.endswith("/exam/")  # a participant's own landing page


def test_pages_use_no_external_assets(client):
    html = client.get("/login").get_data(as_text=True)
    assert "http://" not in html and "https://" not in html
    css = client.get("/static/css/app.css")
    assert css.status_code == 200
    assert "Content-Security-Policy" in client.get("/login").headers

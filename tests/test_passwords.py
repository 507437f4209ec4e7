"""Staff passwords keep scrypt; exam-card passwords are peppered with the secret key and hashed
cheaply (docs/exam-credentials.md)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from cbt_server import create_app
from cbt_server.accounts.service import authenticate, create_user
from cbt_server.models import User, db


def test_participants_get_the_exam_scheme_and_staff_keep_scrypt(app: Flask) -> None:
    app.config.pop("CBT_STAFF_PASSWORD_METHOD", None)  # the suite's cheap staff hash: not here
    with app.app_context():
        create_user("peserta-x", "k4r7u-xy", "participant", "Peserta X")
        create_user("pengawas-x", "sandi-panjang", "proctor", "Pengawas X")
        db.session.commit()
        hashes = dict(db.session.execute(select(User.username, User.password_hash)).all())
        assert hashes["peserta-x"].startswith("exam$pbkdf2:sha256:1000$")
        assert hashes["pengawas-x"].startswith("scrypt:")
        assert authenticate("peserta-x", "k4r7u-xy") is not None
        assert authenticate("peserta-x", "k4r7u-xz") is None
        assert authenticate("pengawas-x", "sandi-panjang") is not None
        assert "k4r7u-xy" not in hashes["peserta-x"]


def test_the_exam_hash_is_useless_without_the_servers_secret_key(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    with app.app_context():
        create_user("peserta-y", "k4r7u-xy", "participant", "Peserta Y")
        create_user("pengawas-y", "sandi-panjang", "proctor", "Pengawas Y")
        db.session.commit()
    other = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": tmp_path / "other",
            "SECRET_KEY": "another-secret",
        }
    )
    with other.app_context():
        assert authenticate("peserta-y", "k4r7u-xy") is None  # the pepper follows the key
        assert authenticate("pengawas-y", "sandi-panjang") is not None
        db.session.remove()
        db.engine.dispose()

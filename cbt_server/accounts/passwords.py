"""Password hashing: strong for staff, cheap enough for a lab's synchronised start for exam cards.

Staff (proctor, assessor, admin) choose their passwords and keep them for years: scrypt, as
Werkzeug does by default (~80 ms of CPU per check on this class of server).

A participant's password is different in kind: the server generates it, prints it on the exam card
and replaces it when the next cards are printed; nobody chooses or reuses it. 500 participants
logging in at the same minute would cost 500 scrypt checks, 40 s of CPU on a 2-core server, so the
exam credentials are peppered and then hashed with PBKDF2-SHA256 at 1,000 iterations (~0.3 ms):
``HMAC-SHA256(pepper, password)`` goes into Werkzeug's ``pbkdf2:sha256:1000``. The pepper is
derived from the server's secret key, which lives in ``instance/secret_key`` (or the environment),
not in the database. The argument against a copied database is in docs/exam-credentials.md.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

EXAM_PREFIX = "exam$"
EXAM_METHOD = "pbkdf2:sha256:1000"
_PEPPER_LABEL = b"cbt-server exam credential pepper v1"


def _peppered(password: str) -> str:
    key = current_app.config["SECRET_KEY"]
    pepper = hmac.new(
        key.encode("utf-8") if isinstance(key, str) else key, _PEPPER_LABEL, hashlib.sha256
    ).digest()
    return hmac.new(pepper, password.encode("utf-8"), hashlib.sha256).hexdigest()


def hash_password(password: str, role: str) -> str:
    """The stored hash for ``password`` of a user with ``role``."""
    if role == "participant":
        return EXAM_PREFIX + generate_password_hash(_peppered(password), method=EXAM_METHOD)
    # The test suite sets a cheap method (it creates hundreds of staff accounts); never a server.
    method = current_app.config.get("CBT_STAFF_PASSWORD_METHOD")
    return (
        generate_password_hash(password, method=method)
        if method
        else generate_password_hash(password)
    )


def check_password(stored: str, password: str) -> bool:
    if stored.startswith(EXAM_PREFIX):
        return check_password_hash(stored[len(EXAM_PREFIX) :], _peppered(password))
    return check_password_hash(stored, password)

"""Small builders and actions shared by the tests."""

from __future__ import annotations

import html
import re

from flask.testing import FlaskClient

_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|'
    r'name="csrf_token" value="([^"]+)"'
)


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def login(client: FlaskClient, username: str, password: str):  # type: ignore[no-untyped-def]
    page = client.get("/login")
    token = csrf_token(page.get_data(as_text=True))
    return client.post(
        "/login", data={"login": username, "password": password, "csrf_token": token}
    )


def logged_in(app, username: str, password: str) -> FlaskClient:  # type: ignore[no-untyped-def]
    """A browser of its own, logged in."""
    client = app.test_client()
    assert login(client, username, password).status_code == 302
    return client


def user_id(app, username: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from cbt_server.models import User, db

    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def audit_count(app, action: str | None = None) -> int:  # type: ignore[no-untyped-def]
    """Audit rows written so far (of one action, when given)."""
    from sqlalchemy import func, select

    from cbt_server.models import AuditEntry, db

    query = select(func.count()).select_from(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    with app.app_context():
        return db.session.scalar(query) or 0


def problems_table(page: str, testid: str = "roster-problems") -> list[tuple[str, ...]]:
    """(row, column, message) from a page's table of refused rows (roster or data import)."""
    table = re.search(rf'data-testid="{testid}".*?</table>', page, re.S)
    assert table, "no problems table in the page"
    return [
        tuple(html.unescape(cell) for cell in row)
        for row in re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table[0])
    ]


def enrolled_count(app, session_id: int) -> int:  # type: ignore[no-untyped-def]
    """How many people are on a session's roster."""
    from sqlalchemy import func, select

    from cbt_server.models import Enrolment, db

    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Enrolment).where(Enrolment.session_id == session_id)
        )

"""Served over HTTPS (docs/tls.md): every cookie is Secure (by configuration, and by itself when
the request came over https), HttpOnly and SameSite stay; behind a reverse proxy the client's
address comes from the number of trusted hops only, so a PC cannot forge X-Forwarded-For."""

from __future__ import annotations

import functools

from flask import Flask
from sqlalchemy import select

from cbt_server.models import AuditEntry, db
from tests.builders import Participant
from tests.helpers import csrf_token


def _over_https(client, referrer: str = "https://localhost/exam/take"):  # type: ignore[no-untyped-def]
    """Every request of this browser goes over https, from a page of the server itself."""
    client.open = functools.partial(client.open, base_url="https://localhost")
    client.environ_base["HTTP_REFERER"] = referrer
    return client


def _cookies(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def _login(client, username: str, password: str, **extra):  # type: ignore[no-untyped-def]
    page = client.get("/login", **extra)
    token = csrf_token(page.get_data(as_text=True))
    return client.post(
        "/login", data={"login": username, "password": password, "csrf_token": token}, **extra
    )


def _flags(cookie: str) -> set[str]:
    return {part.strip().lower() for part in cookie.split(";")[1:]}


def test_over_plain_http_cookies_are_not_secure(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    response = _login(client, "asesor-1", "sandi-asesor")
    session = _cookies(response)["session"]
    assert "secure" not in _flags(session)
    assert {"httponly", "samesite=lax"} <= _flags(session)


def test_cbt_https_makes_every_cookie_secure(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    app.config["CBT_HTTPS"] = "1"
    client = app.test_client()
    response = _login(client, "asesor-1", "sandi-asesor")
    session = _cookies(response)["session"]
    assert {"secure", "httponly", "samesite=lax"} <= _flags(session)
    language = _cookies(client.get("/lang/en"))["cbt_lang"]
    assert {"secure", "samesite=lax"} <= _flags(language)


def test_a_request_over_https_gets_secure_cookies_by_itself(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    _over_https(person.client)
    response = person.login()
    assert response.status_code == 302
    session = _cookies(response)["session"]
    assert {"secure", "httponly", "samesite=lax"} <= _flags(session)
    device = _cookies(person.client.get("/exam/"))["cbt_device"]
    assert {"secure", "httponly", "samesite=strict"} <= _flags(device)
    language = _cookies(person.client.get("/lang/en"))["cbt_lang"]
    assert "secure" in _flags(language)


def test_saves_over_https_still_take_the_fast_lane(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    _over_https(person.client)
    attempt = person.begin(lab.token)
    item = next(i for i in attempt["items"] if i["section"] == 0 and i["type"] != "short")
    response = person.save(item["position"], [0], 1)
    assert response.status_code == 200
    assert "lane" in response.headers.get("Server-Timing", "")
    # a cross-site page cannot post a save, in the lane or in Flask
    person.client.environ_base["HTTP_REFERER"] = "https://elsewhere.example/"
    refused = person.save(item["position"], [1], 2)
    assert refused.status_code == 400


def _login_address(app: Flask) -> str:
    with app.app_context():
        row = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.id.desc())
        ).first()
        assert row is not None
        return row.details["address"]


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    client = app.test_client()
    forged = {"headers": {"X-Forwarded-For": "10.9.9.9", "X-Forwarded-Proto": "https"}}
    response = _login(client, "asesor-1", "sandi-asesor", **forged)
    assert response.status_code == 302
    assert _login_address(app) == "127.0.0.1"
    assert "secure" not in _flags(_cookies(response)["session"])


def test_behind_one_trusted_proxy_the_client_address_and_scheme_are_the_forwarded_ones(
    tmp_path, database_url: str, lab
) -> None:  # type: ignore[no-untyped-def]
    from cbt_server import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": tmp_path / "proxied",
            "SECRET_KEY": "test-secret",
            "CBT_STRICT_WRITES": True,
            "CBT_PROXY_HOPS": "1",
        }
    )
    client = app.test_client()
    # the proxy appends the PC's address; anything the PC sent before it is not trusted
    forwarded = {
        "headers": {
            "X-Forwarded-For": "10.9.9.9, 10.20.0.17",
            "X-Forwarded-Proto": "https",
            "Referer": "https://localhost/login",
        }
    }
    response = _login(client, "asesor-1", "sandi-asesor", **forwarded)
    assert response.status_code == 302
    assert _login_address(app) == "10.20.0.17"
    assert "secure" in _flags(_cookies(response)["session"])
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

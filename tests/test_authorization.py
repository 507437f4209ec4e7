"""Authorization matrix: every proctor/admin endpoint × every kind of caller.

The matrix walks ``app.url_map`` so a new proctor route without a rule here fails the test, and
checks that every allowed state-changing action writes an audit row.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from flask import Flask
from sqlalchemy import select

from cbt_server.accounts.service import create_user
from cbt_server.models import db
from tests.builders import Participant, make_session
from tests.helpers import audit_count, csrf_token, login

CALLERS = ["anonymous", "participant", "other_proctor", "assessor", "proctor", "admin"]
NEEDS_CREATE_RIGHT = {
    "proctor.new_session",
    "proctor.schedule",
    # changing a session's plan: the right to create sessions, on a session one is on
    "proctor.edit_session",
    "proctor.delete_session",
    "proctor.copy_session",
}


def _path(rule: str, session_id: int) -> str:
    path = rule.replace("<int:session_id>", str(session_id))
    return re.sub(r"<action>", "extend", path)


@pytest.fixture
def world(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    lab = make_session(app, participants=1, code="S-A")
    other = make_session(app, participants=0, code="S-B")
    with app.app_context():
        create_user("asesor-1", "sandi-asesor", "assessor", "Asesor Satu")
        create_user("admin-1", "sandi-admin", "admin", "Admin Satu")
        db.session.commit()
    accounts = {
        "participant": lab.participants[0],
        "other_proctor": other.proctors[0],
        "assessor": ("asesor-1", "sandi-asesor"),
        "proctor": lab.proctors[0],
        "admin": ("admin-1", "sandi-admin"),
    }
    return lab, accounts


def _client(app: Flask, accounts, caller: str):  # type: ignore[no-untyped-def]
    client = app.test_client()
    if caller != "anonymous":
        assert login(client, *accounts[caller]).status_code == 302
    return client


def _proctor_rules(app: Flask):  # type: ignore[no-untyped-def]
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("proctor.")),
        key=lambda r: r.rule,
    )


def test_every_proctor_route_is_in_the_matrix(app: Flask):
    endpoints = {rule.endpoint for rule in _proctor_rules(app)}
    assert len(endpoints) >= 14, endpoints


def expected(caller: str, endpoint: str, session_route: bool) -> str:
    """allow | login | forbidden | not_found"""
    if caller == "anonymous":
        return "login"
    if caller in ("participant", "assessor"):
        return "forbidden"
    if endpoint in NEEDS_CREATE_RIGHT:
        return "allow" if caller == "admin" else "forbidden"
    if caller == "other_proctor" and session_route:
        return "not_found"
    return "allow"


def _verdict(response) -> str:  # type: ignore[no-untyped-def]
    if response.status_code == 302 and "/login" in response.headers.get("Location", ""):
        return "login"
    if response.status_code == 403:
        return "forbidden"
    if response.status_code == 404:
        return "not_found"
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    return "allow"


@pytest.mark.parametrize("caller", CALLERS)
def test_authorization_matrix(app: Flask, world, caller: str):  # type: ignore[no-untyped-def]
    lab, accounts = world
    client = _client(app, accounts, caller)
    page = client.get("/home" if caller != "anonymous" else "/login").get_data(as_text=True)
    token = csrf_token(page)
    checked = []
    for rule in _proctor_rules(app):
        path = _path(rule.rule, lab.id)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "POST":
                data = {
                    "csrf_token": token,
                    "reason": "uji otorisasi",
                    "minutes": "1",
                    "text": "catatan uji",
                }
                response = client.post(path, data=data, headers={"Accept": "application/json"})
            else:
                response = client.get(path)
            want = expected(caller, rule.endpoint, "<int:session_id>" in rule.rule)
            got = _verdict(response)
            assert got == want, (
                f"{caller} {method} {path}: expected {want}, got {got} ({response.status_code})"
            )
            checked.append((method, path))
    assert len(checked) >= 14


def test_allowed_actions_write_audit_rows(app: Flask, world):  # type: ignore[no-untyped-def]
    lab, accounts = world
    Participant(app, *accounts["participant"]).begin(lab.token)
    client = _client(app, accounts, "proctor")
    token = csrf_token(client.get(f"/proctor/sessions/{lab.id}/monitor").get_data(as_text=True))

    posts = [
        rule
        for rule in _proctor_rules(app)
        if "POST" in rule.methods
        and rule.endpoint
        not in (
            "proctor.new_session",
            "proctor.roster",
            "proctor.rescue",
            # forms whose audit rows tests/test_lab_boundary.py checks (an empty form changes
            # nothing, so writes no row)
            "proctor.boundary",
            "proctor.register_seat",
            # changing the plan and the roster: tests/test_session_editing.py checks their audit
            # rows (an empty form changes nothing; this proctor may not create sessions)
            "proctor.schedule",
            "proctor.edit_session",
            "proctor.delete_session",
            "proctor.copy_session",
            "proctor.move_participant",
            "proctor.remove_participant",
        )
    ]
    for rule in posts:
        before = audit_count(app)
        response = client.post(
            _path(rule.rule, lab.id),
            data={
                "csrf_token": token,
                "reason": "uji audit",
                "minutes": "1",
                "text": "catatan uji audit",
            },
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200, f"{rule.rule}: {response.get_data(as_text=True)}"
        assert audit_count(app) == before + 1, f"{rule.rule} wrote no audit row"
    # The rescue file of the participant's PC (a file upload, like the roster).
    from cbt_server.models import Attempt

    with app.app_context():
        attempt_id = db.session.scalar(select(Attempt.id))
    rescue = {
        "format": "cbt-rescue/1",
        "attempt_id": attempt_id,
        "saves": [{"position": 0, "answer": None, "flagged": True, "seq": 9, "age_ms": 1000}],
    }
    before = audit_count(app)
    response = client.post(
        f"/proctor/sessions/{lab.id}/rescue",
        data={"csrf_token": token, "file": (io.BytesIO(json.dumps(rescue).encode()), "r.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302 and audit_count(app) == before + 1


ASSESSOR_CALLERS = ["anonymous", "participant", "proctor", "other_proctor", "assessor", "admin"]
#: on the assessor's desk but an admin's step (sealing the scores stored before sealing began)
ASSESSOR_ADMIN_ONLY = {"assessor.seal_existing"}


def _assessor_rules(app: Flask):  # type: ignore[no-untyped-def]
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("assessor.")),
        key=lambda r: r.rule,
    )


def _assessor_path(rule: str, session_id: int, user_id: int) -> str:
    return (
        rule.replace("<int:session_id>", str(session_id))
        .replace("<int:user_id>", str(user_id))
        .replace("<int:late_id>", "1")
        .replace("<int:study_id>", "1")
        .replace("<int:version>", "1")
        .replace("/banks/<code>", "/banks/UJI")  # a bank's pages: the fixture bank
        .replace("<code>", "BAT-UJI")
    )


@pytest.mark.parametrize("caller", ASSESSOR_CALLERS)
def test_assessor_routes_are_for_assessors_and_admins_only(app: Flask, world, caller: str):  # type: ignore[no-untyped-def]
    lab, accounts = world
    from cbt_server.models import User

    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.role == "participant"))
    client = _client(app, accounts, caller)
    page = client.get("/home" if caller != "anonymous" else "/login").get_data(as_text=True)
    token = csrf_token(page)
    rules = _assessor_rules(app)
    assert len(rules) >= 10
    for rule in rules:
        path = _assessor_path(rule.rule, lab.id, user_id)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # buffered: a streamed download is read and closed like a real server would
            if method == "POST":
                response = client.post(
                    path, data={"csrf_token": token, "reason": "uji"}, buffered=True
                )
            else:
                before = audit_count(app)
                response = client.get(path, buffered=True)
            got = _verdict(response)
            want = {"anonymous": "login", "assessor": "allow", "admin": "allow"}.get(
                caller, "forbidden"
            )
            if rule.endpoint in ASSESSOR_ADMIN_ONLY and caller == "assessor":
                want = "forbidden"
            assert got == want, f"{caller} {method} {path}: expected {want}, got {got}"
            if want == "allow" and method == "GET" and path.endswith((".csv", ".xlsx")):
                assert response.status_code == 200, path
                assert audit_count(app) == before + 1, f"{path}: download not audited"


def _staff_rules(app: Flask):  # type: ignore[no-untyped-def]
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("staff.")),
        key=lambda r: r.rule,
    )


@pytest.mark.parametrize("caller", CALLERS)
def test_staff_account_routes_are_for_admins_only(app: Flask, world, caller: str):  # type: ignore[no-untyped-def]
    """Every /admin/staff route: anonymous to the login page, an admin in, anyone else 403."""
    from cbt_server.models import User

    _lab, accounts = world
    with app.app_context():
        user_id = db.session.scalar(select(User.id).where(User.username == "asesor-1"))
    client = _client(app, accounts, caller)
    page = client.get("/home" if caller != "anonymous" else "/login").get_data(as_text=True)
    token = csrf_token(page)
    rules = _staff_rules(app)
    assert len(rules) >= 7
    want = {"anonymous": "login", "admin": "allow"}.get(caller, "forbidden")
    for rule in rules:
        path = rule.rule.replace("<int:user_id>", str(user_id))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "POST":
                # An empty form: an admin's is refused as bad input, never a server error.
                response = client.post(path, data={"csrf_token": token})
            else:
                response = client.get(path)
            got = _verdict(response)
            assert got == want, f"{caller} {method} {path}: expected {want}, got {got}"

"""The lab boundary per session (docs/lab-boundary.md): address ranges, a participant bound to
their seat's PC, Safe Exam Browser. Each is off by default; when on, it holds on every participant
request of the session's exam (login with the exam card, token, start, the pages, the API and the
save lane), and refusals say what to do."""

from __future__ import annotations

import hashlib
import ipaddress

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.db import write_transaction
from cbt_server.delivery import boundary
from cbt_server.models import AuditEntry, Enrolment, ExamSession, LabSeat, User, db
from tests.builders import Participant, make_session
from tests.helpers import audit_count, csrf_token, login

KEY = "8d0cbc6d3b6a0b3c3b7c0f7d8a3e6bd7f1d29c9e5b8a6f2a4c1d3e5f7a9b0c1d"
OTHER_KEY = "f" * 64


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    return make_session(app, participants=2)


def _by_lane(response) -> bool:  # type: ignore[no-untyped-def]
    return "lane" in response.headers.get("Server-Timing", "")


def _at(person: Participant, address: str) -> Participant:
    person.client.environ_base["REMOTE_ADDR"] = address
    return person


def _proctor(app: Flask, lab, client: FlaskClient | None = None) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = client or app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def _set_boundary(proctor: FlaskClient, lab, **fields):  # type: ignore[no-untyped-def]
    page = proctor.get(f"/proctor/sessions/{lab.id}")
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "networks": "", "seb_keys": ""}
    data.update({k: v for k, v in fields.items() if v is not False})
    return proctor.post(f"/proctor/sessions/{lab.id}/boundary", data=data)


def _stored(app: Flask, lab) -> ExamSession:  # type: ignore[no-untyped-def]
    with app.app_context():
        found = db.session.get(ExamSession, lab.id)
        db.session.expunge_all()
        return found


def _first_item(attempt: dict) -> dict:
    return next(i for i in attempt["items"] if i["section"] == 0 and i["type"] != "short")


# ---- the pure rules -------------------------------------------------------------------------


def test_seb_hash_is_sha256_of_the_url_then_the_key_in_lower_case_hex() -> None:
    url = "https://cbt.lab.example/exam/take"
    # Computed independently: sha256(b"https://cbt.lab.example/exam/take" + KEY).hexdigest()
    expected = "95732c2f027c8f617292f9c057bc1ce747382af18bdf1eb8f9d5fcbcd8ce1f62"
    assert boundary.seb_hash(url, KEY) == expected
    assert expected == hashlib.sha256((url + KEY).encode()).hexdigest()
    assert boundary.seb_hash(url + "#q3", KEY) == expected  # the fragment is not part of it
    assert boundary.seb_ok(url, (None, expected.upper()), (OTHER_KEY, KEY))
    assert not boundary.seb_ok(url, (expected, None), (OTHER_KEY,))
    assert not boundary.seb_ok(url + "?x=1", (expected, None), (KEY,))
    assert not boundary.seb_ok(url, (None, None), (KEY,))


def test_address_ranges_parse_strictly_and_match_ipv4_and_ipv6() -> None:
    nets = boundary.parse_networks("10.10.1.0/24\n\n fd00:10::/64 \n192.0.2.7")
    assert nets == (
        ipaddress.ip_network("10.10.1.0/24"),
        ipaddress.ip_network("fd00:10::/64"),
        ipaddress.ip_network("192.0.2.7/32"),
    )
    assert boundary.address_in("10.10.1.200", nets)
    assert boundary.address_in("::ffff:10.10.1.9", nets)  # IPv4 seen by a dual-stack socket
    assert boundary.address_in("fd00:10::abcd", nets)
    assert not boundary.address_in("10.10.2.1", nets)
    assert not boundary.address_in(None, nets)
    assert not boundary.address_in("not-an-address", nets)
    with pytest.raises(boundary.SettingError) as bad:
        boundary.parse_networks("10.0.0.0/8\n10.0.0.300/24")
    assert (bad.value.line, bad.value.kind) == (2, "not_a_network")
    with pytest.raises(boundary.SettingError) as loose:
        boundary.parse_networks("10.10.1.5/24")
    assert (loose.value.kind, loose.value.hint) == ("host_bits", "10.10.1.0/24")
    with pytest.raises(boundary.SettingError) as key:
        boundary.parse_seb_keys(KEY + "\nabc")
    assert (key.value.line, key.value.kind) == (2, "not_a_key")


# ---- off by default -------------------------------------------------------------------------


def test_every_setting_is_off_by_default_and_nothing_changes(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    stored = _stored(app, lab)
    assert (stored.allowed_networks, stored.bind_seats, stored.seb_required) == (
        None,
        False,
        False,
    )
    person = _at(Participant(app, *lab.participants[0]), "203.0.113.9")  # any address
    attempt = person.begin(lab.token)
    saved = person.save(_first_item(attempt)["position"], [0], 1)
    assert saved.status_code == 200 and _by_lane(saved)
    page = _proctor(app, lab).get(f"/proctor/sessions/{lab.id}").get_data(as_text=True)
    assert "semua alamat" in page and "browser apa saja" in page and "tidak diikat" in page


# ---- settings form ----------------------------------------------------------------------------


def test_a_bad_line_is_refused_naming_it_and_nothing_is_stored(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    proctor = _proctor(app, lab)
    refused = _set_boundary(proctor, lab, networks="10.10.1.0/24\r\n10.10.1.300/24")
    assert refused.status_code == 422
    text = refused.get_data(as_text=True)
    assert "baris 2" in text and "10.10.1.300/24" in text
    loose = _set_boundary(proctor, lab, networks="10.10.1.5/24")
    assert loose.status_code == 422 and "10.10.1.0/24?" in loose.get_data(as_text=True)
    no_keys = _set_boundary(proctor, lab, seb_required="y")
    assert no_keys.status_code == 422 and "minimal satu kunci SEB" in no_keys.get_data(as_text=True)
    bad_key = _set_boundary(proctor, lab, seb_required="y", seb_keys=f"{KEY}\nxyz")
    assert bad_key.status_code == 422 and "Kunci SEB baris 2" in bad_key.get_data(as_text=True)
    stored = _stored(app, lab)
    assert (stored.allowed_networks, stored.seb_required, stored.seb_keys) == (None, False, None)
    assert audit_count(app, "session.boundary") == 0


def test_a_change_is_stored_shown_and_audited(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    proctor = _proctor(app, lab)
    saved = _set_boundary(
        proctor, lab, networks=" 10.10.1.0/24 \r\n\r\nfd00:10::/64", seb_required="y",
        seb_keys=KEY.upper(), bind_seats="y",
    )  # fmt: skip
    assert saved.status_code == 302
    stored = _stored(app, lab)
    assert stored.allowed_networks == "10.10.1.0/24\nfd00:10::/64"
    assert (stored.bind_seats, stored.seb_required, stored.seb_keys) == (True, True, KEY)
    page = proctor.get(f"/proctor/sessions/{lab.id}").get_data(as_text=True)
    assert "10.10.1.0/24, fd00:10::/64" in page and "wajib Safe Exam Browser (1 kunci)" in page
    assert "peserta hanya dari PC kursinya" in page
    with app.app_context():
        row = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "session.boundary"))
        assert row.target == lab.code and row.actor_label == lab.proctors[0][0]
        assert set(row.details["changed"]) == {"networks", "bind_seats", "seb_required", "seb_keys"}
        assert row.details["after"]["seb_keys"] == [KEY[:8] + "…"]  # not the key in full
    again = _set_boundary(
        proctor, lab, networks="10.10.1.0/24\nfd00:10::/64", seb_required="y", seb_keys=KEY,
        bind_seats="y",
    )  # fmt: skip
    assert again.status_code == 302 and audit_count(app, "session.boundary") == 1  # no change


def test_a_participant_cannot_change_the_boundary(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    assert person.login().status_code == 302
    token = csrf_token(person.client.get("/exam/").get_data(as_text=True))
    response = person.client.post(
        f"/proctor/sessions/{lab.id}/boundary", data={"csrf_token": token, "networks": "::/0"}
    )
    assert response.status_code == 403


# ---- address ranges ---------------------------------------------------------------------------


def test_address_ranges_refuse_outside_and_allow_inside(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    inside = _at(Participant(app, *lab.participants[0]), "10.10.1.21")
    attempt = inside.begin(lab.token)  # started before the range was set
    item = _first_item(attempt)
    assert _set_boundary(_proctor(app, lab), lab, networks="10.10.1.0/24").status_code == 302

    saved = inside.save(item["position"], [0], 1)
    assert saved.status_code == 200 and _by_lane(saved)

    _at(inside, "10.10.9.4")  # the same browser, now from another network
    loaded = inside.client.get("/api/v1/attempt")
    assert loaded.status_code == 403
    body = loaded.get_json()
    assert body["error"] == "outside_lab_network"
    assert "hanya dapat dikerjakan dari komputer di ruang ujian" in body["message"]
    refused = inside.save(item["position"], [1], 2)
    assert refused.status_code == 403 and not _by_lane(refused)
    assert refused.get_json()["error"] == "outside_lab_network"
    page = inside.client.get("/exam/take")
    assert page.status_code == 403 and "hubungi pengawas" in page.get_data(as_text=True)

    other = _at(Participant(app, *lab.participants[1]), "192.0.2.50")
    assert other.login().status_code == 302  # a login by name chooses no session yet
    entry = other.client.get("/exam/")
    assert entry.status_code == 403  # ... its exam pages are this session's, refused
    assert "ruang ujian" in entry.get_data(as_text=True)


def test_an_exam_card_login_from_outside_is_refused(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    from cbt_server.sessions import service as sessions

    with app.app_context():
        actor = db.session.scalar(select(User).where(User.username == lab.proctors[0][0]))
        card = sessions.generate_credentials(actor, db.session.get(ExamSession, lab.id)).cards[0]
    assert _set_boundary(_proctor(app, lab), lab, networks="10.10.1.0/24").status_code == 302
    outside = app.test_client()
    outside.environ_base["REMOTE_ADDR"] = "172.16.0.9"
    refused = login(outside, card.participant_number, card.password)
    assert refused.status_code == 403
    assert "ruang ujian" in refused.get_data(as_text=True)
    assert outside.get("/exam/").status_code == 302  # not logged in: back to the login page
    inside = app.test_client()
    inside.environ_base["REMOTE_ADDR"] = "10.10.1.30"
    assert login(inside, card.participant_number, card.password).status_code == 302


# ---- seats ----------------------------------------------------------------------------------


def _register(app: Flask, lab, pc: FlaskClient, seat: str):  # type: ignore[no-untyped-def]
    """The proctor logs in on the PC, registers it as ``seat``, and logs out."""
    _proctor(app, lab, pc)
    page = pc.get(f"/proctor/sessions/{lab.id}/seat")
    assert page.status_code == 200
    response = pc.post(
        f"/proctor/sessions/{lab.id}/seat",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "seat": seat},
    )
    assert response.status_code == 302
    after = pc.get(f"/proctor/sessions/{lab.id}/seat").get_data(as_text=True)
    assert f"kursi {seat}" in after
    assert pc.post("/logout", data={"csrf_token": csrf_token(after)}).status_code == 302
    return response


def _on(app: Flask, pc: FlaskClient, credentials: tuple[str, str]) -> Participant:
    person = Participant(app, *credentials)
    person.client = pc
    return person


def test_seat_binding_allows_the_seat_pc_and_refuses_another(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    pc1, pc2 = app.test_client(), app.test_client()
    registered = _register(app, lab, pc1, "PC-01")
    cookie = registered.headers.get("Set-Cookie", "")
    assert "cbt_seat=" in cookie and "HttpOnly" in cookie
    with app.app_context():
        row = db.session.scalar(select(LabSeat))
        assert (row.room, row.seat) == ("Lab 1", "PC-01")
        secret = pc1.get_cookie("cbt_seat").value
        assert row.device_hash == hashlib.sha256(secret.encode()).hexdigest()  # never the secret
    assert audit_count(app, "lab.seat_register") == 1
    assert _set_boundary(_proctor(app, lab), lab, bind_seats="y").status_code == 302

    # Participant 2 (seat PC-02) on PC-01: told which seat this is and where to go.
    wrong = _on(app, pc1, lab.participants[1])
    assert wrong.login().status_code == 302
    refused = wrong.client.get("/exam/")
    text = refused.get_data(as_text=True)
    assert refused.status_code == 403
    assert "kursi PC-01" in text and "pindah ke kursi PC-02" in text and "pengawas" in text
    api = wrong.client.get("/api/v1/attempt")
    assert api.status_code == 403 and api.get_json()["error"] == "wrong_seat"
    assert api.get_json()["seat"] == "PC-02"
    wrong.client.post("/logout", data={"csrf_token": csrf_token(text)})

    # Participant 1 on an unregistered PC: refused; on PC-01: allowed, through the lane too.
    away = _on(app, pc2, lab.participants[0])
    assert away.login().status_code == 302
    assert away.client.get("/exam/").status_code == 403
    right = _on(app, pc1, lab.participants[0])
    attempt = right.begin(lab.token)
    item = _first_item(attempt)
    saved = right.save(item["position"], [0], 1)
    assert saved.status_code == 200 and _by_lane(saved)

    # The seat re-registered to another PC (audited): the old PC no longer passes, lane or not.
    _register(app, lab, app.test_client(), "PC-01")
    assert audit_count(app, "lab.seat_register") == 2
    with app.app_context():
        entry = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "lab.seat_register")
        ).all()[-1]
        assert entry.details["replaced_pc"] is True
    stale = right.save(item["position"], [1], 2)
    assert stale.status_code == 403 and not _by_lane(stale)
    assert stale.get_json()["error"] == "wrong_seat"


def test_a_participant_without_a_seat_is_sent_to_the_proctor(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), write_transaction():
        for enrolment in db.session.scalars(select(Enrolment)):
            if enrolment.seat == "PC-02":
                enrolment.seat = None
    assert _set_boundary(_proctor(app, lab), lab, bind_seats="y").status_code == 302
    person = Participant(app, *lab.participants[1])
    assert person.login().status_code == 302
    refused = person.client.get("/exam/")
    assert refused.status_code == 403
    assert "belum mendapat kursi" in refused.get_data(as_text=True)


def test_only_a_roster_seat_can_be_registered(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    pc = _proctor(app, lab)
    page = pc.get(f"/proctor/sessions/{lab.id}/seat")
    response = pc.post(
        f"/proctor/sessions/{lab.id}/seat",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "seat": "PC-99"},
    )
    assert response.status_code == 400
    assert audit_count(app, "lab.seat_register") == 0


# ---- Safe Exam Browser --------------------------------------------------------------------------


def test_seb_requires_a_hash_of_the_url_with_a_configured_key(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    person = Participant(app, *lab.participants[0])
    attempt = person.begin(lab.token)
    item = _first_item(attempt)
    proctor = _proctor(app, lab)
    assert _set_boundary(proctor, lab, seb_required="y", seb_keys=KEY).status_code == 302

    url = "http://localhost/api/v1/attempt"
    plain = person.client.get("/api/v1/attempt")
    assert plain.status_code == 403 and plain.get_json()["error"] == "seb_required"
    assert "Safe Exam Browser" in plain.get_json()["message"]
    wrong = person.client.get(
        "/api/v1/attempt",
        headers={"X-SafeExamBrowser-ConfigKeyHash": boundary.seb_hash(url, OTHER_KEY)},
    )
    assert wrong.status_code == 403
    moved = person.client.get(  # a hash of another URL does not do either
        "/api/v1/attempt",
        headers={"X-SafeExamBrowser-ConfigKeyHash": boundary.seb_hash(url + "?x", KEY)},
    )
    assert moved.status_code == 403
    right = person.client.get(
        "/api/v1/attempt", headers={"X-SafeExamBrowser-ConfigKeyHash": boundary.seb_hash(url, KEY)}
    )
    assert right.status_code == 200

    save_url = "http://localhost/api/v1/attempt/answers"
    body = {"saves": [{"position": item["position"], "answer": [0], "seq": 1, "flagged": False}]}
    headers = {"X-CSRFToken": right.get_json()["csrf_token"]}
    refused = person.client.post("/api/v1/attempt/answers", json=body, headers=headers)
    assert refused.status_code == 403 and not _by_lane(refused)
    headers["X-SafeExamBrowser-RequestHash"] = boundary.seb_hash(save_url, KEY)
    saved = person.client.post("/api/v1/attempt/answers", json=body, headers=headers)
    assert saved.status_code == 200 and _by_lane(saved)
    page = person.client.get("/exam/take")
    assert page.status_code == 403 and "Safe Exam Browser" in page.get_data(as_text=True)


def test_the_boundary_reads_nothing_per_save_when_no_session_is_limited(app: Flask, lab) -> None:  # type: ignore[no-untyped-def]
    from tests.test_lean_requests import statements

    person = Participant(app, *lab.participants[0])
    item = _first_item(person.begin(lab.token))
    assert person.save(item["position"], [0], 1).status_code == 200  # warms the caches
    with statements(app) as sql:
        saved = person.save(item["position"], [1], 2)
        loaded = person.client.get("/api/v1/attempt")
    assert saved.status_code == 200 and _by_lane(saved) and loaded.status_code == 200
    assert not any("exam_sessions" in s or "lab_seats" in s for s in sql), sql

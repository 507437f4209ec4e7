"""A roster row whose position is not in the job standards: the refusal lists the valid ones."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.models import Position, User, db
from cbt_server.sessions.roster import parse_roster
from cbt_server.tabular import read_table
from tests.builders import make_session
from tests.helpers import csrf_token, enrolled_count, login, problems_table

NIPS = ("198703152010012001", "199001202015031002", "198512312009121003")


@pytest.fixture
def lab(app: Flask, fixture_banks):  # type: ignore[no-untyped-def]
    """The fixture banks (one position: JF-UJ "Penguji Ahli") and an empty session."""
    return make_session(app, participants=0, code="S-JAB")


@pytest.fixture
def proctor(app: Flask, lab) -> FlaskClient:  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert login(client, *lab.proctors[0]).status_code == 302
    return client


def _upload(client: FlaskClient, session_id: int, text: str):  # type: ignore[no-untyped-def]
    page = client.get(f"/proctor/sessions/{session_id}").get_data(as_text=True)
    return client.post(
        f"/proctor/sessions/{session_id}/roster",
        data={"csrf_token": csrf_token(page), "file": (io.BytesIO(text.encode()), "peserta.csv")},
        content_type="multipart/form-data",
    )


def _roster(*lines: str) -> str:
    return "NIP;Nama;Jabatan;Unit Kerja\n" + "".join(f"{line}\n" for line in lines)


def test_unknown_position_names_the_row_and_lists_the_valid_positions(
    app: Flask,
    lab,
    proctor,  # type: ignore[no-untyped-def]
):
    body = _roster(f"{NIPS[0]};Siti;JF-UJ;Tim Mutu I", f"{NIPS[1]};Budi;Kepala Seksi;Umum")
    response = _upload(proctor, lab.id, body)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Daftar peserta ditolak: tidak ada yang diimpor." in page
    [(row, column, message)] = problems_table(page)
    assert (row, column) == ("3", "Jabatan")
    assert message.startswith("jabatan 'Kepala Seksi' tidak ada di standar jabatan")
    assert "Penguji Ahli (JF-UJ)" in message, message
    assert "lainnya" not in message  # one position: all of it is listed
    # All or nothing: not even the good row was imported.
    assert enrolled_count(app, lab.id) == 0
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.nip == NIPS[0])) is None


def test_many_positions_closest_first_then_how_many_more(app: Flask, lab, proctor):  # type: ignore[no-untyped-def]
    with app.app_context():
        for number in range(1, 21):
            db.session.add(
                Position(
                    code=f"JP-{number:02d}",
                    name=f"Jabatan Pelaksana {number:02d}",
                    position_type="pelaksana",
                )
            )
        db.session.add(Position(code="KASI", name="Kepala Seksi Umum", position_type="struktural"))
        db.session.commit()
    response = _upload(proctor, lab.id, _roster(f"{NIPS[0]};Siti;Kepala  Seksi;Umum"))
    assert response.status_code == 422
    [(row, column, message)] = problems_table(response.get_data(as_text=True))
    assert (row, column) == ("2", "Jabatan")
    listed = message.split("tidak ada di standar jabatan", 1)[1]
    assert listed.index("Kepala Seksi Umum (KASI)") < listed.index("Jabatan Pelaksana")
    assert re.search(r"… dan \d+ lainnya", message), message
    assert "standards/" in message  # where the full list is
    assert enrolled_count(app, lab.id) == 0


def test_position_case_and_spaces_are_forgiven_and_stored_canonically(
    app: Flask,
    lab,
    proctor,  # type: ignore[no-untyped-def]
):
    body = _roster(f"{NIPS[0]};Siti;  penguji   AHLI ;Tim Mutu I", f"{NIPS[1]};Budi;jf-uj;Umum")
    response = _upload(proctor, lab.id, body)
    assert response.status_code == 302, problems_table(response.get_data(as_text=True))
    with app.app_context():
        codes = db.session.scalars(select(User.position_code).where(User.nip.in_(NIPS))).all()
    assert codes == ["JF-UJ", "JF-UJ"]


def test_the_list_is_given_once_per_unknown_position():
    positions = {"JF-UJ": "Penguji Ahli", "PELAKSANA": "Pelaksana"}
    text = _roster(f"{NIPS[0]};Siti;Kepala Seksi;U", f"{NIPS[1]};Budi;kepala seksi;U")
    rows, problems = parse_roster(read_table("r.csv", text.encode()), positions)
    assert rows == [] and [(p.row, p.column) for p in problems] == [(2, "Jabatan"), (3, "Jabatan")]
    assert "Pelaksana (PELAKSANA)" in problems[0].message
    assert "Pelaksana" not in problems[1].message and "baris 2" in problems[1].message


def test_no_standards_imported_says_so():
    text = _roster(f"{NIPS[0]};Siti;Kepala Seksi;U")
    _rows, [problem] = parse_roster(read_table("r.csv", text.encode()), {})
    assert "belum ada standar jabatan" in problem.message

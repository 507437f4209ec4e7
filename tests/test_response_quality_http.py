"""Response-quality flags where people read results: the profile, the score sheet, the monitor.

Attempts are taken through the exam API with the server's clock moved by the test, so an answer
given one second after its item appeared is one second long (docs/psychometrics.md, "Where each
flag is computed and shown"). The pure indices are tested in tests/test_response_quality.py.
"""

from __future__ import annotations

import csv
import io
import random
import re
import secrets
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cbt_server.accounts.service import create_user
from cbt_server.db import write_transaction
from cbt_server.delivery import service
from cbt_server.models import AttemptItem, User, db
from tests.builders import Participant, finish, keyed_positions, make_session
from tests.helpers import login
from tests.test_monitor import _statements


def _layout(app: Flask, attempt_id: int) -> list[dict[str, Any]]:
    """Per position: item code, type, key, shown option order and section."""
    positions = keyed_positions(app, attempt_id)
    with app.app_context():
        sections = dict(
            db.session.execute(
                select(AttemptItem.position, AttemptItem.section_index).where(
                    AttemptItem.attempt_id == attempt_id
                )
            ).all()
        )
    return [{**p, "section": sections[p["position"]]} for p in positions]


def take(
    app: Flask,
    clock,  # type: ignore[no-untyped-def]
    person: Participant,
    token: str,
    choose,  # type: ignore[no-untyped-def]
    seconds: float = 0,
    submit: bool = True,
) -> int:
    """Answer every item in the order shown, ``seconds`` after each item appeared (the page's
    ``shown_ms`` and the server's clock agree), finishing each section; ``choose(item)`` gives
    option labels (or text), None to leave it blank."""
    attempt = person.begin(token)
    section, seq = 0, 0
    for item in sorted(_layout(app, attempt["id"]), key=lambda t: t["position"]):
        if item["section"] != section:
            assert person.post(f"/sections/{section}/finish").status_code == 200
            section = item["section"]
        clock.advance(seconds=seconds)
        given = choose(item)
        if given is None:
            continue
        seq += 1
        if item["type"] == "short":
            answer: Any = given
        else:
            labels = given if isinstance(given, list) else [given]
            answer = [item["order"].index(label) for label in labels]
        save = {"position": item["position"], "answer": answer, "seq": seq, "flagged": False}
        if seconds:
            save["shown_ms"] = round(seconds * 1000)
        response = person.post("/answers", {"position": item["position"], "saves": [save]})
        assert response.status_code == 200, response.get_json()
    if submit:
        assert person.post("/submit").status_code == 200
    return attempt["id"]


def _first(item: dict[str, Any]) -> Any:
    """The first option shown; on a Likert item a point that varies with the position (no
    straight line); a wrong word for a short answer."""
    if item["type"] == "short":
        return "tidak tahu"
    if item["type"] == "likert":
        return str(1 + item["position"] % 5)
    return item["order"][0]


def _assessor(app: Flask) -> FlaskClient:
    with app.app_context(), write_transaction():
        if db.session.scalar(select(User).where(User.username == "asesor-1")) is None:
            create_user("asesor-1", "sandi-asesor", "assessor", "Asesor Satu")
    client = app.test_client()
    assert login(client, "asesor-1", "sandi-asesor").status_code == 302
    return client


def _sheet(client: FlaskClient, session_id: int) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The session's score sheet as the Indonesian CSV: its header, and rows by name."""
    response = client.get(f"/assessor/sessions/{session_id}/scores.csv?csv=id", buffered=True)
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    header = table[0]
    return header, {row[1]: dict(zip(header, row, strict=True)) for row in table[1:]}


def _user_id(app: Flask, username: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.username == username))


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


# ---- rapid guessing ----------------------------------------------------------------------------


def test_a_participant_answering_within_a_second_is_flagged_everywhere(
    app: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    """Two participants take 40 s per item, one answers each item a second after it appears:
    every item's NT10 threshold is 10 % of (40 + 40 + 1) / 3 = 2.7 s, so all 8 of the fast
    one's answers are rapid (RTE 0), none of the others'."""
    people = [Participant(app, *lab.participants[n]) for n in range(3)]
    proctor = app.test_client()
    assert login(proctor, *lab.proctors[0]).status_code == 302
    monitor_url = f"/proctor/sessions/{lab.id}/monitor.json"

    take(app, clock, people[0], lab.token, _first, seconds=40)
    take(app, clock, people[1], lab.token, _first, seconds=40)
    # (a first refresh refreshes the proctor's login stamp after the clock moved: not counted)
    assert proctor.get(monitor_url).status_code == 200
    before = _statements(app, proctor, monitor_url)  # seats with attempts, none rapid
    take(app, clock, people[2], lab.token, _first, seconds=1, submit=False)

    # Live, while the fast one is still at it: the monitor counts answers given < 3 s after
    # their item appeared, in the grouped answer-count query it already ran.
    seats = {s["seat"]: s for s in proctor.get(monitor_url).get_json()["seats"]}
    assert (seats["PC-03"]["rapid"], seats["PC-03"]["answered"]) == (8, 8)
    assert seats["PC-01"]["rapid"] == seats["PC-02"]["rapid"] == 0
    during = _statements(app, proctor, monitor_url)
    assert len(during) == len(before)
    assert sum("first_answer_ms" in s for s in during) == 1
    assert people[2].post("/submit").status_code == 200

    assessor = _assessor(app)
    header, rows = _sheet(assessor, lab.id)
    assert header[-6:] == [
        "Tebakan cepat",
        "RTE",
        "RTE tanda",
        "Respons asal",
        "Skala validitas",
        "Kolusi",
    ]
    fast, slow = rows["Peserta 3"], rows["Peserta 2"]
    assert (fast["Tebakan cepat"], fast["RTE"]) == ("8", "0")
    assert fast["RTE tanda"].startswith("RTE RENDAH: 8 dari 8 jawaban lebih cepat")
    assert "RTE 0,00 < 0,90" in fast["RTE tanda"]
    assert (slow["Tebakan cepat"], slow["RTE"], slow["RTE tanda"]) == ("0", "1", "")
    page = assessor.get(f"/assessor/sessions/{lab.id}/scores").get_data(as_text=True)
    assert "RTE RENDAH: 8 dari 8 jawaban" in page  # the page is the same sheet

    user = _user_id(app, lab.participants[2][0])
    html = assessor.get(f"/assessor/people/{user}/profile").get_data(as_text=True)
    rapid = re.search(r'data-testid="quality-rapid">(.*?)</li>', html, re.S)
    assert rapid, html
    assert "8 dari 8 jawaban lebih cepat dari ambang waktu butirnya" in _text(rapid.group(1))
    assert "(RTE) 0,00, di bawah 0,90" in _text(rapid.group(1))
    # the slow ones: one quiet line, nothing flagged
    quiet = _user_id(app, lab.participants[1][0])
    html = assessor.get(f"/assessor/people/{quiet}/profile").get_data(as_text=True)
    assert 'data-testid="response-quality-none"' in html
    assert 'data-testid="response-quality"' not in html


# ---- careless responding on an inventory -------------------------------------------------------


def test_an_inventory_straight_liner_gets_no_integrity_trait_levels(
    app: Flask, imported, clock
) -> None:  # type: ignore[no-untyped-def]
    """BAT-INTEGRITAS: one participant clicks "3" on every one of the 40 statements (a run of
    40 in the order shown, SD 0), another answers them; the first one's trait levels are
    withheld on the profile, with the reason, and the sheet says why."""
    lab = make_session(app, "BAT-INTEGRITAS", participants=2)
    line, honest = (Participant(app, *lab.participants[n]) for n in range(2))
    pick = random.Random(12)
    trait = {"INT.01": 4, "INT.02": 2, "INT.03": 5, "INT.04": 3, "INT.SD": 2}

    def varied(item: dict[str, Any]) -> Any:
        """A consistent person: near their level on each scale, reverse-keyed items reversed."""
        if item["type"] == "likert":
            point = min(5, max(1, trait[item["competency"]] + pick.choice([0, 0, 1, -1])))
            return str(6 - point if item["reverse"] else point)
        return item["order"][pick.randrange(len(item["order"]))]

    take(
        app, clock, line, lab.token, lambda item: "3" if item["type"] == "likert" else _first(item)
    )
    take(app, clock, honest, lab.token, varied)
    assessor = _assessor(app)

    html = assessor.get(f"/assessor/people/{_user_id(app, lab.participants[0][0])}/profile")
    html = html.get_data(as_text=True)
    careless = re.search(r'data-testid="quality-careless">(.*?)</li>', html, re.S)
    assert careless, html
    text = _text(careless.group(1))
    assert "untaian jawaban sama 40 dari 40 (jawaban 3)" in text
    assert "SD jawaban 0,00, di bawah 0,50" in text and "level skala integritas ditahan" in text
    for code in ("INT.01", "INT.02", "INT.03", "INT.04"):
        cell = re.search(rf'data-testid="scale-level-{re.escape(code)}">(.*?)</td>', html, re.S)
        assert cell and _text(cell.group(1)).strip() == "ditahan (pola jawaban asal)", code
    # the lie scale's own score stays (60 %, valid against the provisional 85 %)
    cell = re.search(r'data-testid="scale-level-INT.SD">(.*?)</td>', html, re.S)
    assert cell and "ditahan" not in cell.group(1)

    other = assessor.get(f"/assessor/people/{_user_id(app, lab.participants[1][0])}/profile")
    html = other.get_data(as_text=True)
    assert 'data-testid="quality-careless"' not in html
    assert not re.search(r'data-testid="scale-level-[^"]*">[^<]*<span class="warning-text">', html)

    _header, rows = _sheet(assessor, lab.id)
    flagged = rows["Peserta 1"]["Respons asal"]
    assert flagged.startswith("DITAHAN: untaian jawaban sama 40 dari 40 (jawaban 3)")
    assert "SD jawaban 0,00 < 0,50" in flagged
    assert rows["Peserta 2"]["Respons asal"] == ""
    assert rows["Peserta 1"]["Skala validitas"].startswith("valid: INT.SD 60,0 % < batas sementara")


# ---- the lie scale against its own norm --------------------------------------------------------


def test_a_lie_scale_above_its_norms_95th_percentile_withholds_trait_levels(
    app: Flask, lab, clock
) -> None:  # type: ignore[no-untyped-def]
    """Thirty earlier participants of BAT-UJI score 40–80 % on its one-item lie scale; the
    norm's 95th percentile is 80 %. One at 100 % is above it: invalid, trait levels withheld.
    One at 80 % is not above it (the fixed 80 % of the battery would have flagged them)."""
    norm = make_session(app, participants=30, code="S-NORMA", token="NORMA7")
    for n in range(30):
        finish(app, norm, n, {"U-L1": "4", "U-L2": "2", "U-SD": str(2 + n % 3)})  # 40/60/80 %
    finish(app, lab, 0, {"U-L1": "4", "U-L2": "2", "U-SD": "5"})  # 100 %
    finish(app, lab, 1, {"U-L1": "4", "U-L2": "2", "U-SD": "4"})  # 80 %
    assessor = _assessor(app)

    high = _user_id(app, lab.participants[0][0])
    html = assessor.get(f"/assessor/people/{high}/profile").get_data(as_text=True)
    lie = re.search(r'data-testid="quality-lie">(.*?)</li>', html, re.S)
    assert lie, html
    text = _text(lie.group(1))
    assert "Keinginan Sosial Uji (BAT-UJI): 100,0 % di atas persentil ke-95 normanya" in text
    assert "(80,0 %; 32 orang; peringkat persentil 98)" in text
    assert "level skala integritas ditahan" in text
    cell = re.search(r'data-testid="scale-level-INT.UJ">(.*?)</td>', html, re.S)
    assert cell and _text(cell.group(1)).strip() == "ditahan (skala validitas tidak valid)"
    warning = re.search(r'data-testid="validity-warning">(.*?)</p>', html, re.S)
    assert (
        warning and "di atas persentil ke-95 kelompok normanya (80 %, 32 orang)" in warning.group(1)
    )

    at_cut = _user_id(app, lab.participants[1][0])
    html = assessor.get(f"/assessor/people/{at_cut}/profile").get_data(as_text=True)
    assert 'data-testid="quality-lie"' not in html and 'data-testid="validity-warning"' not in html
    assert "ditahan" not in html

    _header, rows = _sheet(assessor, lab.id)
    best = rows["Ni Kadek Ayu Wulandari, S.Pd. — Ñusantara"]
    assert best["Skala validitas"] == (
        "TIDAK VALID: INT.SDUJ 100,0 % > P95 norma 80,0 % (n = 32; peringkat persentil 98)"
    )
    assert best["INT.SDUJ tanda"] == "VALIDITAS"
    assert rows["Peserta 2"]["Skala validitas"].startswith("valid: INT.SDUJ 80,0 % ≤ P95 norma")
    assert rows["Peserta 2"]["INT.SDUJ tanda"] == ""


# ---- collusion between seat neighbours ---------------------------------------------------------


def test_neighbours_with_many_identical_wrong_answers_are_named_with_p(
    app: Flask, imported, clock, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    """BAT-TEK-WP as one fixed form (every attempt drawn with the same seed), twelve seats
    PC-01 … PC-12 (neighbours: the next number). PC-01 and PC-02 give the same wrong option on
    every keyed item; everyone else knows 60 % and guesses the rest. The pair is flagged, each
    naming the other with the K-index; independent neighbours are not."""
    fixed = SimpleNamespace(randbits=lambda _bits: 20261123, token_urlsafe=secrets.token_urlsafe)
    monkeypatch.setattr(service, "secrets", fixed)
    lab = make_session(app, "BAT-TEK-WP", participants=12)

    def copied(item: dict[str, Any]) -> Any:
        if item["type"] == "short":
            return "tidak tahu"
        wrong = sorted(label for label in item["order"] if label not in item["key"])
        return wrong[0] if wrong else item["order"][0]

    def independent(n: int):  # type: ignore[no-untyped-def]
        pick = random.Random(f"kursi-{n}")

        def choose(item: dict[str, Any]) -> Any:
            """Knows 60 % of the answers; guesses the rest."""
            if item["type"] == "short":
                return pick.choice(["tidak tahu", "rapor"])
            if pick.random() < 0.6:
                return item["key"] if item["type"] == "multiple" else item["key"][0]
            return pick.choice(sorted(item["order"]))

        return choose

    for n in range(12):
        person = Participant(app, *lab.participants[n])
        take(app, clock, person, lab.token, copied if n < 2 else independent(n))
    assessor = _assessor(app)

    _header, rows = _sheet(assessor, lab.id)
    first, second = rows["Peserta 1"]["Kolusi"], rows["Peserta 2"]["Kolusi"]
    assert first.startswith("PC-02: ") and second.startswith("PC-01: ")
    match = re.match(
        r"PC-02: (\d+) jawaban salah identik, harapan (\d+,\d), p (=|<) (\d,\d+) "
        r"\(batas 0,0023; 22 uji\)$",
        first,
    )
    assert match, first
    assert int(match.group(1)) >= 10 and float(match.group(4).replace(",", ".")) <= 0.0023
    assert first.split(": ", 1)[1] == second.split(": ", 1)[1]  # the pair's one test result
    for n in range(3, 13):
        assert rows[f"Peserta {n}"]["Kolusi"] == "", n

    html = assessor.get(f"/assessor/people/{_user_id(app, lab.participants[0][0])}/profile")
    collusion = re.search(
        r'data-testid="quality-collusion">(.*?)</li>', html.get_data(as_text=True), re.S
    )
    assert collusion and "dengan PC-02" in _text(collusion.group(1))

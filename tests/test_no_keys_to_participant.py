"""Keys never reach the lab PC: walk every participant page and API response of a full attempt."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask

from tests.builders import FIXTURE_BANKS, Participant, keyed_positions, make_session

#: JSON field names that would carry scoring data
FORBIDDEN_FIELDS = {
    "key",
    "keys",
    "weights",
    "weight",
    "reverse",
    "accept",
    "accepted",
    "competency",
    "competency_code",
    "scale",
    "score_key",
    "correct",
}
#: competency/scale codes of the fixture bank: scale membership must not show
FORBIDDEN_TEXT = ["T.UJ.01", "T.UJ.02", "INT.UJ", "INT.SDUJ", "weighted", "Garuda"]


def _walk_json(value: Any, path: str = "$") -> list[str]:
    found = []
    if isinstance(value, dict):
        for name, inner in value.items():
            if name.lower() in FORBIDDEN_FIELDS:
                found.append(f"{path}.{name}")
            found += _walk_json(inner, f"{path}.{name}")
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            found += _walk_json(inner, f"{path}[{n}]")
    return found


class Recorder:
    """Wraps a participant and checks every response it receives."""

    def __init__(self, person: Participant) -> None:
        self.person = person
        self.seen: list[str] = []
        self.forbidden_text = list(FORBIDDEN_TEXT)

    def check(self, label: str, response) -> None:  # type: ignore[no-untyped-def]
        body = response.get_data(as_text=True)
        self.seen.append(label)
        for text in self.forbidden_text:
            assert text not in body, f"{label} shows {text!r}"
        if response.is_json:
            assert not _walk_json(response.get_json()), (
                f"{label}: {_walk_json(response.get_json())}"
            )


def test_no_participant_response_carries_keys(app: Flask, runner):  # type: ignore[no-untyped-def]
    assert runner.invoke(args=["banks", "import", str(FIXTURE_BANKS)]).exit_code == 0
    lab = make_session(app, participants=1)
    person = Participant(app, *lab.participants[0])
    rec = Recorder(person)
    c = person.client
    rec.check("login page", c.get("/login"))
    rec.check("login", person.login())
    rec.check("entry page", c.get("/exam/"))
    rec.check("token", person.enter_token(lab.token))
    rec.check("confirm page", c.get("/exam/confirm"))
    rec.check("start", person.start())
    rec.check("take page", c.get("/exam/take"))
    rec.check("home", c.get("/home"))
    first = c.get("/api/v1/attempt")
    rec.check("GET attempt", first)
    person.csrf = first.get_json()["csrf_token"]
    attempt = first.get_json()["attempt"]
    for item in attempt["items"]:
        if item["image_url"]:
            rec.check("image", c.get(item["image_url"]))
    for asset in ("/static/js/exam.js", "/static/css/exam.css", "/static/css/app.css"):
        rec.check(asset, c.get(asset))
    truth = keyed_positions(app, attempt["id"])
    seq = 0
    for t in truth[:3]:
        seq += 1
        rec.check(f"save {t['position']}", person.save(t["position"], [0], seq))
        rec.check("position", person.post("/position", {"position": t["position"]}))
    rec.check("heartbeat", person.post("/heartbeat", {"position": 1}))
    rec.check("events", person.post("/events", {"events": [{"kind": "focus_lost"}]}))
    rec.check("finish section", person.post("/sections/0/finish"))
    rec.check("GET attempt after section", c.get("/api/v1/attempt"))
    for t in truth[3:]:
        seq += 1
        answer = "jawaban saya" if t["type"] == "short" else [0]
        rec.check(f"save {t['position']}", person.save(t["position"], answer, seq))
    rec.check("GET attempt answered", c.get("/api/v1/attempt"))
    rec.check("submit", person.post("/submit"))
    rec.check("finish page", c.get("/exam/finish"))
    rec.check("refused save", person.save(0, [1], 999))
    rec.check("openapi", c.get("/api/v1/openapi.json"))
    assert len(rec.seen) >= 25
    # The bank's keys exist on the server, so the checks above had something to miss.
    assert any(t["accept"] == ["Garuda", "Garuda Pancasila"] for t in truth)
    assert any(t["reverse"] for t in truth) and any(t["weights"] for t in truth)
    assert json.dumps(truth)  # server-side truth is serialisable for debugging


def test_no_bank_page_opens_to_a_participant(app: Flask, runner):  # type: ignore[no-untyped-def]
    """The bank pages (cbt_server/web/banks.py) show keys to staff: every one refuses a
    participant, in the middle of an attempt too, and the refusal carries none of them."""
    from sqlalchemy import select

    from cbt_server.models import Item, db

    assert runner.invoke(args=["banks", "import", str(FIXTURE_BANKS)]).exit_code == 0
    lab = make_session(app, participants=1)
    person = Participant(app, *lab.participants[0])
    rec = Recorder(person)
    person.begin(lab.token)
    with app.app_context():
        version_id, item_id = db.session.execute(select(Item.bank_version_id, Item.id)).first()
    walked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("banks.") or "GET" not in rule.methods:
            continue
        path = rule.rule.replace("<int:version_id>", str(version_id))
        path = path.replace("<int:item_id>", str(item_id))
        response = person.client.get(path)
        assert response.status_code == 403, path
        rec.check(path, response)
        walked += 1
    assert walked >= 4

"""The exam API against its own document (``/api/v1/openapi.json``).

Two kinds of test: the drifts once seen, each as an HTTP test; and schemathesis, which exercises
every operation of the served document through the whole WSGI stack (the flood throttle, the save
lane, Flask), as a participant whose attempt runs and as a client without a login. Each response
must have a documented status, match the documented schema and content type, and never be a
server error. Examples per operation are bounded and derandomised, so the run is short and the
same every time.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from schemathesis.specs.openapi.checks import positive_data_acceptance

from cbt_server import create_app
from cbt_server.delivery import answers, errors
from cbt_server.delivery.lifecycle import AttemptState
from cbt_server.web.auth import DEVICE_COOKIE
from cbt_server.web.messages import DELIVERY_MESSAGES
from tests.builders import Participant, keyed_positions, make_session

DOCUMENT = "/api/v1/openapi.json"
#: examples per operation and generation mode; enough to reach every documented refusal
EXAMPLES = 20


@pytest.fixture
def participant(app: Flask, fixture_banks) -> Participant:  # type: ignore[no-untyped-def]
    lab = make_session(app, participants=1)
    person = Participant(app, *lab.participants[0])
    person.begin(lab.token)
    return person


def _document(client) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    response = client.get(DOCUMENT)
    assert response.status_code == 200 and response.is_json
    return response.get_json()


# ---- the drifts once seen -----------------------------------------------------------------


def test_every_api_route_is_documented_with_its_path_parameters(app: Flask) -> None:
    document = _document(app.test_client())
    routes = {
        (rule.rule.replace("<int:", "{").replace(">", "}"), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert routes == documented
    for path, item in document["paths"].items():
        named = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == named, path
            for parameter in operation.get("parameters", []):
                assert parameter["required"] and parameter["schema"]


def test_the_document_lists_what_the_code_accepts_and_answers(app: Flask) -> None:
    document = _document(app.test_client())
    schemas = document["components"]["schemas"]
    events = document["paths"]["/api/v1/attempt/events"]["post"]["requestBody"]
    kinds = events["content"]["application/json"]["schema"]["properties"]["events"]["items"]
    assert set(kinds["properties"]["kind"]["enum"]) == set(answers.EVENT_KINDS)
    assert set(schemas["Timing"]["properties"]["state"]["enum"]) == set(AttemptState)
    assert set(schemas["Error"]["properties"]["error"]["enum"]) == set(errors.API_ERRORS)
    # Every refusal of the use cases has the participant's words.
    assert set(errors.STATUS) <= set(DELIVERY_MESSAGES)
    # Every refusal of an operation is documented with the status it is answered with.
    for item in document["paths"].values():
        for operation in item.values():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}
                    for code in schema["allOf"][1]["properties"]["error"]["enum"]:
                        assert errors.API_ERRORS[code] == int(status), code


def test_integral_numbers_are_integers(app: Flask, participant: Participant) -> None:
    """JSON has one number type: 3.0 is 3, where an integer is expected."""
    attempt = participant.attempt()
    single = next(
        t for t in keyed_positions(app, attempt["id"]) if t["code"] == "U-SGL"
    )  # four options
    saved = participant.post(
        "/answers",
        {"saves": [{"position": float(single["position"]), "answer": [2.0], "seq": 3.0}]},
    )
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["acks"] == [
        {"position": single["position"], "seq": 3, "status": "saved"}
    ]
    after = participant.attempt()["items"][single["position"]]
    assert after["answer"] == [2] and after["seq"] == 3
    assert participant.post("/position", {"position": 1.0}).status_code == 200
    assert participant.post("/heartbeat", {"position": 1.0}).status_code == 200
    late = participant.post(
        "/late-answers",
        {"saves": [{"position": 0.0, "answer": None, "seq": 9.0, "age_ms": 1500.0}]},
    )
    assert late.status_code == 200 and late.get_json()["invalid"] == []


@pytest.mark.parametrize(
    "save",
    [
        {"position": 0, "answer": None, "seq": 3.5},
        {"position": 0.5, "answer": None, "seq": 3},
        {"position": 0, "answer": [0.5], "seq": 3},
        {"position": 0, "answer": None, "seq": 2.0**31},
        {"position": 1e300, "answer": None, "seq": 1},
        {"position": 0, "answer": None, "seq": True},
    ],
)
def test_other_numbers_stay_refused(participant: Participant, save: dict) -> None:
    refused = participant.post("/answers", {"saves": [save]})
    assert refused.status_code == 400 and refused.get_json()["error"] == "bad_request"


@pytest.mark.parametrize(
    "path",
    [
        "/answers",
        "/position",
        "/heartbeat",
        "/events",
        "/late-answers",
        "/sections/0/finish",
        "/submit",
    ],
)
@pytest.mark.parametrize("how", ["no cookie", "login page visited", "forged token"])
def test_an_api_post_without_a_login_is_401(app: Flask, path: str, how: str) -> None:
    """Not a CSRF refusal: without a login the token is not the problem (docs/exam-api.md)."""
    client = app.test_client()
    headers = {}
    if how != "no cookie":
        client.get("/login")  # a session cookie with a CSRF token, and no login
    if how == "forged token":
        headers["X-CSRFToken"] = "IjAxMjM0NTY3ODki.forged"
    response = client.post(f"/api/v1/attempt{path}", json={}, headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"] == "not_logged_in"


def test_an_api_post_of_an_expired_login_is_401_whatever_its_token(
    app: Flask, participant: Participant, clock
) -> None:  # type: ignore[no-untyped-def]
    """The login checks come before the CSRF check: a PC whose login's time is up is told so
    (401 login_expired), not that its token is missing or stale."""
    from pathlib import Path

    from cbt_server.config import defaults

    app.config.update(
        (name, value)
        for name, value in defaults(Path("instance")).items()
        if name.startswith("CBT_PARTICIPANT_")
    )
    assert participant.post("/submit").status_code == 200
    clock.advance(minutes=2 * app.config["CBT_PARTICIPANT_GRACE_MINUTES"])
    response = participant.client.post("/api/v1/attempt/heartbeat", json={})  # no token
    assert response.status_code == 401
    assert response.get_json()["error"] == "login_expired"


def test_a_participant_post_with_a_stale_token_is_400_csrf(participant: Participant) -> None:
    """CSRF protection stays for a live login (the lane and the route answer the same)."""
    response = participant.client.post(
        "/api/v1/attempt/answers",
        json={"saves": [{"position": 0, "answer": None, "seq": 1}]},
        headers={"X-CSRFToken": "IjAxMjM0NTY3ODki.forged"},
    )
    assert response.status_code == 400 and response.get_json()["error"] == "csrf"


def test_a_wrong_method_says_which_are_allowed(app: Flask) -> None:
    response = app.test_client().delete("/api/v1/attempt/answers")
    assert response.status_code == 405
    assert response.headers["Allow"] and "POST" in response.headers["Allow"]
    assert response.get_json()["error"] == "method_not_allowed"


# ---- schemathesis over the served document --------------------------------------------------


#: the instance folder of the app that serves the document (removed when the run ends)
_FOLDER = tempfile.TemporaryDirectory(prefix="cbt-openapi-")


def _served_schema() -> Any:
    """The document as the app serves it, loaded at collection (serving it needs no database)."""
    folder = Path(_FOLDER.name)
    bare = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'unused.sqlite3'}",
            "INSTANCE_PATH": folder,
            "SECRET_KEY": "openapi",
            "TESTING": True,
        }
    )
    loaded = schemathesis.openapi.from_wsgi(DOCUMENT, bare)
    loaded.config.generation.update(max_examples=EXAMPLES, deterministic=True)
    return loaded


# Not schemathesis.pytest.from_fixture: its lazy loader sets Function._nodeid, which pytest 9 no
# longer has. The document is loaded once; every call goes to the test's own app (``app=``).
schema = _served_schema()


@dataclass
class _Login:
    cookie: str
    csrf: str
    device: str
    #: per position of the attempt: the item's type and its number of options
    items: list[tuple[str, int]]


#: the participant of the running test (tests run one at a time)
_current: list[_Login] = []


class _ParticipantAuth:
    """The documented security schemes filled with a real login: the session cookie and the
    CSRF header. Schemathesis leaves them out itself when it tests a request without them."""

    def get(self, case, ctx) -> _Login | None:  # type: ignore[no-untyped-def]
        return _current[-1] if _current else None  # None: while collecting

    def set(self, case, data: _Login, ctx) -> None:  # type: ignore[no-untyped-def]
        case.cookies = {**(case.cookies or {}), "session": data.cookie}
        case.headers = {**(case.headers or {}), "X-CSRFToken": data.csrf}


_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    # One app and one attempt per operation, shared by its examples (a fresh attempt per example
    # would cost a login each): the function-scoped fixture is meant, and the app's own
    # per-request time is not what is checked here.
    suppress_health_check=list(hypothesis.HealthCheck),
)


@pytest.fixture
def logged_in(participant: Participant):  # type: ignore[no-untyped-def]
    session = participant.client.get_cookie("session")
    device = participant.client.get_cookie(DEVICE_COOKIE)
    assert session is not None and device is not None and participant.csrf
    attempt_id = participant.attempt()["id"]
    items = [(t["type"], len(t["order"])) for t in keyed_positions(participant.app, attempt_id)]
    _current.append(_Login(session.value, participant.csrf, device.value, items))
    yield participant
    _current.clear()


def _fits(save: Any, items: list[tuple[str, int]]) -> bool:
    """Whether a save (valid by the document) fits this attempt: its position is one of the
    attempt's items and its answer has the item's shape."""
    if not isinstance(save, dict) or not 0 <= save.get("position", -1) < len(items):
        return False
    kind, options = items[int(save["position"])]
    answer = save.get("answer")
    if answer is None:
        return True
    if kind == "short":
        return isinstance(answer, str)
    return (
        isinstance(answer, list)
        and len(set(answer)) == len(answer) <= (options if kind == "multiple" else 1)
        and all(0 <= i < options for i in answer)
    )


def _positive_data_accepted(ctx, response, case):  # type: ignore[no-untyped-def]
    """Schemathesis' ``positive_data_acceptance``, except for what the document cannot say: a
    request valid by the document is refused ``bad_request`` when it does not fit this attempt
    (a position past its last item, an option index past the item's options, an answer of
    another item type). Which requests fit is decided here, from the attempt itself."""
    if (
        response.status_code == 400
        and case.meta is not None
        and case.meta.generation.mode.is_positive
        and response.json().get("error") == "bad_request"
    ):
        items, body = _current[-1].items, case.body if isinstance(case.body, dict) else {}
        if case.path.endswith("/answers") and not all(_fits(s, items) for s in body["saves"]):
            return None
        where = body.get("position")
        beyond = where is not None and not 0 <= where < len(items)
        if case.path.endswith(("/position", "/heartbeat")) and beyond:
            return None  # the attempt has no item there
    return positive_data_acceptance(ctx, response, case)


@schema.auth.apply(_ParticipantAuth, refresh_interval=None)
@schema.parametrize()
@_SETTINGS
def test_participant_with_a_running_attempt(case, logged_in: Participant) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(
        app=logged_in.app,
        # The attempt is bound to this PC's device cookie (not a credential: not in the document).
        cookies={DEVICE_COOKIE: _current[-1].device},
        excluded_checks=[positive_data_acceptance],
        additional_checks=[_positive_data_accepted],
    )


@schema.parametrize()
# Fewer examples: every answer is the same 401 (only a malformed URL or method differs).
@hypothesis.settings(_SETTINGS, max_examples=8)
def test_without_a_login(case, app: Flask) -> None:  # type: ignore[no-untyped-def]
    response = case.call_and_validate(app=app)
    if case.path != DOCUMENT and case.method.upper() in ("GET", "POST"):
        assert response.status_code in (401, 404, 405), response.text

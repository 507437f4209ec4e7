"""Simulated lab PCs and proctors on aiohttp, for the load smoke test and the benchmarks.

A :class:`Pc` is one browser: its own ``aiohttp.ClientSession`` and cookie jar (the Flask
``session`` cookie, later ``cbt_device``), keep-alive connections from a connector shared by the
PCs of one :class:`Lab` (so the lab has one overall connection limit). It walks the participant
pages (login, token, confirmation, the test page and every CSS/JS file it needs, the ES modules
found by following ``import`` statements), loads the attempt from ``GET /api/v1/attempt``, and
then answers through a local queue like the real page (``static/js/exam/queue.js``): every
answer gets the next ``seq``, is queued before it is sent, is sent in order (one request in
flight, up to 50 saves each) and leaves the queue only when the server acknowledges it.

Every request is recorded (:class:`Sample`: kind, status, latency, the ``Server-Timing`` app
duration when the server sends one). Outcomes:

* 2xx/3xx: fine; other 4xx: a refusal (counted by status, never an error);
* 429 and 503 mean "retry later": the request is sent again after ``Retry-After`` seconds and
  counted apart from errors (the answers stay queued meanwhile);
* any other 5xx, a connection failure or a timeout is an ERROR; the PC retries with the page's
  back-off (1, 2, 4 … s, capped), so its answers stay queued.

A save acknowledged with ``saved`` or ``duplicate`` in a 200 goes into the :class:`Ledger`;
:func:`check_ledger` then proves against the database that each one is stored
(``responses.client_seq`` ≥ the acknowledged seq, and the same answer when equal, mapped from
shown indexes to labels through ``attempt_items.option_order``). A save refused with 409
``deadline_passed`` / ``attempt_closed`` goes to ``POST /api/v1/attempt/late-answers`` as the page
does; a 404 there means that server has no such endpoint and the answers are lost.

No pytest here: ``tests/test_load_smoke.py`` and the scripts in ``bench/`` import it. The
seeding helpers at the end import the app lazily, so a client process needs only aiohttp.
"""

from __future__ import annotations

import asyncio
import functools
import html
import json
import math
import random
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

#: statuses that mean "retry later" (with Retry-After), never errors
RETRY_LATER = frozenset({429, 503})
ACKED = frozenset({"saved", "duplicate"})
#: refusals of a save that a real page sends on to the late-answers endpoint
LATE_CODES = frozenset({"deadline_passed", "attempt_closed"})
#: refusals about one save rather than the attempt (the page drops a malformed save and hands a
#: save for a closed section over as a late answer; either way it leaves the queue)
PER_SAVE_CODES = frozenset({"bad_request", "section_closed"})
FINISHED_STATES = frozenset({"submitted", "expired", "voided"})
BATCH = 50
DEFAULT_RETRY_AFTER = 1.0


def outcome(status: int | str) -> str:
    """``ok``, ``retry`` (429/503), ``error`` (other 5xx, connection failure, timeout) or
    ``refused`` (other 4xx)."""
    if isinstance(status, str):
        return "error"
    if status in RETRY_LATER:
        return "retry"
    if status >= 500:
        return "error"
    if status >= 400:
        return "refused"
    return "ok"


def backoff_seconds(failures: int, cap: float, rng: random.Random) -> float:
    """The page's back-off: 1, 2, 4 … s capped, plus up to 20 % jitter."""
    base = min(cap, 2.0 ** max(0, failures - 1))
    return base + rng.random() * base * 0.2


def retry_after_seconds(value: str | None) -> float:
    """``Retry-After`` as seconds (a number or an HTTP date); 1 s when absent or unreadable."""
    if not value:
        return DEFAULT_RETRY_AFTER
    value = value.strip()
    with suppress(ValueError):
        return max(0.0, float(value))
    with suppress(TypeError, ValueError, IndexError):
        moment = parsedate_to_datetime(value)
        return max(0.0, moment.timestamp() - time.time())
    return DEFAULT_RETRY_AFTER


def server_timing_ms(value: str | None, metric: str = "app") -> float | None:
    """The ``dur`` of ``metric`` in a ``Server-Timing`` header (``app;dur=12.3``), if any."""
    if not value:
        return None
    for entry in value.split(","):
        name, *params = (part.strip() for part in entry.split(";"))
        if name != metric:
            continue
        for param in params:
            key, _, number = param.partition("=")
            if key.strip() == "dur":
                with suppress(ValueError):
                    return float(number.strip().strip('"'))
    return None


# ---- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """One request: its kind (``login``, ``save``, ``static`` …), the status (an HTTP status, or
    ``conn`` / ``timeout``), when it started (``time.monotonic()``, comparable between processes
    on Linux), the client-measured latency and the server's own duration when it says so."""

    kind: str
    status: int | str
    started: float
    ms: float
    server_ms: float | None = None

    @property
    def outcome(self) -> str:
        return outcome(self.status)


class Recorder:
    """Every request a group of PCs made, and the exception classes behind ``conn`` errors."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.connection_errors: Counter = Counter()

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def extend(self, samples: Iterable[Sample]) -> None:
        self.samples.extend(samples)


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


@dataclass
class Summary:
    count: int
    ok: int
    p50_ms: float
    p99_ms: float
    server_p50_ms: float | None
    server_p99_ms: float | None
    errors: Counter
    retries: Counter
    refusals: Counter


def summarise(
    samples: Iterable[Sample],
    kinds: Iterable[str] | None = None,
    start: float | None = None,
    end: float | None = None,
) -> Summary:
    """Counts and latency percentiles (of successful requests) of some kinds in a window."""
    wanted = set(kinds) if kinds is not None else None
    chosen = [
        s
        for s in samples
        if (wanted is None or s.kind in wanted)
        and (start is None or s.started >= start)
        and (end is None or s.started < end)
    ]
    ok = [s for s in chosen if s.outcome in ("ok", "refused")]
    timed = [s.server_ms for s in ok if s.server_ms is not None]
    return Summary(
        count=len(chosen),
        ok=sum(1 for s in chosen if s.outcome == "ok"),
        p50_ms=percentile([s.ms for s in ok], 0.5),
        p99_ms=percentile([s.ms for s in ok], 0.99),
        server_p50_ms=percentile(timed, 0.5) if timed else None,
        server_p99_ms=percentile(timed, 0.99) if timed else None,
        errors=Counter(s.status for s in chosen if s.outcome == "error"),
        retries=Counter(s.status for s in chosen if s.outcome == "retry"),
        refusals=Counter(s.status for s in chosen if s.outcome == "refused"),
    )


def format_counts(counts: Counter) -> str:
    """``0`` or ``500×3, conn×1`` (most frequent first)."""
    if not counts:
        return "0"
    return ", ".join(f"{status}×{n}" for status, n in counts.most_common())


@dataclass(frozen=True)
class Ack:
    """A save the server acknowledged (``saved`` or ``duplicate`` in a 200)."""

    username: str
    attempt_id: int
    position: int
    seq: int
    answer: Any
    status: str


@dataclass
class Given:
    """One answer a PC gave, from the moment it was given to what became of it."""

    username: str
    attempt_id: int
    position: int
    seq: int
    answer: Any
    given_at: float
    flagged: bool = False
    #: pending | acked | stale | late_stored | late_unstored | late_missing (404) | late_refused
    #: | dropped
    fate: str = "pending"
    #: when (monotonic) the server acknowledged it (or stored it as a late answer)
    acked_at: float | None = None

    def wire(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "answer": self.answer,
            "flagged": self.flagged,
            "seq": self.seq,
        }


@dataclass
class Ledger:
    """Every acknowledged save, and what the late-answers endpoint said."""

    acks: list[Ack] = field(default_factory=list)
    late_sent: int = 0
    late_stored: int = 0
    late_missing_endpoint: int = 0


# ---- pages ---------------------------------------------------------------------------------


@dataclass
class PageParts:
    """The bits of a page a PC needs: form CSRF token, meta CSRF token, CSS and scripts."""

    form_csrf: str | None = None
    meta_csrf: str | None = None
    styles: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)


#: The four start tags a PC looks at, and their attributes. A scan with two expressions, not an
#: HTML parser: the simulated PCs share the server's two cores in the benchmark, and a parser in
#: pure Python cost them a fifth of their CPU.
_TAG = re.compile(r"<(input|meta|link|script)\b([^>]*)>", re.I)
_ATTR = re.compile(r"""([a-zA-Z_:][-\w:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def parse_page(page: str) -> PageParts:
    parts = PageParts()
    for tag, body in _TAG.findall(page):
        a = {
            name.lower(): html.unescape(double or single or bare)
            for name, double, single, bare in _ATTR.findall(body)
        }
        tag = tag.lower()
        if tag == "input" and a.get("name") == "csrf_token" and parts.form_csrf is None:
            parts.form_csrf = a.get("value")
        elif tag == "meta" and a.get("name") == "csrf-token":
            parts.meta_csrf = a.get("content")
        elif tag == "link" and "stylesheet" in a.get("rel", "").split() and a.get("href"):
            parts.styles.append(a["href"])
        elif tag == "script" and a.get("src"):
            parts.scripts.append(a["src"])
    return parts


_IMPORTS = re.compile(
    r"""\bfrom\s*["']([^"']+)["']|\bimport\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']"""
)


@functools.lru_cache(maxsize=512)
def module_imports(source: str, url: str) -> tuple[str, ...]:
    """Paths of the modules an ES module imports (static, bare-string and dynamic imports);
    remembered per file, as every PC of a process loads the same modules."""
    found = []
    for match in _IMPORTS.finditer(source):
        spec = next(g for g in match.groups() if g)
        found.append(urlsplit(urljoin(url, spec)).path)
    return tuple(found)


def _path(location: str) -> str:
    return urlsplit(location).path


# ---- one PC --------------------------------------------------------------------------------


class Unreached(Exception):
    """The server was not reached or failed (5xx, connection, timeout): retry later."""

    def __init__(self, status: int | str) -> None:
        super().__init__(str(status))
        self.status = status


class FlowError(Exception):
    """The server answered something the flow cannot go on from (a refusal, a wrong page)."""


class OutOfTime(Exception):
    """The PC's time limit passed while it was still retrying."""


@dataclass
class Reply:
    status: int
    body: bytes
    headers: Any
    ms: float
    received: float

    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def error_code(self) -> str | None:
        data = self.json()
        return data.get("error") if isinstance(data, dict) else None


@dataclass
class Clock:
    """A server's ``remaining_seconds`` and when (monotonic) its response arrived."""

    remaining: float
    received: float
    latency: float


class Pc:
    """One lab PC (or a proctor's browser)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        *,
        connector: aiohttp.BaseConnector,
        recorder: Recorder,
        ledger: Ledger,
        rng: random.Random,
        timeout: float = 20.0,
        page_timeout: float = 300.0,
        backoff_cap: float = 30.0,
        stop_at: float = math.inf,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.page_timeout = aiohttp.ClientTimeout(total=page_timeout)
        self.username = username
        self.password = password
        self.recorder = recorder
        self.ledger = ledger
        self.rng = rng
        self.backoff_cap = backoff_cap
        self.stop_at = stop_at
        self.http = aiohttp.ClientSession(
            connector=connector,
            connector_owner=False,
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            timeout=aiohttp.ClientTimeout(total=timeout),
        )
        self.form_csrf: str | None = None
        self.login_assets: set[str] = set()
        self.api_csrf: str | None = None
        self.attempt_id: int | None = None
        self.state: str | None = None
        self.items: dict[int, dict] = {}
        self.open_positions: list[int] = []
        self.current_position = 0
        self.clock: Clock | None = None
        self.seq = 0
        self.queue: list[Given] = []
        self.given: list[Given] = []
        self.failures = 0
        self.retry_at = 0.0
        self.held = False
        self.wake = asyncio.Event()
        self.first_item_seconds: float | None = None

    async def close(self) -> None:
        await self.http.close()

    # -- transport ---------------------------------------------------------------------------

    async def call(
        self,
        kind: str,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        payload: Any | None = None,
        params: dict[str, str] | None = None,
        api: bool = False,
    ) -> Reply:
        """One request (re-sent after Retry-After on 429/503); raises :class:`Unreached` on an
        error outcome and :class:`OutOfTime` when the PC's time is up while it waits.

        API calls time out after ``timeout`` seconds (the page's fetch does, after 20 s); pages
        and their files after ``page_timeout`` (a browser waits for a page for minutes)."""
        headers = {"Accept": "application/json"} if api else {}
        if api and method != "GET":
            headers["X-CSRFToken"] = self.api_csrf or ""
        while True:
            started = time.monotonic()
            status: int | str
            body, reply_headers = b"", None
            try:
                async with self.http.request(
                    method,
                    self.base_url + path,
                    data=form,
                    json=payload,
                    params=params,
                    headers=headers,
                    allow_redirects=False,
                    **({} if api else {"timeout": self.page_timeout}),
                ) as response:
                    body = await response.read()
                    status, reply_headers = response.status, response.headers
            except TimeoutError:
                status = "timeout"
            except (aiohttp.ClientError, OSError) as failed:
                status = "conn"
                self.recorder.connection_errors[type(failed).__name__] += 1
            received = time.monotonic()
            ms = (received - started) * 1000
            timing = server_timing_ms(reply_headers.get("Server-Timing")) if reply_headers else None
            self.recorder.add(Sample(kind, status, started, ms, timing))
            if isinstance(status, int) and status in RETRY_LATER:
                delay = retry_after_seconds(reply_headers.get("Retry-After"))  # type: ignore[union-attr]
                if received + delay > self.stop_at:
                    raise OutOfTime(kind)
                await asyncio.sleep(delay)
                continue
            if outcome(status) == "error":
                raise Unreached(status)
            return Reply(status, body, reply_headers, ms, received)  # type: ignore[arg-type]

    async def retrying(self, step: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``step`` until the server is reached (a person pressing again after an error
        page), with the page's back-off; :class:`OutOfTime` past the PC's time limit."""
        failures = 0
        while True:
            try:
                return await step()
            except Unreached:
                failures += 1
                delay = backoff_seconds(failures, self.backoff_cap, self.rng)
                if time.monotonic() + delay > self.stop_at:
                    raise OutOfTime(self.username) from None
                await asyncio.sleep(delay)

    # -- pages -------------------------------------------------------------------------------

    async def open_login(self) -> None:
        """The login form on screen (its own CSS counts as already loaded)."""

        async def step() -> None:
            page = await self.call("login_page", "GET", "/login")
            if page.status != 200:
                raise FlowError(f"GET /login: HTTP {page.status}")
            parsed = parse_page(page.text())
            self.form_csrf = parsed.form_csrf
            self.login_assets = {_path(u) for u in parsed.styles + parsed.scripts}

        await self.retrying(step)

    async def sign_in(self) -> str:
        """POST the login form; returns where the server sends the PC."""
        if self.form_csrf is None:
            await self.open_login()

        async def step() -> str:
            reply = await self.call(
                "login",
                "POST",
                "/login",
                form={
                    "login": self.username,
                    "password": self.password,
                    "csrf_token": self.form_csrf or "",
                },
            )
            if reply.status != 302:
                raise FlowError(f"{self.username}: POST /login answered HTTP {reply.status}")
            return _path(reply.headers.get("Location", "/"))

        return await self.retrying(step)

    async def _page(self, kind: str, path: str) -> Reply:
        return await self.retrying(lambda: self.call(kind, "GET", path))

    async def _post_form(self, kind: str, path: str, fields: dict[str, str]) -> Reply:
        return await self.retrying(lambda: self.call(kind, "POST", path, form=fields))

    async def start(self, token: str, *, browser: bool = True) -> float:
        """From the login form to the first item on screen: log in, type the token, confirm,
        load the test page (with ``browser``: its CSS and every JS module, the confirmation
        page and the first item's image, as Chromium would), load the attempt. Returns the
        seconds it took; a PC whose attempt is running resumes it without the token."""
        started = time.monotonic()
        await self.sign_in()
        entry = await self._page("exam_page", "/exam/")
        if entry.status == 302 and _path(entry.headers.get("Location", "")) == "/exam/take":
            pass  # resumed: the attempt is bound to this PC again
        elif entry.status == 200:
            csrf = parse_page(entry.text()).form_csrf or ""
            sent = await self._post_form("token", "/exam/", {"token": token, "csrf_token": csrf})
            if sent.status != 302 or _path(sent.headers.get("Location", "")) != "/exam/confirm":
                raise FlowError(f"{self.username}: POST /exam/ answered HTTP {sent.status}")
            if browser:
                confirm = await self._page("confirm_page", "/exam/confirm")
                if confirm.status != 200:
                    raise FlowError(f"{self.username}: GET /exam/confirm: HTTP {confirm.status}")
                csrf = parse_page(confirm.text()).form_csrf or csrf
            begun = await self._post_form("confirm", "/exam/confirm", {"csrf_token": csrf})
            if begun.status != 302 or _path(begun.headers.get("Location", "")) != "/exam/take":
                raise FlowError(f"{self.username}: POST /exam/confirm answered {begun.status}")
        else:
            raise FlowError(f"{self.username}: GET /exam/ answered HTTP {entry.status}")
        if browser:
            take = await self._page("take_page", "/exam/take")
            if take.status != 200:
                raise FlowError(f"{self.username}: GET /exam/take answered HTTP {take.status}")
            parsed = parse_page(take.text())
            self.api_csrf = parsed.meta_csrf
            await self.fetch_assets(parsed.styles, parsed.scripts)
        await self.retrying(self.load_attempt)
        if browser:
            first = self.items.get(self.current_position) or {}
            if first.get("image_url"):
                image = await self._page("media", _path(first["image_url"]))
                if image.status != 200:
                    raise FlowError(f"{self.username}: image answered HTTP {image.status}")
        self.first_item_seconds = time.monotonic() - started
        return self.first_item_seconds

    async def fetch_assets(self, styles: list[str], scripts: list[str]) -> int:
        """Every stylesheet and script of the page and, level by level, every module they
        import; nothing cached except what the login page loaded. Returns the file count."""
        seen = set(self.login_assets)
        level = []
        for url in [*styles, *scripts]:
            path = _path(url)
            if path not in seen:
                seen.add(path)
                level.append(path)
        fetched = 0
        while level:
            replies = await asyncio.gather(*(self._page("static", path) for path in level))
            fetched += len(level)
            following = []
            for path, reply in zip(level, replies, strict=True):
                if reply.status != 200:
                    raise FlowError(f"{self.username}: {path} answered HTTP {reply.status}")
                if path.endswith((".js", ".mjs")):
                    for imported in module_imports(reply.text(), path):
                        if imported not in seen:
                            seen.add(imported)
                            following.append(imported)
            level = following
        return fetched

    # -- the exam API ------------------------------------------------------------------------

    def _timing(self, reply: Reply, data: Any) -> None:
        if not isinstance(data, dict):
            return
        remaining = data.get("remaining_seconds")
        if isinstance(remaining, int | float):
            self.clock = Clock(float(remaining), reply.received, reply.ms / 1000)
        state = data.get("state")
        if isinstance(state, str):
            self.state = state

    @property
    def local_deadline(self) -> float | None:
        """When this PC's countdown reaches 0 (monotonic), from the last server response."""
        if self.clock is None:
            return None
        return self.clock.received + self.clock.remaining

    async def load_attempt(self) -> dict:
        """``GET /api/v1/attempt``: the attempt, its items and the CSRF token for the API."""
        reply = await self.call("attempt", "GET", "/api/v1/attempt", api=True)
        data = reply.json()
        if reply.status != 200 or not isinstance(data, dict) or "attempt" not in data:
            raise FlowError(f"{self.username}: GET /api/v1/attempt answered HTTP {reply.status}")
        self.api_csrf = data.get("csrf_token") or self.api_csrf
        attempt = data["attempt"]
        self.attempt_id = int(attempt["id"])
        self.items = {int(i["position"]): i for i in attempt["items"]}
        open_sections = {s["index"] for s in attempt["sections"] if s.get("state") == "open"}
        self.open_positions = sorted(
            p for p, i in self.items.items() if i.get("section") in open_sections
        )
        self.current_position = int(attempt.get("current_position") or 0)
        # a PC that comes back to its attempt (a new round of the bench) numbers on from the
        # answers the server holds, as the exam page does
        self.seq = max([self.seq] + [int(i.get("seq") or 0) for i in attempt["items"]])
        self._timing(reply, attempt)
        return attempt

    def make_answer(self, item: dict) -> Any:
        if item.get("type") == "short":
            return f"jawaban {self.rng.randrange(10_000)}"
        options = len(item.get("options") or []) or 2
        if item.get("type") == "multiple":
            return sorted(self.rng.sample(range(options), self.rng.randint(1, options)))
        return [self.rng.randrange(options)]

    def answer(self, *, respect_deadline: bool = True) -> Given | None:
        """The participant clicks an option of an item in an open section: queued, sent by
        :meth:`flush`. Nothing once the attempt is over or the PC's countdown is at 0."""
        if self.attempt_id is None or not self.open_positions:
            return None
        if self.state in FINISHED_STATES:
            return None
        deadline = self.local_deadline
        if respect_deadline and deadline is not None and time.monotonic() >= deadline:
            return None
        position = self.rng.choice(self.open_positions)
        self.seq += 1
        given = Given(
            self.username,
            self.attempt_id,
            position,
            self.seq,
            self.make_answer(self.items[position]),
            time.monotonic(),
        )
        self.queue.append(given)
        self.given.append(given)
        self.wake.set()
        return given

    def _defer(self) -> None:
        self.failures += 1
        self.retry_at = time.monotonic() + backoff_seconds(
            self.failures, self.backoff_cap, self.rng
        )

    async def flush(self) -> bool:
        """Send the queue in order (≤ 50 saves a request); True when it is empty. On an error the
        answers stay queued and ``retry_at`` is set by the back-off."""
        single = False
        while self.queue and not self.held:
            batch = self.queue[: 1 if single else BATCH]
            try:
                reply = await self.call(
                    "save",
                    "POST",
                    "/api/v1/attempt/answers",
                    payload={"saves": [g.wire() for g in batch]},
                    api=True,
                )
            except Unreached:
                self._defer()
                return False
            except OutOfTime:
                return False
            data = reply.json()
            if reply.status == 200 and isinstance(data, dict):
                self._timing(reply, data)
                if not self._acknowledge(batch, data.get("acks")):
                    self._defer()
                    return False
                self.failures = 0
                continue
            code = reply.error_code()
            if reply.status == 409 and code in LATE_CODES:
                if not await self._send_late(batch):
                    return False
                continue
            if code in PER_SAVE_CODES:
                if len(batch) > 1:
                    single = True
                    continue
                batch[0].fate = "dropped"
                self.queue.remove(batch[0])
                continue
            if code == "csrf":
                with suppress(Unreached, OutOfTime, FlowError):
                    await self.load_attempt()
            self._defer()
            return False
        return not self.queue

    def _acknowledge(self, batch: list[Given], acks: Any) -> int:
        if not isinstance(acks, list):
            return 0
        done = set()
        for n, given in enumerate(batch):
            ack = acks[n] if n < len(acks) else None
            if not isinstance(ack, dict) or ack.get("position") != given.position:
                ack = next(
                    (
                        a
                        for a in acks
                        if isinstance(a, dict) and a.get("position") == given.position
                    ),
                    None,
                )
            if ack is None:
                continue
            status = ack.get("status")
            if status in ACKED:
                given.fate = "acked"
                given.acked_at = time.monotonic()
                self.ledger.acks.append(
                    Ack(
                        self.username,
                        given.attempt_id,
                        given.position,
                        given.seq,
                        given.answer,
                        status,
                    )
                )
                done.add(given.seq)
            elif status == "stale":
                given.fate = "stale"
                self.seq = max(self.seq, int(ack.get("seq") or 0))
                done.add(given.seq)
        self.queue = [g for g in self.queue if g.seq not in done]
        return len(done)

    async def _send_late(self, batch: list[Given]) -> bool:
        """Answers the server refused as past the deadline: to the late-answers endpoint, as
        the page does. False when it could not be reached (they stay queued)."""
        now = time.monotonic()
        saves = [g.wire() | {"age_ms": int((now - g.given_at) * 1000)} for g in batch]
        try:
            reply = await self.call(
                "late", "POST", "/api/v1/attempt/late-answers", payload={"saves": saves}, api=True
            )
        except Unreached:
            self._defer()
            return False
        except OutOfTime:
            return False
        self.ledger.late_sent += len(batch)
        data = reply.json()
        if reply.status == 200 and isinstance(data, dict):
            # "duplicates": sent before (a retry whose answer was lost) and kept then
            stored = int(data.get("stored") or 0) + int(data.get("duplicates") or 0)
            self.ledger.late_stored += min(stored, len(batch))
            for n, given in enumerate(batch):
                given.fate = "late_stored" if n < stored else "late_unstored"
                if n < stored:
                    given.acked_at = time.monotonic()
        else:
            fate = "late_missing" if reply.status == 404 else "late_refused"
            if reply.status == 404:
                self.ledger.late_missing_endpoint += len(batch)
            for given in batch:
                given.fate = fate
        sent = {g.seq for g in batch}
        self.queue = [g for g in self.queue if g.seq not in sent]
        return True

    async def heartbeat(self) -> None:
        """``POST …/heartbeat`` with the current position (a failure is only recorded)."""
        with suppress(Unreached, OutOfTime):
            reply = await self.call(
                "heartbeat",
                "POST",
                "/api/v1/attempt/heartbeat",
                payload={"position": self.current_position},
                api=True,
            )
            if reply.status == 200:
                self._timing(reply, reply.json())

    async def resume_check(
        self, tolerance: float = 2.0, baseline: tuple[int | None, Clock | None] | None = None
    ) -> ResumeCheck:
        """Reload the attempt (as a page reload would) and compare it with what this PC had
        (``baseline``: its attempt id and clock at some earlier moment, e.g. before a fault;
        by default the last response): the same attempt id, and ``remaining_seconds`` that went
        down by the time that passed on this PC's monotonic clock (within ``tolerance`` seconds
        plus both responses' latencies)."""
        before_id, before = baseline or (self.attempt_id, self.clock)
        await self.retrying(self.load_attempt)
        after = self.clock
        if before is None or after is None:
            return ResumeCheck(self.username, before_id, self.attempt_id, None, None, False)
        expected = max(0.0, before.remaining - (after.received - before.received))
        delta = after.remaining - expected
        allowed = tolerance + before.latency + after.latency
        return ResumeCheck(
            self.username,
            before_id,
            self.attempt_id,
            delta,
            allowed,
            before_id == self.attempt_id and abs(delta) <= allowed,
        )


@dataclass(frozen=True)
class ResumeCheck:
    username: str
    attempt_before: int | None
    attempt_after: int | None
    delta_seconds: float | None  # remaining after − (remaining before − elapsed)
    allowed_seconds: float | None
    ok: bool  # same attempt and |delta| within the allowance

    @property
    def time_left(self) -> str:
        """``as expected``, ``more`` (time given back) or ``less`` (time lost), or ``unknown``."""
        if self.delta_seconds is None or self.allowed_seconds is None:
            return "unknown"
        if abs(self.delta_seconds) <= self.allowed_seconds:
            return "as expected"
        return "more" if self.delta_seconds > 0 else "less"


# ---- what a PC does over time ----------------------------------------------------------------


async def _sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


async def keep_flushing(pc: Pc, until: float) -> None:
    """The page's send loop: flush when answers are queued and no back-off is running."""
    while True:
        now = time.monotonic()
        if now >= until:
            return
        if pc.queue and not pc.held and now >= pc.retry_at:
            await pc.flush()
            continue
        wake_at = min(until, pc.retry_at) if pc.queue and not pc.held else until
        pc.wake.clear()
        with suppress(TimeoutError):
            await asyncio.wait_for(pc.wake.wait(), max(0.0, wake_at - now))


async def keep_answering(pc: Pc, until: float, every: tuple[float, float]) -> None:
    """A participant answering an item every ``every`` seconds (uniformly random)."""
    while True:
        moment = time.monotonic() + pc.rng.uniform(*every)
        if moment >= until:
            return
        await _sleep_until(moment)
        pc.answer()


async def keep_beating(pc: Pc, until: float, every: float) -> None:
    """The heartbeat every ``every`` seconds, starting at a random phase."""
    moment = time.monotonic() + pc.rng.uniform(0, every)
    while moment < until:
        await _sleep_until(moment)
        await pc.heartbeat()
        moment += every


async def paced(
    pc: Pc, until: float, every: tuple[float, float], heartbeat_every: float | None
) -> None:
    """Answer, send and beat like a person at a real page until ``until``."""
    tasks = [keep_answering(pc, until, every), keep_flushing(pc, until)]
    if heartbeat_every:
        tasks.append(keep_beating(pc, until, heartbeat_every))
    await asyncio.gather(*tasks)


async def hammer(pc: Pc, until: float) -> None:
    """Save as fast as the server answers: one answer, one request, again."""
    while time.monotonic() < until:
        if pc.answer(respect_deadline=False) is None:
            return
        if not await pc.flush():
            await _sleep_until(min(until, pc.retry_at))


async def drain(pc: Pc, until: float) -> bool:
    """Send what is still queued (respecting the back-off) until ``until``; True if empty."""
    while pc.queue and time.monotonic() < until:
        if pc.held:
            return False
        await _sleep_until(min(until, pc.retry_at))
        if time.monotonic() >= until:
            break
        await pc.flush()
    return not pc.queue


# ---- a lab of PCs -----------------------------------------------------------------------------


@dataclass
class LabResult:
    """What one client process brings back (picklable, merged across processes)."""

    samples: list[Sample] = field(default_factory=list)
    ledger: Ledger = field(default_factory=Ledger)
    given: list[Given] = field(default_factory=list)
    first_item_seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    queued_at_end: int = 0
    connection_errors: Counter = field(default_factory=Counter)
    notes: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: LabResult) -> None:
        self.samples.extend(other.samples)
        self.connection_errors.update(other.connection_errors)
        self.ledger.acks.extend(other.ledger.acks)
        self.ledger.late_sent += other.ledger.late_sent
        self.ledger.late_stored += other.ledger.late_stored
        self.ledger.late_missing_endpoint += other.ledger.late_missing_endpoint
        self.given.extend(other.given)
        self.first_item_seconds.extend(other.first_item_seconds)
        self.failures.extend(other.failures)
        self.queued_at_end += other.queued_at_end
        for key, value in other.notes.items():
            mine = self.notes.get(key)
            if isinstance(value, int | float) and isinstance(mine, int | float):
                # durations run side by side (the longest counts); counts add up
                self.notes[key] = max(mine, value) if key.endswith("seconds") else mine + value
            else:
                self.notes.setdefault(key, value)


class Lab:
    """The PCs of one client process, sharing one connector (``limit`` connections at most)."""

    def __init__(
        self,
        base_url: str,
        accounts: Sequence[tuple[str, str]],
        *,
        limit: int = 1000,
        timeout: float = 20.0,
        page_timeout: float = 300.0,
        keepalive: float = 1.0,
        backoff_cap: float = 30.0,
        seed: int = 1,
        stop_at: float = math.inf,
        local_addr: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.accounts = list(accounts)
        #: the PCs' source address (e.g. 127.0.0.2: loopback but not the server's exemption)
        self.local_addr = local_addr
        self.limit = limit
        self.timeout = timeout
        self.page_timeout = page_timeout
        # Below gunicorn's 2 s keep-alive, so the client never reuses a connection the server is
        # closing (a browser would silently resend such a request; this client counts an error).
        self.keepalive = keepalive
        self.backoff_cap = backoff_cap
        self.seed = seed
        self.stop_at = stop_at
        self.recorder = Recorder()
        self.ledger = Ledger()
        self.pcs: list[Pc] = []
        self.connector: aiohttp.TCPConnector | None = None
        self.failures: list[str] = []

    async def __aenter__(self) -> Lab:
        self.connector = aiohttp.TCPConnector(
            limit=self.limit,
            limit_per_host=0,
            keepalive_timeout=self.keepalive,
            local_addr=(self.local_addr, 0) if self.local_addr else None,
        )
        self.pcs = [self.pc(u, p, n) for n, (u, p) in enumerate(self.accounts)]
        return self

    def pc(self, username: str, password: str, n: int = 0) -> Pc:
        assert self.connector is not None, "use the lab as an async context manager"
        return Pc(
            self.base_url,
            username,
            password,
            connector=self.connector,
            recorder=self.recorder,
            ledger=self.ledger,
            rng=random.Random(f"{self.seed}-{username}-{n}"),
            timeout=self.timeout,
            page_timeout=self.page_timeout,
            backoff_cap=self.backoff_cap,
            stop_at=self.stop_at,
        )

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.gather(*(pc.close() for pc in self.pcs), return_exceptions=True)
        if self.connector is not None:
            await self.connector.close()

    async def each(
        self, work: Callable[[Pc], Awaitable[Any]], concurrency: int | None = None
    ) -> list[Any]:
        """``work`` on every PC at once (or ``concurrency`` at a time); a PC whose flow fails is
        noted in ``failures`` and yields None."""
        gate = asyncio.Semaphore(concurrency) if concurrency else None

        async def one(pc: Pc) -> Any:
            try:
                if gate is None:
                    return await work(pc)
                async with gate:
                    return await work(pc)
            except (FlowError, OutOfTime) as failed:
                self.failures.append(f"{pc.username}: {type(failed).__name__}: {failed}")
                return None

        return await asyncio.gather(*(one(pc) for pc in self.pcs))

    async def sit_at_login(self, concurrency: int = 50) -> None:
        """Every PC shows the login form (before the release; not part of a stampede)."""
        await self.each(lambda pc: pc.open_login(), concurrency)

    async def stampede(self, token: str, *, browser: bool = True) -> list[float | None]:
        """Every PC at once from the login form to its first item; seconds per PC."""
        return await self.each(lambda pc: pc.start(token, browser=browser))

    async def start_all(self, token: str, concurrency: int = 50) -> None:
        """Bring every PC into its attempt (API-only flow, ``concurrency`` at a time)."""
        await self.each(lambda pc: pc.start(token, browser=False), concurrency)

    @property
    def started(self) -> list[Pc]:
        return [pc for pc in self.pcs if pc.attempt_id is not None]

    async def paced(
        self, until: float, every: tuple[float, float], heartbeat_every: float | None
    ) -> None:
        await asyncio.gather(*(paced(pc, until, every, heartbeat_every) for pc in self.started))

    async def hammer(self, until: float) -> None:
        await asyncio.gather(*(hammer(pc, until) for pc in self.started))

    async def drain(self, until: float) -> bool:
        done = await asyncio.gather(*(drain(pc, until) for pc in self.started))
        return all(done)

    def result(self) -> LabResult:
        return LabResult(
            samples=list(self.recorder.samples),
            ledger=self.ledger,
            given=[g for pc in self.pcs for g in pc.given],
            first_item_seconds=[
                pc.first_item_seconds for pc in self.pcs if pc.first_item_seconds is not None
            ],
            failures=list(self.failures),
            queued_at_end=sum(len(pc.queue) for pc in self.pcs),
            connection_errors=Counter(self.recorder.connection_errors),
        )


# ---- the proctor's monitor ----------------------------------------------------------------


async def watch_monitor(
    proctor: Pc, session_id: int, until: float, every: float = 5.0
) -> list[Sample]:
    """A proctor's monitor page: a full ``monitor.json`` at once, then ``?since=`` the previous
    response's ``server_time`` every ``every`` seconds. Returns the refresh samples (kinds
    ``monitor_full`` and ``monitor_since``); a proctor who has not logged in does so first."""
    if proctor.form_csrf is None:
        await proctor.sign_in()
    path = f"/proctor/sessions/{session_id}/monitor.json"
    since: str | None = None
    first = len(proctor.recorder.samples)
    moment = time.monotonic()
    while moment < until:
        await _sleep_until(moment)
        kind = "monitor_since" if since else "monitor_full"
        params = {"since": since} if since else None
        with suppress(Unreached, OutOfTime):
            reply = await proctor.call(kind, "GET", path, params=params)
            data = reply.json()
            if reply.status == 200 and isinstance(data, dict):
                since = data.get("server_time") or since
        moment += every
    return [s for s in proctor.recorder.samples[first:] if s.kind.startswith("monitor")]


# ---- the ledger against the database ----------------------------------------------------------


@dataclass
class LedgerCheck:
    acknowledged: int
    attempts: int
    #: acknowledged saves whose item holds an older seq (or no row): the answer was lost
    missing: list[Ack] = field(default_factory=list)
    #: acknowledged saves stored with their seq but another answer
    mismatched: list[tuple[Ack, Any]] = field(default_factory=list)


def engine_url(database_url: str) -> str:
    """``postgresql://`` → the psycopg 3 driver the app ships (as the app does)."""
    for prefix in ("postgres://", "postgresql://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def canonical(answer: Any, option_order: Sequence[str]) -> Any:
    """Shown-option indexes → the stored form: sorted labels, text, or None for blank."""
    if answer is None:
        return None
    if isinstance(answer, str):
        return answer if answer.strip() else None
    if not answer:
        return None
    return sorted(option_order[i] for i in answer)


def stored_responses(
    database_url: str, attempt_ids: Iterable[int]
) -> dict[tuple[int, int], tuple[int, Any, list]]:
    """(attempt, position) → (client_seq, stored answer, option order) for those attempts."""
    import sqlalchemy as sa

    responses = sa.table(
        "responses",
        sa.column("attempt_id", sa.Integer),
        sa.column("position", sa.Integer),
        sa.column("answer", sa.JSON),
        sa.column("client_seq", sa.Integer),
    )
    frozen = sa.table(
        "attempt_items",
        sa.column("attempt_id", sa.Integer),
        sa.column("position", sa.Integer),
        sa.column("option_order", sa.JSON),
    )
    ids = sorted(set(attempt_ids))
    found: dict[tuple[int, int], tuple[int, Any, list]] = {}
    engine = sa.create_engine(engine_url(database_url))
    try:
        with engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = conn.execute(
                    sa.select(
                        responses.c.attempt_id,
                        responses.c.position,
                        responses.c.client_seq,
                        responses.c.answer,
                        frozen.c.option_order,
                    )
                    .select_from(responses)
                    .join(
                        frozen,
                        (frozen.c.attempt_id == responses.c.attempt_id)
                        & (frozen.c.position == responses.c.position),
                    )
                    .where(responses.c.attempt_id.in_(chunk))
                )
                for attempt_id, position, seq, answer, order in rows:
                    if isinstance(order, str):
                        order = json.loads(order)
                    found[(attempt_id, position)] = (int(seq or 0), answer, list(order or []))
    finally:
        engine.dispose()
    return found


def check_ledger(database_url: str, acks: Sequence[Ack]) -> LedgerCheck:
    """Every acknowledged save must be in ``responses``: its ``client_seq`` at least the acked
    seq, and when equal, the acked answer (indexes mapped to labels by ``option_order``)."""
    stored = stored_responses(database_url, (a.attempt_id for a in acks))
    check = LedgerCheck(len(acks), len({a.attempt_id for a in acks}))
    for ack in acks:
        row = stored.get((ack.attempt_id, ack.position))
        if row is None or row[0] < ack.seq:
            check.missing.append(ack)
            continue
        seq, answer, order = row
        if seq == ack.seq and canonical(ack.answer, order) != answer:
            check.mismatched.append((ack, answer))
    return check


# ---- seeding a lab (bulk, through the app's models) ----------------------------------------


@dataclass
class Roster:
    session_id: int
    token: str
    participants: list[tuple[str, str]]
    proctor: tuple[str, str]


def password_hash_of(password: str, role: str = "participant") -> str:
    """The app's own hash of ``password`` for a user of ``role`` (``User.set_password`` on one
    object, in an app context: the hash may depend on the role and the app's secret), to reuse
    for every seeded account of that role: hashing once instead of once per row keeps seeding
    fast."""
    from cbt_server.models import User

    user = User(role=role)
    user.set_password(password)
    return user.password_hash


def seed_lab(
    app: Any,
    *,
    battery: str,
    participants: int,
    code: str,
    token: str = "LOAD77",
    password: str = "sandi-lab",
    password_hash: str | None = None,
    hours: float = 4.0,
) -> Roster:
    """A session of ``battery`` open now (started 5 minutes ago, ending ``hours`` ahead, the
    token never rotating) with ``participants`` new participants ``<code>-p00001`` … on seats
    and one proctor, bulk-inserted in one transaction. Every participant has ``password``
    (hashed once by the app unless ``password_hash`` is given); so has the proctor (hashed by
    the app as staff)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert, select

    from cbt_server.models import BatteryVersion, Enrolment, ExamSession, SessionProctor, User, db

    at = datetime.now(UTC)
    prefix = code.lower()
    with app.app_context():
        hashed = password_hash or password_hash_of(password)
        version = db.session.scalars(
            select(BatteryVersion)
            .where(BatteryVersion.code == battery)
            .order_by(BatteryVersion.id.desc())
        ).first()
        if version is None:
            raise LookupError(f"import the battery {battery} first")
        session = ExamSession(
            code=code,
            name=f"Sesi {code}",
            battery_version_id=version.id,
            room="Lab beban",
            starts_at=at - timedelta(minutes=5),
            ends_at=at + timedelta(hours=hours),
            token=token,
            token_rotate_minutes=0,
            token_rotated_at=at - timedelta(minutes=5),
            created_at=at - timedelta(minutes=10),
        )
        db.session.add(session)
        db.session.flush()
        names = [f"{prefix}-p{n:05d}" for n in range(1, participants + 1)]
        user_ids = list(
            db.session.scalars(
                insert(User).returning(User.id, sort_by_parameter_order=True),
                [
                    {"username": name, "password_hash": hashed, "role": "participant"}
                    | {"full_name": f"Peserta {name}", "unit": "Unit Beban", "created_at": at}
                    for name in names
                ],
            )
        )
        if user_ids:
            db.session.execute(
                insert(Enrolment),
                [
                    {"session_id": session.id, "user_id": uid, "seat": f"PC-{n + 1:05d}"}
                    for n, uid in enumerate(user_ids)
                ],
            )
        proctor = (f"{prefix}-pengawas", password)
        proctor_id = db.session.execute(
            insert(User)
            .values(
                username=proctor[0],
                password_hash=password_hash_of(password, "proctor"),
                role="proctor",
                full_name=f"Pengawas {code}",
                created_at=at,
            )
            .returning(User.id)
        ).scalar_one()
        db.session.execute(
            insert(SessionProctor), [{"session_id": session.id, "user_id": proctor_id}]
        )
        db.session.commit()
        roster = Roster(session.id, token, [(name, password) for name in names], proctor)
        db.session.remove()
    return roster


@dataclass
class ServedLab:
    """A real server with a seated lab: its URL, database, environment (for ``flask``
    commands against the same instance), roster and gunicorn's log."""

    url: str
    database_url: str
    env: dict[str, str]
    roster: Roster
    log: Path


@contextmanager
def served_lab(
    kind: str,
    folder: Path,
    postgres_url: str | None,
    *,
    participants: int,
    code: str,
    secret: str,
    workers: int = 3,
    **settings: str,
) -> Iterator[ServedLab]:
    """gunicorn (``tests/live.py``) on a fresh, migrated ``kind`` database holding the generated
    battery (``bench/generated_bank.py``) and a session of ``participants`` (:func:`seed_lab`),
    with ``settings`` as ``CBT_*`` environment; everything under ``folder``."""
    from bench.generated_bank import write_bank_folder
    from cbt_server import create_app
    from cbt_server.models import db
    from tests.live import flask_command, fresh_database, gunicorn, server_env

    instance = folder / "instance"
    instance.mkdir()
    with fresh_database(kind, instance, postgres_url) as database_url:
        env = server_env(instance, database_url, secret, **settings)
        flask_command(env, "db", "upgrade")
        battery = write_bank_folder(folder / "qb")
        flask_command(env, "banks", "import", str(folder / "qb"))
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_url,
                "INSTANCE_PATH": instance,
                "SECRET_KEY": secret,
            }
        )
        roster = seed_lab(app, battery=battery, participants=participants, code=code)
        with app.app_context():
            db.engine.dispose()
        log = folder / "gunicorn.log"
        with gunicorn(env, log, workers=workers) as url:
            yield ServedLab(url, database_url, env, roster, log)

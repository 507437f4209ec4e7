"""Network traffic of one full 50-item attempt, in a real browser and through the bare API.

    .venv-test/bin/python bench/bench_attempt_traffic.py [--items 50] [--har traffic.har]

Starts a real gunicorn on 127.0.0.1 over a temporary, migrated SQLite database with a generated
bank and battery (``bench/generated_bank.py``) and a session of two participants, then:

1. **Browser**: headless Debian Chromium (Playwright, ``/usr/bin/chromium``) logs in, types the
   token, confirms, answers every item with one click (waiting for the save's acknowledgement, as
   a person would be slower than that), moves on with "Berikutnya" (and "Selesaikan bagian ini"
   at the end of the first of the two sections), submits and shows the finish page. Every
   request is recorded with its wire sizes (``Request.sizes()``: request headers and body,
   response headers and body as transferred).
2. **API only**: the minimum a kiosk client needs (docs/exam-api.md): the login, token and start
   forms, ``GET /api/v1/attempt`` (again after the section finish: a section's items come once
   it is open), every distinct image once, one ``POST …/answers`` per answer, the section
   finish and the submit; counted byte for byte on the socket.

Both print request count and bytes split by kind: page HTML (documents and form posts, including
redirects), static JS/CSS, API calls and media; then per endpoint, by HTTP status, what gzip
would make of the (uncompressed) bodies, and what the 15-second heartbeat adds to a 90-minute
attempt (the benchmark clicks in seconds, so its own run holds no heartbeat).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT, ROOT / "bench"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from live_server import live_server, make_lab  # noqa: E402
from wire_client import Exchange, KioskClient  # noqa: E402

from tests.live import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

KINDS = ("page", "static", "api", "media", "other")
TIMEOUT = 15_000
TOKEN = "BENCH7"
_CSRF = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


# ---- the measurements -----------------------------------------------------------------------


def endpoint(path: str) -> str:
    return re.sub(r"/[0-9a-f]{64}$", "/<sha256>", path.split("?")[0])


def print_table(title: str, exchanges: list[Exchange]) -> None:
    print(f"\n{title}")
    print(
        f"  {'kind':<8}{'requests':>9}{'req hdr':>10}{'req body':>10}{'resp hdr':>10}"
        f"{'resp body':>11}{'total':>10}"
    )
    rows = [(k, [e for e in exchanges if e.kind == k]) for k in KINDS]
    for kind, group in [*rows, ("all", exchanges)]:
        if not group:
            continue
        print(
            f"  {kind:<8}{len(group):>9}{sum(e.request_headers for e in group):>10}"
            f"{sum(e.request_body for e in group):>10}{sum(e.response_headers for e in group):>10}"
            f"{sum(e.response_body for e in group):>11}{sum(e.total for e in group):>10}"
        )


def print_details(exchanges: list[Exchange]) -> None:
    per_endpoint: dict[tuple[str, str], list[Exchange]] = defaultdict(list)
    for e in exchanges:
        per_endpoint[(e.method, endpoint(e.path))].append(e)
    print("  per endpoint (requests, total bytes, bytes per request):")
    for (method, path), group in sorted(
        per_endpoint.items(), key=lambda kv: -sum(e.total for e in kv[1])
    ):
        total = sum(e.total for e in group)
        print(f"    {method:<5}{path:<42}{len(group):>4}{total:>9}{total // len(group):>8}")
    statuses = Counter(e.status for e in exchanges)
    print("  by status: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    for kind in ("page", "static", "api"):
        measured = [e for e in exchanges if e.kind == kind and e.gzip_body is not None]
        if measured:
            raw = sum(e.response_body for e in measured)
            packed = sum(e.gzip_body or 0 for e in measured)
            print(
                f"  {kind} response bodies: {raw} B as sent, {packed} B with gzip "
                f"({packed / max(raw, 1):.0%})"
            )


# ---- 1. the browser -------------------------------------------------------------------------


def browser_attempt(
    url: str, username: str, password: str, items: int, har: str | None
) -> tuple[list[Exchange], float]:
    """One whole attempt in headless Chromium; every request with its wire sizes."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1366, "height": 768}, record_har_path=har)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        finished: list[Exchange] = []
        page.on("requestfinished", lambda request: finished.append(_measured(request)))
        started = time.perf_counter()

        page.goto(f"{url}/login")
        page.fill("#login", username)
        page.fill("#password", password)
        page.get_by_role("button", name="Masuk").click()
        page.fill("#token", TOKEN)
        page.get_by_role("button", name="Lanjut").click()
        page.get_by_test_id("btn-start").click()
        expect(page.locator("body")).to_have_attribute("data-ready", "1")
        body = page.locator("body")
        page.get_by_test_id("btn-start-section").click()  # the first section's instructions
        for position in range(items):
            expect(page.get_by_test_id(f"nav-{position}")).to_have_class(re.compile(r"\bcurrent\b"))
            page.get_by_test_id("option-0").click()
            expect(body).to_have_attribute("data-queue-length", "0")
            if position == items - 1:
                break
            if page.get_by_test_id("btn-next").is_enabled():
                page.get_by_test_id("btn-next").click()
            else:  # the last item of a section: close it, the next one opens
                page.get_by_test_id("btn-finish-section").click()
                page.get_by_test_id("btn-confirm-finish-section").click()
                page.get_by_test_id("btn-start-section").click()
        page.get_by_test_id("btn-review").click()
        page.get_by_test_id("btn-submit").click()
        page.get_by_test_id("btn-confirm-submit").click()
        expect(page.get_by_test_id("finish")).to_be_visible()
        page.wait_for_load_state("networkidle")
        elapsed = time.perf_counter() - started
        exchanges = finished
        context.close()
        browser.close()
    return exchanges, elapsed


def _measured(request: Any) -> Exchange:
    sizes = request.sizes()
    response = request.response()
    status = response.status if response else 0
    packed = None
    if response is not None and status == 200:
        try:  # read now: the browser drops a body once its page is navigated away from
            packed = len(gzip.compress(response.body(), 6))
        except Exception:
            packed = None
    return Exchange(
        method=request.method,
        path=urlsplit(request.url).path,
        status=status,
        request_headers=sizes["requestHeadersSize"],
        request_body=sizes["requestBodySize"],
        response_headers=sizes["responseHeadersSize"],
        response_body=sizes["responseBodySize"],
        gzip_body=packed,
    )


# ---- 2. the API only ------------------------------------------------------------------------


def _csrf(html: bytes) -> str:
    match = _CSRF.search(html.decode())
    if not match:
        raise RuntimeError("no CSRF token in the page")
    return match.group(1) or match.group(2)


def api_attempt(url: str, username: str, password: str) -> tuple[list[Exchange], Exchange]:
    """The fewest requests that take a whole attempt without the pages' scripts."""
    client = KioskClient(url)
    _, page = client.request("GET", "/login")
    if (
        client.form("/login", {"login": username, "password": password, "csrf_token": _csrf(page)})
        != 302
    ):
        raise RuntimeError("login refused")
    _, page = client.request("GET", "/exam/")  # login starts a new session: a new CSRF token
    csrf = _csrf(page)
    if client.form("/exam/", {"token": TOKEN, "csrf_token": csrf}) != 302:
        raise RuntimeError("token refused")
    if client.form("/exam/confirm", {"csrf_token": csrf}) != 302:
        raise RuntimeError("start refused")
    status, data = client.request("GET", "/api/v1/attempt", headers={"Accept": "application/json"})
    if status != 200:
        raise RuntimeError(f"GET /api/v1/attempt: {status}")
    attempt = json.loads(data)["attempt"]
    seq, shown = 0, set()
    # Sections run one after another, and a section's items come once it is open: finish it,
    # then fetch the attempt again (docs/exam-api.md).
    for section in attempt["sections"]:
        if section["index"] > 0:
            client.api(f"/sections/{section['index'] - 1}/finish", {}, csrf)
            _, data = client.request(
                "GET", "/api/v1/attempt", headers={"Accept": "application/json"}
            )
            attempt = json.loads(data)["attempt"]
        for item in attempt["items"]:
            if item["section"] != section["index"]:
                continue
            if item.get("image_url") and item["image_url"] not in shown:
                shown.add(item["image_url"])
                client.request("GET", item["image_url"])
            seq += 1
            save = {"position": item["position"], "answer": [0], "flagged": False, "seq": seq}
            client.api("/answers", {"saves": [save]}, csrf)
    client.api("/heartbeat", {"position": seq - 1}, csrf)
    heartbeat = client.exchanges.pop()  # not part of the minimum; kept for its size
    client.api("/submit", {}, csrf)
    return client.exchanges, heartbeat


def print_heartbeat_cost(exchanges: list[Exchange], path: str, minutes: int = 90) -> None:
    """What the 15-second heartbeat adds over a whole attempt (it depends on time, not clicks)."""
    sample = [e.total for e in exchanges if e.path == path]
    if sample:
        each = sum(sample) / len(sample)
        beats = minutes * 60 // 15
        print(
            f"  heartbeat: ~{each:.0f} B per request (measured on {path}); a {minutes}-minute "
            f"attempt sends {beats} of them = {each * beats / 1024:.0f} KiB more"
        )


# ---- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50, help="items in the battery (even)")
    parser.add_argument("--har", help="also write the browser's HAR to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cbt-traffic-") as tmp:
        work = Path(tmp)
        with live_server(work, args.items) as (url, env):
            (browser_user, browser_pw), (kiosk_user, kiosk_pw) = make_lab(env, "BAT-BENCH", TOKEN)
            exchanges, elapsed = browser_attempt(
                url, browser_user, browser_pw, args.items, args.har
            )
            print(
                f"Browser: one {args.items}-item attempt in headless Chromium "
                f"({elapsed:.1f} s wall time; heartbeats every 15 s add to it)"
            )
            print_table("bytes on the wire, by kind", exchanges)
            print_details(exchanges)
            print_heartbeat_cost(exchanges, "/api/v1/attempt/position")
            kiosk, heartbeat = api_attempt(url, kiosk_user, kiosk_pw)
            print(f"\nAPI only: the same attempt driven through /api/v1 ({len(kiosk)} requests)")
            print_table("bytes on the wire, by kind", kiosk)
            print_details(kiosk)
            print_heartbeat_cost([heartbeat], heartbeat.path)


if __name__ == "__main__":
    main()

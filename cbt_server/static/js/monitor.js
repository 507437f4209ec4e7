// Proctor's live monitor: polls the server every few seconds (incrementally with ?since=),
// patches the table in place (rows are kept, so a checkbox being clicked or a focused control is
// not replaced under the proctor's hand), and sends interventions. Plain JS, served locally.
const root = document.getElementById("monitor-root");
const strings = JSON.parse(document.getElementById("monitor-strings").textContent);
const form = document.getElementById("act-form");
const csrf = form.querySelector("input[name=csrf_token]").value;
const tbody = document.getElementById("seats");
const result = document.getElementById("act-result");
const seats = new Map();          // enrolment_id -> {seat, at, seenAt}: performance.now() on receipt
const rows = new Map();           // enrolment_id -> {tr, box, cells}
const selected = new Set();
let since = null;
let lastFull = 0;
let sortKey = "seat";
let sortDir = 1;
let pollTimer = null;
let polling = false;
let pollAgain = false;
let tokenRotatesAt = null;        // performance.now() when the token rotates
const POLL_MS = 3000;
const FULL_EVERY_MS = 30000;
// An incremental refresh asks for changes since a moment a little before the last answer's
// server time: a save stamped just before that moment but committed just after the monitor read
// would otherwise be missed until the next full refresh.
const SINCE_OVERLAP_MS = 10000;
// The server stamps "last seen" at most every 20 s and heartbeats come every 15 s: a seat is
// disconnected after 45 s of silence (cbt_server/delivery/presence.py).
const DISCONNECTED_AFTER_S = 45;
const COLUMNS = ["seat", "name", "status", "answered", "flagged", "remaining", "last-seen", "ip",
                 "focus", "reloads"];

function fmtSeconds(s) {
  if (s === null || s === undefined) return strings.never;
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
}

/** Seconds since this seat's data arrived: its timings were measured then. */
function age(entry) { return (performance.now() - entry.at) / 1000; }

function lastSeen(entry) {
  const s = entry.seat.last_seen_seconds;
  const since = entry.seenAt === undefined ? entry.at : entry.seenAt;
  return s === null || s === undefined ? null : s + (performance.now() - since) / 1000;
}

function remaining(entry) {
  const s = entry.seat.remaining_seconds;
  if (s === null || s === undefined) return null;
  return entry.seat.status === "in_progress" ? s - age(entry) : s;
}

function effectiveStatus(entry) {
  const seen = lastSeen(entry);
  if (entry.seat.status === "in_progress" && (seen === null || seen > DISCONNECTED_AFTER_S)) {
    return "disconnected";
  }
  return entry.seat.status;
}

function sortValue(entry, key) {
  const seat = entry.seat;
  if (key === "focus") return seat.events.focus_lost || 0;
  if (key === "reloads") return seat.events.reload || 0;
  if (key === "status") return effectiveStatus(entry);
  const v = seat[key];
  return v === null || v === undefined ? "" : v;
}

function label(seat) {
  const number = seat.participant_number || seat.nip;
  return number ? `${seat.name} (${number})` : seat.name;
}

function createRow(id) {
  const tr = document.createElement("tr");
  tr.dataset.enrolment = id;
  const box = document.createElement("input");
  box.type = "checkbox";
  box.dataset.testid = "select";
  box.addEventListener("change", () => {
    if (box.checked) selected.add(id); else selected.delete(id);
    showSelection();
  });
  const first = document.createElement("td");
  first.appendChild(box);
  tr.appendChild(first);
  const cells = {};
  for (const name of COLUMNS) {
    const td = document.createElement("td");
    td.dataset.testid = name;
    tr.appendChild(td);
    cells[name] = td;
  }
  const row = { tr, box, cells };
  rows.set(id, row);
  return row;
}

function setText(td, text) {
  if (td.textContent !== text) td.textContent = text;
}

function updateRow(row, entry) {
  const seat = entry.seat;
  const status = effectiveStatus(entry);
  row.tr.dataset.testid = `seat-${seat.participant_number || seat.enrolment_id}`;
  row.tr.dataset.status = status;
  row.tr.className = `status-${status}`;
  row.box.checked = selected.has(seat.enrolment_id);
  row.box.setAttribute("aria-label", seat.name);
  const left = remaining(entry);
  const seen = lastSeen(entry);
  setText(row.cells.seat, seat.seat || "—");
  setText(row.cells.name, label(seat));
  setText(row.cells.status, strings[status] || status);
  setText(row.cells.answered, seat.total ? `${seat.answered}/${seat.total}` : "—");
  row.cells.answered.dataset.value = String(seat.answered);
  setText(row.cells.flagged, String(seat.flagged));
  setText(row.cells.remaining, fmtSeconds(left));
  row.cells.remaining.dataset.seconds = left === null ? "" : String(Math.max(0, Math.round(left)));
  setText(row.cells["last-seen"], seen === null ? strings.never : fmtSeconds(seen));
  setText(row.cells.ip, seat.ip || "—");
  setText(row.cells.focus, String(seat.events.focus_lost || 0));
  setText(row.cells.reloads, String(seat.events.reload || 0));
}

function render() {
  const wanted = document.getElementById("filter-status").value;
  const text = document.getElementById("filter-text").value.trim().toLowerCase();
  for (const id of [...rows.keys()]) {
    if (!seats.has(id)) rows.delete(id);
  }
  const shown = [...seats.values()].filter((entry) => {
    const seat = entry.seat;
    if (wanted && effectiveStatus(entry) !== wanted) return false;
    if (!text) return true;
    return [seat.name, seat.nip, seat.seat, seat.participant_number]
      .some((v) => (v || "").toLowerCase().includes(text));
  });
  shown.sort((a, b) => {
    const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
    return (x > y ? 1 : x < y ? -1 : 0) * sortDir;
  });
  const order = shown.map((entry) => {
    const row = rows.get(entry.seat.enrolment_id) || createRow(entry.seat.enrolment_id);
    updateRow(row, entry);
    return row.tr;
  });
  const current = [...tbody.children];
  if (order.length !== current.length || order.some((tr, i) => tr !== current[i])) {
    tbody.replaceChildren(...order);   // only when the order or the set changed
  }
  const counts = {};
  for (const entry of seats.values()) {
    const s = effectiveStatus(entry);
    counts[s] = (counts[s] || 0) + 1;
  }
  setText(document.getElementById("monitor-summary"), Object.entries(counts)
    .map(([k, n]) => `${strings[k] || k}: ${n}`).join(" · "));
  const rotates = document.querySelector("[data-testid=token-rotates]");
  setText(rotates, tokenRotatesAt === null ? ""
    : `${strings.rotates_in} ${fmtSeconds((tokenRotatesAt - performance.now()) / 1000)}`);
}

/** Who the next action applies to, in words, next to the action buttons. */
function showSelection() {
  for (const id of [...selected]) {
    if (!seats.has(id)) selected.delete(id);
  }
  const names = [...selected].map((id) => label(seats.get(id).seat));
  setText(document.getElementById("act-selection"),
          names.length ? `${strings.selected}: ${names.join(", ")}` : strings.selected_none);
}

function schedulePoll(ms) {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(poll, ms);
}

function nextSince(serverTime) {
  const at = Date.parse(serverTime);
  return Number.isNaN(at) ? serverTime : new Date(at - SINCE_OVERLAP_MS).toISOString();
}

async function poll() {
  clearTimeout(pollTimer);
  if (polling) { pollAgain = true; return; }
  polling = true;
  const full = !since || performance.now() - lastFull > FULL_EVERY_MS;
  const url = root.dataset.url + (full ? "" : `?since=${encodeURIComponent(since)}`);
  try {
    const response = await fetch(url, { credentials: "same-origin", cache: "no-store",
                                        headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(String(response.status));
    const data = await response.json();
    const at = performance.now();
    if (data.full) { seats.clear(); lastFull = at; }
    for (const seat of data.seats) seats.set(seat.enrolment_id, { seat, at });
    // Last-seen ages of every running seat, also of those that did not change otherwise.
    for (const [id, secondsAgo] of data.presence || []) {
      const entry = seats.get(id);
      if (entry) {
        entry.seat.last_seen_seconds = secondsAgo;
        entry.seenAt = at;
      }
    }
    since = nextSince(data.server_time);
    setText(document.querySelector("[data-testid=session-token]"), data.token || "—");
    tokenRotatesAt = data.token_rotates_in === null ? null : at + data.token_rotates_in * 1000;
    document.getElementById("monitor-offline").classList.add("hidden");
    render();
    showSelection();
  } catch (error) {
    const banner = document.getElementById("monitor-offline");
    banner.textContent = strings.offline;
    banner.classList.remove("hidden");
  } finally {
    polling = false;
    schedulePoll(pollAgain ? 0 : POLL_MS);
    pollAgain = false;
  }
}

function say(text, ok) {
  result.textContent = text;
  result.dataset.state = ok ? "ok" : "error";
}

async function act(button) {
  const action = button.dataset.action;
  const reason = document.getElementById("act-reason").value.trim();
  if (reason.length < 3) { say(strings.need_reason, false); return; }
  const ids = [...selected];
  if (!ids.length && action !== "note") {
    if (!("all" in button.dataset)) { say(strings.need_selection, false); return; }
    if (!window.confirm(strings.confirm_all)) return;
  } else if ("confirm" in button.dataset && !window.confirm(strings.confirm_final)) {
    return;
  }
  const body = new URLSearchParams();
  body.set("csrf_token", csrf);
  let url;
  if (action === "note") {
    url = form.dataset.note;
    body.set("text", reason);
    if (ids.length === 1) body.set("enrolment_id", String(ids[0]));
  } else {
    url = form.dataset.base.replace("ACTION", action);
    body.set("reason", reason);
    body.set("minutes", document.getElementById("act-minutes").value);
    for (const id of ids) body.append("enrolment_ids", String(id));
  }
  say(strings.sending, true);
  let response;
  try {
    response = await fetch(url, {
      method: "POST", credentials: "same-origin", body,
      headers: { Accept: "application/json", "X-CSRFToken": csrf },
    });
  } catch (error) {
    say(strings.offline, false);
    return;
  }
  const data = await response.json().catch(() => ({ message: String(response.status) }));
  say(data.message, response.ok);
  if (response.ok) {
    document.getElementById("act-reason").value = "";
    since = null;
    poll();   // show the effect now, not at the next tick
  }
}

form.querySelectorAll("button[data-action]").forEach((button) => {
  button.addEventListener("click", () => act(button));
});
document.getElementById("filter-status").addEventListener("change", render);
document.getElementById("filter-text").addEventListener("input", render);
document.getElementById("select-all").addEventListener("change", (event) => {
  for (const tr of tbody.querySelectorAll("tr")) {
    const id = Number(tr.dataset.enrolment);
    if (event.target.checked) selected.add(id); else selected.delete(id);
  }
  render();
  showSelection();
});
document.getElementById("clear-selection").addEventListener("click", () => {
  selected.clear();
  document.getElementById("select-all").checked = false;
  render();
  showSelection();
});
document.querySelectorAll("th[data-sort]").forEach((th) => {
  th.addEventListener("click", () => {
    const key = th.dataset.sort;
    sortDir = key === sortKey ? -sortDir : 1;
    sortKey = key;
    render();
  });
});
document.getElementById("rotate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = new URLSearchParams({ csrf_token: csrf });
  try {
    const response = await fetch(root.dataset.rotate, {
      method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
    });
    if (response.ok) {
      setText(document.querySelector("[data-testid=session-token]"), (await response.json()).token);
      since = null;
      poll();
    }
  } catch (error) {
    say(strings.offline, false);
  }
});
setInterval(render, 1000);   // countdowns and "last seen" tick between polls
showSelection();
poll();

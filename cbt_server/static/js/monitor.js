// Proctor's live monitor: polls the server every few seconds (incrementally with ?since=),
// keeps the table patched in place, and sends interventions. Plain JS, served locally.
const root = document.getElementById("monitor-root");
const strings = JSON.parse(document.getElementById("monitor-strings").textContent);
const csrf = document.querySelector("#act-form input[name=csrf_token]").value;
const tbody = document.getElementById("seats");
const seats = new Map();          // enrolment_id -> seat
const selected = new Set();
let since = null;
let lastFull = 0;
let received = 0;                 // performance.now() of the last response
let sortKey = "seat";
let sortDir = 1;
const POLL_MS = 3000;
const FULL_EVERY_MS = 30000;

function fmtSeconds(s) {
  if (s === null || s === undefined) return strings.never;
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
}

function elapsed() { return (performance.now() - received) / 1000; }

function effectiveStatus(seat) {
  const running = seat.status === "in_progress";
  const age = seat.last_seen_seconds === null ? null : seat.last_seen_seconds + elapsed();
  if (running && (age === null || age > 30)) return "disconnected";
  return seat.status;
}

function sortValue(seat, key) {
  if (key === "focus") return seat.events.focus_lost || 0;
  if (key === "reloads") return seat.events.reload || 0;
  const v = seat[key];
  return v === null || v === undefined ? "" : v;
}

function render() {
  const wanted = document.getElementById("filter-status").value;
  const text = document.getElementById("filter-text").value.trim().toLowerCase();
  const rows = [...seats.values()].filter((seat) => {
    if (wanted && effectiveStatus(seat) !== wanted) return false;
    if (!text) return true;
    return [seat.name, seat.nip, seat.seat, seat.participant_number]
      .some((v) => (v || "").toLowerCase().includes(text));
  });
  rows.sort((a, b) => {
    const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
    return (x > y ? 1 : x < y ? -1 : 0) * sortDir;
  });
  const fragment = document.createDocumentFragment();
  for (const seat of rows) fragment.appendChild(rowFor(seat));
  tbody.replaceChildren(fragment);
  const counts = {};
  for (const seat of seats.values()) {
    const s = effectiveStatus(seat);
    counts[s] = (counts[s] || 0) + 1;
  }
  document.getElementById("monitor-summary").textContent = Object.entries(counts)
    .map(([k, n]) => `${strings[k] || k}: ${n}`).join(" · ");
}

function cell(text, testid) {
  const td = document.createElement("td");
  td.textContent = text;
  if (testid) td.dataset.testid = testid;
  return td;
}

function rowFor(seat) {
  const tr = document.createElement("tr");
  const status = effectiveStatus(seat);
  tr.dataset.enrolment = seat.enrolment_id;
  tr.dataset.testid = `seat-${seat.participant_number || seat.enrolment_id}`;
  tr.className = `status-${status}`;
  const box = document.createElement("input");
  box.type = "checkbox";
  box.checked = selected.has(seat.enrolment_id);
  box.setAttribute("aria-label", seat.name);
  box.dataset.testid = "select";
  box.addEventListener("change", () => {
    if (box.checked) selected.add(seat.enrolment_id); else selected.delete(seat.enrolment_id);
  });
  const first = document.createElement("td");
  first.appendChild(box);
  tr.appendChild(first);
  tr.appendChild(cell(seat.seat || "—"));
  tr.appendChild(cell(`${seat.name} (${seat.participant_number || seat.nip || ""})`));
  tr.appendChild(cell(strings[status] || status, "status"));
  tr.appendChild(cell(`${seat.answered}/${seat.total}`, "answered"));
  tr.appendChild(cell(String(seat.flagged), "flagged"));
  const remaining = seat.remaining_seconds === null ? null
    : (seat.status === "in_progress" ? seat.remaining_seconds - elapsed() : seat.remaining_seconds);
  tr.appendChild(cell(fmtSeconds(remaining), "remaining"));
  tr.appendChild(cell(seat.last_seen_seconds === null ? strings.never
    : fmtSeconds(seat.last_seen_seconds + elapsed()), "last-seen"));
  tr.appendChild(cell(seat.ip || "—"));
  tr.appendChild(cell(String(seat.events.focus_lost || 0), "focus"));
  tr.appendChild(cell(String(seat.events.reload || 0), "reloads"));
  return tr;
}

async function poll() {
  const full = !since || performance.now() - lastFull > FULL_EVERY_MS;
  const url = root.dataset.url + (full ? "" : `?since=${encodeURIComponent(since)}`);
  try {
    const response = await fetch(url, { credentials: "same-origin",
                                        headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(String(response.status));
    const data = await response.json();
    received = performance.now();
    if (data.full) { seats.clear(); lastFull = received; }
    for (const seat of data.seats) seats.set(seat.enrolment_id, seat);
    since = data.server_time;
    document.querySelector("[data-testid=session-token]").textContent = data.token || "—";
    document.querySelector("[data-testid=token-rotates]").textContent =
      data.token_rotates_in === null ? "" : `${fmtSeconds(data.token_rotates_in)}`;
    document.getElementById("monitor-offline").classList.add("hidden");
    render();
  } catch (error) {
    const banner = document.getElementById("monitor-offline");
    banner.textContent = strings.offline;
    banner.classList.remove("hidden");
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function act(action) {
  const form = document.getElementById("act-form");
  const reason = document.getElementById("act-reason").value.trim();
  const result = document.getElementById("act-result");
  if (reason.length < 3) { result.textContent = strings.need_reason; return; }
  const ids = [...selected];
  if (!ids.length && action !== "note" && !window.confirm(strings.confirm_all)) return;
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
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin", body,
    headers: { Accept: "application/json", "X-CSRFToken": csrf },
  });
  const data = await response.json().catch(() => ({ message: String(response.status) }));
  result.textContent = data.message;
  if (response.ok) { document.getElementById("act-reason").value = ""; since = null; }
}

document.querySelectorAll("#act-form button[data-action]").forEach((button) => {
  button.addEventListener("click", () => act(button.dataset.action));
});
document.getElementById("filter-status").addEventListener("change", render);
document.getElementById("filter-text").addEventListener("input", render);
document.getElementById("select-all").addEventListener("change", (event) => {
  for (const tr of tbody.querySelectorAll("tr")) {
    const id = Number(tr.dataset.enrolment);
    if (event.target.checked) selected.add(id); else selected.delete(id);
  }
  render();
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
  const response = await fetch(root.dataset.rotate, {
    method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
  });
  if (response.ok) {
    document.querySelector("[data-testid=session-token]").textContent = (await response.json()).token;
    since = null;
  }
});
setInterval(render, 1000);   // countdowns and "last seen" tick between polls
poll();

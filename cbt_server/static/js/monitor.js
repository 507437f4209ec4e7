// Proctor's live monitor: polls the server every few seconds (incrementally with ?since=),
// patches the seat tiles in place (a tile is kept, so a checkbox being clicked or an open menu is
// not replaced under the proctor's hand), and sends interventions: per seat from the seat's menu,
// or for the selected seats from the action bar, always through a dialog that says who and what
// and asks for the reason the audit log keeps. Plain JS, served locally.
const root = document.getElementById("monitor-root");
const strings = JSON.parse(document.getElementById("monitor-strings").textContent);
const bar = document.getElementById("act-form");
const csrf = bar.querySelector("input[name=csrf_token]").value;
const grid = document.getElementById("seats");
const result = document.getElementById("act-result");
const menu = document.getElementById("seat-menu");
const dialog = document.getElementById("act-dialog");
const seats = new Map();          // enrolment_id -> {seat, at, seenAt}: performance.now() on receipt
const tiles = new Map();          // enrolment_id -> {el, box, parts}
const selected = new Set();
let since = null;
let lastFull = 0;
let sortKey = "seat";
let group = "";                   // the legend chip that filters, "" for all
let pollTimer = null;
let polling = false;
let pollAgain = false;
let tokenRotatesAt = null;        // performance.now() when the token rotates
let menuFor = null;               // enrolment_id whose menu is open
let pending = null;               // {action, ids|null} the dialog is asking about
const POLL_MS = 3000;
const FULL_EVERY_MS = 30000;
// An incremental refresh asks for changes since a moment a little before the last answer's
// server time: a save stamped just before that moment but committed just after the monitor read
// would otherwise be missed until the next full refresh.
const SINCE_OVERLAP_MS = 10000;
// The server stamps "last seen" at most every 20 s and heartbeats come every 15 s: a seat is
// disconnected after 45 s of silence (cbt_server/delivery/presence.py).
const DISCONNECTED_AFTER_S = 45;
const RUNNING = ["in_progress", "disconnected", "paused"];
// Which action applies to a seat in which (shown) status; "all" actions may also be sent with no
// seat chosen, for everyone in the session (the dialog says so).
const ACTIONS = {
  extend: { when: RUNNING, minutes: true, all: true },
  pause: { when: ["in_progress", "disconnected"], all: true },
  resume: { when: ["paused"], all: true },
  reset_login: { when: ["absent", "logged_in", ...RUNNING, "submitted"] },
  reopen: { when: ["expired"], minutes: true },
  note: { when: null },
  force_submit: { when: RUNNING, all: true, danger: true },
  void: { when: [...RUNNING, "submitted", "expired"], danger: true },
};
const NAMES_SHOWN = 6;

function fmtSeconds(s) {
  if (s === null || s === undefined) return strings.never;
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
}

/** A translated text with its number: the page renders "{n}" where the number goes. */
function fill(template, n) { return template.replace("{n}", String(n)); }

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

/** The legend's group of a status: submitted and expired are both "finished". */
function groupOf(status) {
  return status === "submitted" || status === "expired" ? "finished" : status;
}

function alerts(seat) {
  return (seat.events.focus_lost || 0) + (seat.events.reload || 0);
}

function sortValue(entry, key) {
  const seat = entry.seat;
  if (key === "alerts") return -alerts(seat);
  if (key === "status") return effectiveStatus(entry);
  if (key === "remaining_seconds") {
    const left = remaining(entry);
    return left === null ? Infinity : left;
  }
  const v = seat[key];
  return v === null || v === undefined ? "\uffff" : v;
}

function label(seat) {
  const number = seat.participant_number || seat.nip;
  return number ? `${seat.name} (${number})` : seat.name;
}

function span(cls, testid) {
  const el = document.createElement("span");
  el.className = cls;
  if (testid) el.dataset.testid = testid;
  return el;
}

function toggle(id, on, quiet = false) {
  if (on) selected.add(id); else selected.delete(id);
  const tile = tiles.get(id);
  if (tile) {
    tile.box.checked = on;
    tile.el.classList.toggle("selected", on);
  }
  if (!quiet) showSelection();
}

function createTile(id) {
  const el = document.createElement("div");
  el.className = "seat";
  el.dataset.enrolment = id;
  const top = document.createElement("div");
  top.className = "seat-top";
  const box = document.createElement("input");
  box.type = "checkbox";
  box.dataset.testid = "select";
  box.addEventListener("change", () => toggle(id, box.checked));
  const parts = {
    seat: span("seat-pc", "seat"),
    status: span("seat-status", "status"),
    name: document.createElement("div"),
    answered: span("seat-answered", "answered"),
    remaining: span("seat-remaining", "remaining"),
    rapid: span("seat-rapid", "rapid"),
    alerts: span("seat-alerts", "alerts"),
  };
  parts.rapid.title = strings.rapid;
  const more = document.createElement("button");
  more.type = "button";
  more.className = "seat-more";
  more.textContent = "⋮";
  more.dataset.testid = "seat-menu-button";
  more.setAttribute("aria-haspopup", "menu");
  more.addEventListener("click", (event) => {
    event.stopPropagation();
    openMenu(id, more);
  });
  top.append(box, parts.seat, parts.rapid, parts.alerts, more);
  parts.name.className = "seat-name";
  parts.name.dataset.testid = "name";
  const facts = document.createElement("div");
  facts.className = "seat-facts";
  facts.append(parts.status, parts.answered, parts.remaining);
  el.append(top, parts.name, facts);
  // A click anywhere on the tile (but its controls) selects it: big targets for a busy proctor.
  el.addEventListener("click", (event) => {
    if (event.target.closest("input, button")) return;
    toggle(id, !selected.has(id));
  });
  // The long description is built when the pointer comes, not on every tick for every seat.
  el.addEventListener("mouseenter", () => { el.title = details(seats.get(id)); });
  const tile = { el, box, parts, more };
  tiles.set(id, tile);
  return tile;
}

function details(entry) {
  if (!entry) return "";
  const seat = entry.seat;
  const seen = lastSeen(entry);
  return [
    label(seat) + (seat.nip && seat.participant_number ? ` · NIP ${seat.nip}` : ""),
    `${strings[effectiveStatus(entry)] || seat.status}`,
    `${strings.answered}: ${seat.total ? `${seat.answered}/${seat.total}` : strings.never}` +
      ` · ${strings.flagged}: ${seat.flagged}`,
    `${strings.remaining}: ${fmtSeconds(remaining(entry))}`,
    `${strings.last_seen}: ${seen === null ? strings.never : `${fmtSeconds(seen)} ${strings.seconds_ago}`}`,
    `${strings.ip}: ${seat.ip || strings.never}`,
    `${strings.focus}: ${seat.events.focus_lost || 0} · ${strings.reloads}: ${seat.events.reload || 0}`,
    `${strings.rapid}: ${seat.rapid || 0}`,
  ].join("\n");
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function updateTile(tile, entry) {
  const seat = entry.seat;
  const status = effectiveStatus(entry);
  const el = tile.el;
  if (el.dataset.status !== status) {
    el.dataset.status = status;
    el.className = `seat status-${groupOf(status)} is-${status}` +
      (selected.has(seat.enrolment_id) ? " selected" : "");
  }
  const testid = `seat-${seat.participant_number || seat.enrolment_id}`;
  if (el.dataset.testid !== testid) el.dataset.testid = testid;
  tile.box.checked = selected.has(seat.enrolment_id);
  if (tile.box.getAttribute("aria-label") !== seat.name) {
    tile.box.setAttribute("aria-label", seat.name);
    tile.more.setAttribute("aria-label", `${strings.menu_for} ${seat.name}`);
  }
  const left = remaining(entry);
  setText(tile.parts.seat, seat.seat || "—");
  setText(tile.parts.status, strings[status] || status);
  // The name alone on the tile (the seat says where); number and NIP in the tooltip.
  setText(tile.parts.name, seat.name);
  const name = label(seat);
  if (tile.parts.name.title !== name) tile.parts.name.title = name;
  setText(tile.parts.answered, seat.total ? `${seat.answered}/${seat.total}` : "—");
  tile.parts.answered.dataset.value = String(seat.answered);
  setText(tile.parts.remaining, left === null ? "" : fmtSeconds(left));
  tile.parts.remaining.dataset.seconds = left === null ? "" : String(Math.max(0, Math.round(left)));
  // Answers given within 3 s of their item appearing (a live count; the normative check of
  // rapid guessing is on the score sheet after the session).
  setText(tile.parts.rapid, seat.rapid ? `⚡${seat.rapid}` : "");
  tile.parts.rapid.dataset.value = String(seat.rapid || 0);
  const focus = seat.events.focus_lost || 0, reloads = seat.events.reload || 0;
  setText(tile.parts.alerts, (focus ? `⇄${focus}` : "") + (focus && reloads ? " " : "") +
          (reloads ? `↻${reloads}` : ""));
}

function render() {
  const text = document.getElementById("filter-text").value.trim().toLowerCase();
  for (const id of [...tiles.keys()]) {
    if (!seats.has(id)) tiles.delete(id);
  }
  const counts = { "": 0 };
  const shown = [];
  for (const entry of seats.values()) {
    const seat = entry.seat;
    const g = groupOf(effectiveStatus(entry));
    counts[g] = (counts[g] || 0) + 1;
    counts[""] += 1;
    if (group && g !== group) continue;
    if (text && ![seat.name, seat.nip, seat.seat, seat.participant_number]
      .some((v) => (v || "").toLowerCase().includes(text))) continue;
    shown.push(entry);
  }
  shown.sort((a, b) => {
    const x = sortValue(a, sortKey), y = sortValue(b, sortKey);
    if (x !== y) return x > y ? 1 : -1;
    const p = sortValue(a, "seat"), q = sortValue(b, "seat");
    return p > q ? 1 : p < q ? -1 : 0;
  });
  const order = shown.map((entry) => {
    const tile = tiles.get(entry.seat.enrolment_id) || createTile(entry.seat.enrolment_id);
    updateTile(tile, entry);
    return tile.el;
  });
  const current = grid.children;
  if (order.length !== current.length || order.some((el, i) => el !== current[i])) {
    grid.replaceChildren(...order);   // only when the order or the set changed
  }
  for (const count of document.querySelectorAll("[data-count]")) {
    const n = counts[count.dataset.count] || 0;
    setText(count, String(n));
    count.parentElement.classList.toggle("zero", n === 0);
  }
  const rotates = document.querySelector("[data-testid=token-rotates]");
  setText(rotates, tokenRotatesAt === null ? ""
    : `${strings.rotates_in} ${fmtSeconds((tokenRotatesAt - performance.now()) / 1000)}`);
}

/** Names of seats, at most a few, then "and N more". */
function names(ids) {
  const shown = ids.slice(0, NAMES_SHOWN).map((id) => {
    const entry = seats.get(id);
    if (!entry) return String(id);
    // Name and seat, as the proctor sees the room; the number when the seat has no PC.
    const where = entry.seat.seat || entry.seat.participant_number || entry.seat.nip;
    return where ? `${entry.seat.name} (${where})` : entry.seat.name;
  });
  const rest = ids.length - shown.length;
  return shown.join("; ") + (rest > 0 ? ` ${fill(strings.and_more, rest)}` : "");
}

/** Who the next bulk action applies to, in words, in the action bar. */
function showSelection() {
  for (const id of [...selected]) {
    if (!seats.has(id)) selected.delete(id);
  }
  const ids = [...selected];
  const el = document.getElementById("act-selection");
  const text = ids.length ? `${ids.length} ${strings.selected}: ${names(ids)}` : strings.selected_none;
  setText(el, text);
  el.title = text;
  document.getElementById("clear-selection").hidden = !ids.length;
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

// ---- the seat menu ------------------------------------------------------------------------

function openMenu(id, anchor) {
  const entry = seats.get(id);
  if (!entry) return;
  if (menuFor === id && !menu.classList.contains("hidden")) { closeMenu(); return; }
  menuFor = id;
  const status = effectiveStatus(entry);
  setText(document.getElementById("seat-menu-title"),
          `${entry.seat.seat ? entry.seat.seat + " · " : ""}${label(entry.seat)}`);
  for (const button of menu.querySelectorAll("button[data-action]")) {
    const when = ACTIONS[button.dataset.action].when;
    button.hidden = when !== null && !when.includes(status);
  }
  menu.classList.remove("hidden");
  const box = anchor.getBoundingClientRect();
  const width = menu.offsetWidth, height = menu.offsetHeight;
  const left = Math.min(box.right - width, window.innerWidth - width - 8);
  const below = box.bottom + 4 + height <= window.innerHeight;
  menu.style.left = `${Math.max(8, left) + window.scrollX}px`;
  menu.style.top = `${(below ? box.bottom + 4 : box.top - height - 4) + window.scrollY}px`;
  menu.querySelector("button:not([hidden])")?.focus();
}

function closeMenu() {
  menu.classList.add("hidden");
  menuFor = null;
}

// ---- the action dialog --------------------------------------------------------------------

/** Ask who/what/why: ids null means everyone in the session (for the "all" actions). */
function ask(action, ids) {
  const spec = ACTIONS[action];
  const words = strings.actions[action];
  let who;
  if (ids === null) {
    who = action === "note" ? strings.session_note : fill(strings.everyone, seats.size);
  } else {
    who = `${ids.length === 1 ? strings.for_one : fill(strings.for_many, ids.length)} ${names(ids)}`;
  }
  pending = { action, ids };
  setText(document.getElementById("dialog-title"), words);
  setText(document.getElementById("dialog-who"), who);
  document.getElementById("dialog-warning").classList.toggle("hidden", !spec.danger);
  document.getElementById("dialog-minutes").classList.toggle("hidden", !spec.minutes);
  document.getElementById("dialog-error").textContent = "";
  const confirm = document.getElementById("dialog-confirm");
  confirm.textContent = ids === null || ids.length === 1 || action === "note"
    ? words : `${words} (${ids.length})`;
  confirm.className = spec.danger ? "danger-solid" : "primary-inline";
  dialog.classList.toggle("is-danger", Boolean(spec.danger));
  document.getElementById("act-reason").value = "";
  dialog.showModal();
  document.getElementById("act-reason").focus();
}

/** From the action bar: the selected seats it applies to, or everyone for "all" actions. */
function askForSelection(action) {
  const spec = ACTIONS[action];
  const ids = [...selected];
  if (!ids.length) {
    if (action === "note" || spec.all) { ask(action, null); return; }
    say(strings.need_selection, false);
    return;
  }
  const fits = spec.when === null ? ids
    : ids.filter((id) => seats.has(id) && spec.when.includes(effectiveStatus(seats.get(id))));
  if (!fits.length) { say(strings.not_applicable, false); return; }
  ask(action, fits);   // the dialog names exactly the seats it will change
}

async function post(url, body) {
  body.set("csrf_token", csrf);
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin", body,
    headers: { Accept: "application/json", "X-CSRFToken": csrf },
  });
  const data = await response.json().catch(() => ({ message: String(response.status) }));
  return { ok: response.ok, data };
}

async function send() {
  const { action, ids } = pending;
  const reason = document.getElementById("act-reason").value.trim();
  if (reason.length < 3) {
    document.getElementById("dialog-error").textContent = strings.need_reason;
    return;
  }
  dialog.close();
  say(strings.sending, true);
  let outcome;
  try {
    if (action === "note") {
      // A note is about one participant or the session: one note per chosen seat.
      const targets = ids === null ? [null] : ids;
      for (const id of targets) {
        const body = new URLSearchParams({ text: reason });
        if (id !== null) body.set("enrolment_id", String(id));
        outcome = await post(bar.dataset.note, body);
        if (!outcome.ok) break;
      }
      if (outcome.ok && ids !== null && ids.length > 1) {
        outcome.data.message = fill(strings.notes_saved, ids.length);
      }
    } else {
      // One request for all the chosen seats: the service applies it seat by seat in one
      // transaction and its audit row names every participant it changed.
      const body = new URLSearchParams({ reason });
      if (ACTIONS[action].minutes) body.set("minutes", document.getElementById("act-minutes").value);
      for (const id of ids || []) body.append("enrolment_ids", String(id));
      outcome = await post(bar.dataset.base.replace("ACTION", action), body);
    }
  } catch (error) {
    say(strings.offline, false);
    return;
  }
  say(outcome.data.message, outcome.ok);
  if (outcome.ok) {
    since = null;
    poll();   // show the effect now, not at the next tick
  }
}

// ---- wiring -------------------------------------------------------------------------------

bar.querySelectorAll("button[data-action]").forEach((button) => {
  button.addEventListener("click", () => askForSelection(button.dataset.action));
});
menu.querySelectorAll("button[data-action]").forEach((button) => {
  button.addEventListener("click", () => {
    const id = menuFor;
    closeMenu();
    if (id !== null) ask(button.dataset.action, [id]);
  });
});
document.addEventListener("click", (event) => {
  if (!menu.contains(event.target)) closeMenu();
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") closeMenu();
});
document.getElementById("dialog-form").addEventListener("submit", (event) => {
  event.preventDefault();
  send();
});
document.getElementById("dialog-cancel").addEventListener("click", () => dialog.close());
document.getElementById("filter-text").addEventListener("input", render);
document.getElementById("sort").addEventListener("change", (event) => {
  sortKey = event.target.value;
  render();
});
document.querySelectorAll("[data-group]").forEach((chip) => {
  chip.addEventListener("click", () => {
    group = group === chip.dataset.group ? "" : chip.dataset.group;
    for (const other of document.querySelectorAll("[data-group]")) {
      other.setAttribute("aria-pressed", String(other.dataset.group === group));
    }
    render();
  });
});
document.getElementById("select-all").addEventListener("change", (event) => {
  for (const el of grid.children) toggle(Number(el.dataset.enrolment), event.target.checked, true);
  showSelection();
});
document.getElementById("clear-selection").addEventListener("click", () => {
  for (const id of [...selected]) toggle(id, false, true);
  document.getElementById("select-all").checked = false;
  showSelection();
});
document.getElementById("rotate-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const { ok, data } = await post(root.dataset.rotate, new URLSearchParams());
    if (ok) {
      setText(document.querySelector("[data-testid=session-token]"), data.token);
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

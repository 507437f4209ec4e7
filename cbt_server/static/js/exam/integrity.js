// Integrity events (docs/exam-api.md, POST /events): collected in memory and sent in batches,
// within 2 s or with the next heartbeat. The server stamps them with its own time.

import { Refusal } from "./api.js";

const SEND_DELAY_MS = 2000;
const MAX_PENDING = 200;
const MAX_BATCH = 100;

export function createIntegrity({ api, position }) {
  const pending = [];
  let timer = null;
  let sending = false;
  let away = false;
  let awaySince = 0;
  let stopped = false;

  function record(kind, detail = {}) {
    if (stopped) return;
    if (pending.length >= MAX_PENDING) pending.shift();
    pending.push({ kind, detail: { position: position(), ...detail } });
    if (!timer) timer = setTimeout(flush, SEND_DELAY_MS);
  }

  async function flush() {
    clearTimeout(timer);
    timer = null;
    if (stopped || sending || !pending.length) return;
    const batch = pending.splice(0, MAX_BATCH);
    sending = true;
    let sent = false;
    try {
      await api.post("/events", { events: batch });
      sent = true;
    } catch (error) {
      // Offline or paused: keep them for the next heartbeat. Refused otherwise: drop them.
      if (!(error instanceof Refusal) || error.code === "attempt_paused") {
        pending.unshift(...batch);
        pending.splice(0, Math.max(0, pending.length - MAX_PENDING));
      }
    } finally {
      sending = false;
    }
    if (sent && pending.length && !timer) timer = setTimeout(flush, SEND_DELAY_MS);
  }

  function lost() {
    if (away) return;
    away = true;
    awaySince = performance.now();
    record("focus_lost");
  }

  function regained() {
    if (!away) return;
    away = false;
    const seconds = Math.round((performance.now() - awaySince) / 100) / 10;
    record("focus_regained", { away_seconds: seconds });
  }

  function block(kind) {
    return (event) => {
      event.preventDefault();
      if (kind) record(kind);
    };
  }

  /** itemArea: where copying, pasting (also into the short-answer box) and the menu are blocked. */
  function install(itemArea) {
    window.addEventListener("blur", lost);
    window.addEventListener("focus", regained);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") lost();
      else if (document.hasFocus()) regained();
    });
    document.addEventListener("fullscreenchange", () => {
      if (!document.fullscreenElement) record("fullscreen_exit");
    });
    window.addEventListener("offline", () => record("offline"));
    window.addEventListener("online", () => record("online"));
    itemArea.addEventListener("copy", block("copy_attempt"));
    itemArea.addEventListener("cut", block("copy_attempt"));
    itemArea.addEventListener("paste", block("paste_attempt"));
    itemArea.addEventListener("drop", block("paste_attempt"));
    itemArea.addEventListener("dragstart", block(null));
    itemArea.addEventListener("contextmenu", block(null));
    const entries = performance.getEntriesByType ? performance.getEntriesByType("navigation") : [];
    if (entries.length && entries[0].type === "reload") record("reload");
  }

  /** This tab no longer owns the attempt: record and send nothing more. */
  function stop() {
    stopped = true;
    clearTimeout(timer);
    timer = null;
    pending.length = 0;
  }

  return { record, flush, install, stop };
}

// What must survive a reload, a crash or a night offline, in localStorage keyed by attempt id:
//   cbt-queue-<id>       the unsent saves, in order (queue.js);
//   cbt-seq-<id>         the per-attempt sequence counter (never reused);
//   cbt-late-<id>        saves the server refused for good (time up, section closed): they go to
//                        POST /late-answers and stay here until it answers 200 (late.js);
//   cbt-late-total-<id>  how many answers ever went to the late store (for the notice);
//   cbt-acked-<id>       the newest acknowledged answer per position, so a copy of the attempt
//                        served from the service worker's cache shows what the server has;
//   cbt-clock-<id>       the server's remaining time at the last response (Date.now() stamped),
//                        to estimate the clock when the page is loaded from that cache;
//   cbt-tab-<id>         which tab holds the attempt (tabs.js);
//   cbt-seen-<id>        {sections, items}: the sections whose instructions were passed and the
//                        positions shown, so a reload neither shows a started section's
//                        instructions again nor counts a shown item as unseen.
// A save is {position, answer, flagged, seq, t}; t is Date.now() when it was given (for age_ms).

export function read(key, fallback) {
  try {
    const raw = window.localStorage.getItem(key);
    return raw == null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

export function write(key, value) {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false; // storage full or disabled: the in-memory queue still works for this page
  }
}

function remove(key) {
  try {
    window.localStorage.removeItem(key);
  } catch {
    // storage disabled: nothing to remove
  }
}

function isSave(save) {
  return (
    save &&
    typeof save === "object" &&
    Number.isInteger(save.position) &&
    Number.isInteger(save.seq) &&
    save.seq >= 1
  );
}

/** Saves from storage; one queued by an older page without `t` counts as given now (a lower bound). */
function saves(value) {
  const now = Date.now();
  return (Array.isArray(value) ? value.filter(isSave) : []).map((save) => ({
    ...save,
    t: Number.isFinite(save.t) ? save.t : now,
  }));
}

export function createStore(attemptId) {
  const key = (name) => `cbt-${name}-${attemptId}`;
  return {
    attemptId,
    loadQueue: () => saves(read(key("queue"), [])),
    saveQueue: (list) => write(key("queue"), list),
    loadSeq() {
      const n = Number(read(key("seq"), 0));
      return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
    },
    saveSeq: (n) => write(key("seq"), n),
    loadLate: () => saves(read(key("late"), [])),
    saveLate: (list) => write(key("late"), list),
    lateTotal() {
      const n = Number(read(key("late-total"), 0));
      return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
    },
    addLateTotal(n) {
      return write(key("late-total"), this.lateTotal() + n);
    },
    loadAcked() {
      const value = read(key("acked"), {});
      return value && typeof value === "object" && !Array.isArray(value) ? value : {};
    },
    saveAcked: (map) => write(key("acked"), map),
    loadClock() {
      const value = read(key("clock"), null);
      return value && Number.isFinite(value.remaining) && Number.isFinite(value.at) ? value : null;
    },
    saveClock: (clock) => write(key("clock"), clock),
    loadSeen() {
      const value = read(key("seen"), null);
      const ints = (list) => (Array.isArray(list) ? list.filter(Number.isInteger) : []);
      return { sections: ints(value && value.sections), items: ints(value && value.items) };
    },
    saveSeen: (seen) => write(key("seen"), seen),
    /** The attempt is over and nothing is left to send: forget what only served the test page. */
    forgetCopies() {
      remove(key("acked"));
      remove(key("clock"));
      remove(key("seen"));
    },
  };
}

// Late answers: saves the server refused for good as answers (the attempt's time was up, it was
// closed, their section had closed). They are never thrown away: kept in localStorage
// (cbt-late-<id>), sent to POST /late-answers - which stores them apart, for an assessor to
// decide, whatever the attempt's state - and removed only after it answers 200. Until then they
// are retried with backoff, here and on the finish page, and on the next load of either page.

import { backoffMs } from "./timer.js";

const BATCH = 50;
const MAX_WAIT_MS = 60000;

/** How long ago (ms, this PC's clock) the answer was given: information for the assessor. */
export function ageMs(save, now = Date.now()) {
  return Number.isFinite(save.t) ? Math.max(0, Math.round(now - save.t)) : 0;
}

/** A save as the late-answers endpoint and the rescue file take it. */
export function lateWire(save, now = Date.now()) {
  return {
    position: save.position,
    answer: save.answer,
    flagged: Boolean(save.flagged),
    seq: save.seq,
    age_ms: ageMs(save, now),
  };
}

export class LateBox {
  /** onChange(box) after every change. */
  constructor({ api, store, onChange = () => {} }) {
    Object.assign(this, { api, store, onChange });
    this.items = store.loadLate();
    this.running = null;
    this.retryTimer = null;
    this.failures = 0;
    this.held = false;
    this.detached = false;
    this.lastError = null;
  }

  get length() {
    return this.items.length;
  }

  /** Keep saves as late answers (persisted at once) and send them. */
  add(saves) {
    if (this.detached) return;
    const known = new Set(this.items.map((s) => `${s.position}:${s.seq}`));
    const fresh = saves.filter((s) => !known.has(`${s.position}:${s.seq}`));
    if (!fresh.length) return;
    this.items.push(...fresh.map((s) => ({ ...s })));
    this.store.addLateTotal(fresh.length);
    this.persist();
    this.flushSoon();
  }

  /** An older tab handed over after this one loaded: take what it left in storage. */
  adoptStored() {
    if (this.detached) return;
    const known = new Set(this.items.map((s) => `${s.position}:${s.seq}`));
    const more = this.store.loadLate().filter((s) => !known.has(`${s.position}:${s.seq}`));
    if (!more.length) return;
    this.items.push(...more);
    this.persist();
    this.flushSoon();
  }

  flushSoon() {
    if (this.held || this.running || this.retryTimer || !this.items.length) return;
    setTimeout(() => this.flush(), 0);
  }

  /** The server is back: try now. */
  retryNow() {
    if (this.items.length && !this.held) this.flush();
  }

  /** Send everything now. Resolves true when nothing is left. */
  flush() {
    if (this.held) return Promise.resolve(this.items.length === 0);
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (!this.running) {
      this.running = this.run().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  detach() {
    this.held = true;
    this.detached = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  async run() {
    while (!this.held && this.items.length) {
      const batch = this.items.slice(0, BATCH);
      const now = Date.now();
      try {
        await this.api.post("/late-answers", { saves: batch.map((s) => lateWire(s, now)) });
      } catch (error) {
        // Not reached, busy, or refused (not logged in, an endpoint this server does not have
        // yet ...): the answers stay here and are tried again; the rescue file has them too.
        if (this.detached) return false;
        this.lastError = error;
        this.retryLater(error.retryAfterMs || 0);
        this.onChange(this);
        return false;
      }
      if (this.detached) return false;
      this.failures = 0;
      this.lastError = null;
      const sent = new Set(batch.map((s) => `${s.position}:${s.seq}`));
      this.items = this.items.filter((s) => !sent.has(`${s.position}:${s.seq}`));
      this.persist();
    }
    return this.items.length === 0;
  }

  retryLater(retryAfterMs) {
    this.failures += 1;
    clearTimeout(this.retryTimer);
    const wait = Math.max(Math.min(MAX_WAIT_MS, backoffMs(this.failures)), retryAfterMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, wait);
  }

  persist() {
    if (!this.detached) this.store.saveLate(this.items);
    this.onChange(this);
  }
}

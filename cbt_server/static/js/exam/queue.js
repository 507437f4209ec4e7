// The autosave queue. Every change becomes a save {position, answer, flagged, seq, t}; it is
// written to localStorage BEFORE it is sent, sent in order (one request in flight, up to 50 saves
// each, with the page's current position) and removed only when the server acknowledges it
// (saved / duplicate / stale) or, when the server refuses it for good (time up, attempt closed,
// section closed), moved to the late store (late.js), which sends it to /late-answers. So an
// answer is acknowledged by the server, or still on this PC - through reloads, crashes, outages.

import { Refusal } from "./api.js";
import { backoffMs } from "./timer.js";

const BATCH = 50;
const ACKED = new Set(["saved", "duplicate", "stale"]);
// Refusals that are about one save rather than the attempt: find it by sending one at a time.
// A malformed save is dropped (the server will never take it, and it would block the rest);
// a save into a section that has closed goes to the late store.
const PER_SAVE = new Set(["bad_request", "section_closed"]);
const LATE_PER_SAVE = new Set(["section_closed"]);

/** What the server is sent: the save without the page's bookkeeping. */
function wire(save) {
  const sent = { position: save.position, answer: save.answer, flagged: save.flagged, seq: save.seq };
  if (Number.isInteger(save.shown)) sent.shown_ms = save.shown;
  return sent;
}

export class SaveQueue {
  /**
   * onChange(queue) after every change; onRefusal(refusal) -> "retry" | "hold" | "late" |
   * "backoff" for a refusal of the whole request; onDropped(save, refusal) when one save is
   * dropped as malformed; onLate(saves, refusal) when saves were moved to the late store;
   * onAcked(saves) with the saves the server stored; onSent(position) after a request that
   * carried the page's position was answered; onStale() when the server holds a newer answer.
   * late: the LateBox; where(): where the page is now ({position, position_age_ms}) or null.
   */
  constructor({ api, store, late, where, onChange, onRefusal, onDropped, onLate, onAcked, onSent, onStale }) {
    Object.assign(this, { api, store, late, where, onChange, onRefusal, onDropped, onLate, onAcked, onSent, onStale });
    this.items = store.loadQueue();
    this.seq = Math.max(store.loadSeq(), 0, ...this.items.map((s) => s.seq));
    this.running = null;
    this.retryTimer = null;
    this.soonTimer = null;
    this.failures = 0;
    this.refusalRetries = 0;
    this.held = false;
    this.detached = false;
    this.limit = BATCH;
    this.singleUntil = 0;
    this.notBefore = 0;
    this.waiters = [];
  }

  get length() {
    return this.items.length;
  }

  get retrying() {
    return this.retryTimer != null;
  }

  /** Never reuse a sequence number the server may already hold. */
  raiseSeq(n) {
    const value = Number(n) || 0;
    if (value > this.seq) {
      this.seq = value;
      if (!this.detached) this.store.saveSeq(value);
    }
  }

  /** shown: how long the item had been on screen when the answer was given (ms), if known. */
  add(position, answer, flagged, shown) {
    this.seq += 1;
    if (!this.detached) this.store.saveSeq(this.seq);
    const save = { position, answer, flagged: Boolean(flagged), seq: this.seq, t: Date.now() };
    if (Number.isInteger(shown)) save.shown = shown;
    this.items.push(save);
    this.persist();
    this.flushSoon();
    return save;
  }

  /**
   * Another tab of this attempt handed over late (after this one loaded the queue): take what it
   * left in storage. A seq both tabs used for different saves is renumbered, never reused.
   */
  adoptStored() {
    if (this.detached) return;
    const mine = new Map(this.items.map((s) => [s.seq, s]));
    let changed = false;
    for (const save of this.store.loadQueue()) {
      const same = mine.get(save.seq);
      if (same && same.position === save.position) continue;
      if (same) save.seq = Math.max(this.seq, this.store.loadSeq()) + 1;
      this.raiseSeq(save.seq);
      this.items.push(save);
      mine.set(save.seq, save);
      changed = true;
    }
    this.raiseSeq(this.store.loadSeq());
    if (changed) {
      this.items.sort((a, b) => a.seq - b.seq);
      this.persist();
      this.flushSoon();
    }
  }

  /** Send now (cancelling a backoff wait). Resolves true when nothing is left to send. */
  flush() {
    if (this.held) return Promise.resolve(this.items.length === 0);
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (!this.running) {
      this.running = this.run().finally(() => {
        this.running = null;
        if (this.items.length && !this.held && !this.retryTimer) this.flushSoon();
      });
    }
    return this.running;
  }

  /** Send soon, unless a backoff wait is running (the network is down: do not hammer it). */
  flushSoon() {
    if (this.held || this.running || this.retryTimer || this.soonTimer) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = null;
      this.flush();
    }, 0);
  }

  /**
   * The network or the server is back: try at once, unless the server asked us to wait
   * (Retry-After) and that wait is not over.
   */
  retryNow() {
    if (!this.items.length || this.held) return;
    if (this.retryTimer && performance.now() < this.notBefore) return;
    this.flush();
  }

  hold() {
    this.held = true;
  }

  release() {
    if (this.detached) return;
    this.held = false;
    this.flushSoon();
  }

  /** Stop sending and wait for the request in flight, so that what is queued is final. */
  async settle() {
    this.held = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.soonTimer);
    this.retryTimer = this.soonTimer = null;
    if (this.running) await this.running;
  }

  /**
   * This tab no longer owns the attempt (another tab took over): stop for good and never write
   * to storage again; what is stored now is the other tab's.
   */
  detach() {
    this.held = true;
    this.detached = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.soonTimer);
    this.retryTimer = this.soonTimer = null;
  }

  /** The server will never store these as answers: keep them as late answers (late.js). */
  moveToLate(saves, refusal) {
    if (!saves.length || this.detached) return;
    this.late.add(saves);
    this.remove(new Set(saves.map((s) => s.seq)));
    this.onLate(saves, refusal);
  }

  moveAllToLate(refusal = null) {
    this.moveToLate([...this.items], refusal);
  }

  /** Resolves when the queue is empty (sent or moved to the late store). */
  whenEmpty() {
    if (!this.items.length) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async run() {
    while (!this.held && this.items.length) {
      const batch = this.items.slice(0, this.limit);
      const where = this.where ? this.where() : null;
      const body = { saves: batch.map(wire) };
      if (where && Number.isInteger(where.position)) Object.assign(body, where);
      let response;
      try {
        response = await this.api.post("/answers", body);
      } catch (error) {
        if (this.detached) return false;
        if (!(error instanceof Refusal)) {
          this.retryLater(error.retryAfterMs);
          return false;
        }
        if (await this.refused(error, batch)) continue;
        return false;
      }
      if (this.detached) return false; // the other tab resends them: duplicates, harmless
      this.failures = 0;
      this.refusalRetries = 0;
      if (body.position != null) this.onSent(body.position);
      if (!this.acknowledge(batch, response && response.acks)) {
        this.retryLater(); // a 200 without usable acks: resend later (seq makes it idempotent)
        return false;
      }
    }
    return this.items.length === 0;
  }

  /** Handles a refused request; true to go on sending. */
  async refused(error, batch) {
    if (PER_SAVE.has(error.code)) {
      if (batch.length > 1) {
        this.limit = 1;
        this.singleUntil = batch[batch.length - 1].seq;
        return true;
      }
      if (LATE_PER_SAVE.has(error.code)) {
        this.moveToLate([batch[0]], error);
      } else {
        this.remove(new Set([batch[0].seq]));
        this.onDropped(batch[0], error);
      }
      return true;
    }
    const action = await this.onRefusal(error);
    if (action === "late") {
      this.moveAllToLate(error);
      return false;
    }
    if (action === "hold") {
      this.held = true;
      return false;
    }
    if (action === "retry" && this.refusalRetries < 2) {
      this.refusalRetries += 1;
      return true;
    }
    this.retryLater();
    return false;
  }

  acknowledge(batch, acks) {
    if (!Array.isArray(acks)) return 0;
    const done = new Set();
    const stored = [];
    let stale = false;
    batch.forEach((save, i) => {
      let ack = acks[i];
      if (!ack || ack.position !== save.position) {
        ack =
          acks.find((a) => a && a.position === save.position && a.seq === save.seq) ||
          acks.find((a) => a && a.position === save.position && a.status === "stale");
      }
      if (!ack || !ACKED.has(ack.status)) return;
      done.add(save.seq);
      if (ack.status === "stale") {
        stale = true;
        this.raiseSeq(ack.seq);
      } else {
        stored.push(save);
      }
    });
    this.remove(done);
    if (stored.length) this.onAcked(stored);
    if (stale) this.onStale();
    return done.size;
  }

  remove(seqs) {
    if (!seqs.size) return;
    this.items = this.items.filter((s) => !seqs.has(s.seq));
    if (this.limit < BATCH && (!this.items.length || this.items[0].seq > this.singleUntil)) {
      this.limit = BATCH;
    }
    this.persist();
  }

  /** The next try after the page's backoff, and never before the server's Retry-After. */
  retryLater(retryAfterMs = 0) {
    this.failures += 1;
    clearTimeout(this.retryTimer);
    const wait = Math.max(backoffMs(this.failures), retryAfterMs || 0);
    this.notBefore = performance.now() + (retryAfterMs || 0);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, wait);
  }

  persist() {
    if (!this.detached) this.store.saveQueue(this.items);
    if (!this.items.length) {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((resolve) => resolve());
    }
    this.onChange(this);
  }
}

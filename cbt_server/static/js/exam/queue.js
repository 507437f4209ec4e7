// The autosave queue. Every change becomes a save {position, answer, flagged, seq}; it is written
// to localStorage BEFORE it is sent, sent in order (one request in flight, up to 50 saves each),
// and removed only when the server acknowledges it (saved / duplicate / stale). So an answer is
// either acknowledged by the server or still on this PC - through reloads, crashes and outages.

import { Refusal } from "./api.js";
import { backoffMs } from "./timer.js";

const BATCH = 50;
const ACKED = new Set(["saved", "duplicate", "stale"]);
// Refusals that are about one save rather than the attempt: find it by sending one at a time,
// then drop it (the server will never accept it) so that it cannot block the saves behind it.
const PER_SAVE = new Set(["bad_request", "section_closed"]);

export class SaveQueue {
  /**
   * onChange(queue) after every change; onRefusal(refusal) -> "retry" | "hold" | "drop" |
   * "backoff" for a refusal of the whole request; onDropped(save, refusal) when one save is
   * dropped as unacceptable; onStale() when the server holds a newer answer than ours.
   */
  constructor({ api, store, onChange, onRefusal, onDropped, onStale }) {
    Object.assign(this, { api, store, onChange, onRefusal, onDropped, onStale });
    this.items = store.loadQueue();
    this.seq = Math.max(store.loadSeq(), 0, ...this.items.map((s) => s.seq));
    this.running = null;
    this.retryTimer = null;
    this.failures = 0;
    this.refusalRetries = 0;
    this.held = false;
    this.limit = BATCH;
    this.singleUntil = 0;
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
      this.store.saveSeq(value);
    }
  }

  add(position, answer, flagged) {
    this.seq += 1;
    this.store.saveSeq(this.seq);
    const save = { position, answer, flagged: Boolean(flagged), seq: this.seq };
    this.items.push(save);
    this.persist();
    this.flushSoon();
    return save;
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

  /** The browser says the network is back: try at once. */
  retryNow() {
    if (this.items.length) this.flush();
  }

  hold() {
    this.held = true;
  }

  release() {
    this.held = false;
    this.flushSoon();
  }

  /** Only for an attempt that is closed or past its deadline: these saves can never be stored. */
  dropAll() {
    this.items = [];
    this.persist();
  }

  /** Resolves when the queue is empty (sent or dropped). */
  whenEmpty() {
    if (!this.items.length) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async run() {
    while (!this.held && this.items.length) {
      const batch = this.items.slice(0, this.limit);
      let response;
      try {
        response = await this.api.post("/answers", { saves: batch });
      } catch (error) {
        if (!(error instanceof Refusal)) {
          this.retryLater();
          return false;
        }
        if (await this.refused(error, batch)) continue;
        return false;
      }
      this.failures = 0;
      this.refusalRetries = 0;
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
      this.remove(new Set([batch[0].seq]));
      this.onDropped(batch[0], error);
      return true;
    }
    const action = await this.onRefusal(error);
    if (action === "drop") {
      this.dropAll();
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
      }
    });
    this.remove(done);
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

  retryLater() {
    this.failures += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.flush();
    }, backoffMs(this.failures));
  }

  persist() {
    this.store.saveQueue(this.items);
    if (!this.items.length) {
      const waiters = this.waiters;
      this.waiters = [];
      waiters.forEach((resolve) => resolve());
    }
    this.onChange(this);
  }
}

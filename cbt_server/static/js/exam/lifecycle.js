// How the page follows the server: timing and state in every response, refusals, pause,
// the end of the attempt, and the heartbeat. Mixed into the Exam class (main.js).

import { Refusal } from "./api.js";
import { clearOffline } from "./offline.js";
import { backoffMs, sleep } from "./timer.js";

export const HEARTBEAT_MS = 15000;
export const PAUSED_POLL_MS = 5000;
// The attempt states that are over for good: a copy of FINISHED in
// cbt_server/delivery/lifecycle.py (the one definition of the states; keep them equal).
const FINISHED = new Set(["submitted", "expired", "voided"]);
const $ = (id) => document.getElementById(id);

export class LifecycleMethods {
  onQueueChange(queue) {
    document.body.dataset.queueLength = String(queue.length);
    this.ui.setSaveStatus(queue.length);
    this.updateRescue();
  }

  onLateChange() {
    if (!this.late) return;
    this.ui.setLate(this.store.lateTotal(), this.late.length);
    this.updateRescue();
  }

  /** How the last request went: "ok", "offline" (not reached) or "busy" (answered: not now). */
  onServer(kind) {
    if (this.tabStopped) return;
    const was = this.server;
    this.server = kind;
    this.ui.setServer(kind);
    if (kind === "ok") {
      this.unreachableSince = null;
      if (was !== "ok" && this.queue) {
        this.queue.retryNow();
        this.late.retryNow();
      }
    } else if (this.unreachableSince == null) {
      this.unreachableSince = performance.now();
    }
    this.updateRescue();
  }

  onResponse(data) {
    if (this.tabStopped) return;
    const attempt = data.attempt || data;
    if (data.csrf_token) this.api.setCsrf(data.csrf_token);
    if (typeof attempt.remaining_seconds === "number") {
      this.syncClock(attempt.remaining_seconds);
      if (this.store) {
        const clock = { remaining: attempt.remaining_seconds, state: attempt.state, at: Date.now() };
        if (this.loaded) clock.position = this.pos;
        this.store.saveClock(clock);
      }
    }
    if (typeof attempt.extra_seconds === "number") this.ui.noteExtraTime(attempt.extra_seconds);
    if (typeof attempt.state === "string") this.applyState(attempt.state, data.finish_url);
    // The page came from the service worker's copy: now that the server answers, load the real.
    if (this.stale && this.loaded && !this.reloading && !this.finished) this.reload();
  }

  syncClock(seconds) {
    const expected = this.clock.remaining();
    this.clock.sync(seconds);
    // An extension by the proctor: section limits may have moved too, so reload them.
    if (expected != null && seconds > expected + 3 && !this.paused) this.scheduleReload();
    if (seconds > 330) this.warned.five = false;
    if (seconds > 90) this.warned.one = false;
    if (seconds > 330) this.ui.hideTimeWarning();
  }

  applyState(state, url) {
    if (this.finished) return;
    if (FINISHED.has(state)) this.finish({ url });
    else if (state === "paused") this.setPaused(true);
    else if (state === "in_progress" && this.paused) this.setPaused(false);
  }

  setPaused(flag) {
    if (flag === this.paused || this.finished || this.tabStopped) return;
    if (flag) this.commitShort(); // typed text is kept (and sent after the pause)
    this.paused = flag;
    this.clock.freeze(flag);
    for (const clock of this.sectionClocks.values()) clock.freeze(flag);
    this.ui.showPaused(flag);
    this.updateInert();
    if (flag) {
      this.queue.hold();
      this.scheduleHeartbeat(PAUSED_POLL_MS);
    } else {
      this.queue.release();
      this.reload(); // section clocks were frozen too: take them from the server
      this.scheduleHeartbeat(HEARTBEAT_MS);
    }
  }

  updateInert() {
    const blocked = !this.loaded || this.paused || this.locked || this.halted || this.finished;
    this.root.inert = blocked;
    this.root.classList.toggle("blocked", blocked);
    const input = $("short-answer");
    if (input) input.readOnly = blocked;
  }

  lock(text) {
    this.locked = true;
    this.ui.showStatus(text);
    this.updateInert();
  }

  unlock() {
    this.locked = false;
    this.ui.showStatus(null);
    this.updateInert();
  }

  /**
   * The attempt is over (submitted, expired, voided): leave for the finish page. Saves still
   * queued get one last chance first (they may be inside the server's grace period), unless the
   * server has just refused them as too late. What the server did not take as answers by then
   * can never be answers: it goes to the late store (sent to /late-answers, here and on the
   * finish page), never away.
   */
  async finish({ url, message, lastTry = true } = {}) {
    if (this.finished || this.tabStopped) return;
    this.commitShort();
    this.finished = true;
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.positionTimer);
    this.updateInert();
    this.ui.setRescue(0, null);
    if (this.queue) {
      if (lastTry && this.queue.length) await Promise.race([this.queue.flush(), sleep(3000)]);
      await this.queue.settle();
      this.queue.moveAllToLate();
      if (this.late.length) await Promise.race([this.late.flush(), sleep(3000)]);
    }
    await clearOffline();
    const leave = () => window.location.assign(url || this.finishUrl);
    if (message) {
      this.ui.showError(message, { blocking: true, onOk: leave });
      setTimeout(leave, 4000);
    } else {
      leave();
    }
  }

  /** The page cannot go on (another device, logged out ...): the saves stay on this PC. */
  halt(message) {
    if (this.halted || this.finished) return;
    this.commitShort();
    this.halted = true;
    if (this.queue) this.queue.hold();
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.positionTimer);
    this.updateInert();
    this.ui.showError(message || this.S.error_generic, { reload: true });
    this.updateRescue();
  }

  handleRefusal(error) {
    switch (error.code) {
      case "attempt_closed":
      case "deadline_passed":
        this.finish({ message: error.serverMessage || this.S.attempt_over, lastTry: false });
        break;
      case "attempt_paused":
        this.setPaused(true);
        break;
      case "section_closed":
      case "csrf":
        this.reload(); // learns the open section; a new CSRF token comes with it
        break;
      case "other_device":
      case "not_logged_in":
      case "login_expired":
      case "login_ended": // a proctor's reset: the exam goes on on another PC
      case "no_attempt":
        this.halt(error.serverMessage);
        break;
      case "unexpected_response":
        this.halt(this.S.error_unexpected);
        break;
      default:
        this.ui.showError(error.serverMessage || this.S.error_generic);
    }
  }

  async onSaveRefusal(error) {
    switch (error.code) {
      case "attempt_closed":
      case "deadline_passed":
        this.handleRefusal(error);
        return "late"; // refused for good as answers: the queue keeps them as late answers
      case "attempt_paused":
        this.setPaused(true);
        return "hold";
      case "csrf":
        return (await this.reload()) ? "retry" : "backoff";
      case "other_device":
      case "not_logged_in":
      case "login_expired":
      case "login_ended": // a proctor's reset: the exam goes on on another PC
      case "no_attempt":
      case "unexpected_response":
        this.handleRefusal(error);
        return "hold";
      default:
        if (!this.refusalShown) this.ui.showError(error.serverMessage || this.S.error_generic);
        this.refusalShown = true;
        return "backoff";
    }
  }

  onSaveDropped(save, error) {
    // The server will never store it: show the server's answer again instead.
    const shown = this.local.get(save.position);
    if (shown && shown.seq === save.seq) shown.seq = 0;
    if (error.code === "bad_request") this.ui.showError(error.serverMessage || this.S.error_generic);
    this.scheduleReload();
  }

  /** Saves the server refused for good as answers went to the late store (late.js). */
  onSavesLate(saves) {
    for (const save of saves) {
      const shown = this.local.get(save.position);
      if (shown && shown.seq === save.seq) shown.seq = 0; // the server's answer is what counts
    }
    if (!this.finished) this.scheduleReload();
  }

  /** Remember what the server stored, for a copy of the page shown while it cannot be reached. */
  onAcked(saves) {
    let changed = false;
    for (const save of saves) {
      const known = this.acked[save.position];
      if (!known || Number(known.seq) < save.seq) {
        this.acked[save.position] = { answer: save.answer, flagged: Boolean(save.flagged), seq: save.seq };
        changed = true;
      }
    }
    if (changed && this.store) this.store.saveAcked(this.acked);
  }

  scheduleHeartbeat(ms) {
    clearTimeout(this.heartbeatTimer);
    if (this.finished || this.halted) return;
    this.heartbeatTimer = setTimeout(() => this.heartbeat(), ms);
  }

  /**
   * Every 15 s (5 s while paused): the server's clock and state reach the page. While the
   * server cannot be reached it is tried sooner (backoff from 1 s), so that the page notices
   * its return quickly and sends what it queued.
   */
  async heartbeat() {
    clearTimeout(this.heartbeatTimer);
    if (this.finished || this.halted) return;
    this.integrity.flush();
    let ok = false;
    const where = this.where();
    const position = where.position;
    try {
      await this.api.post("/heartbeat", where);
      ok = true;
      this.heartbeatFailures = 0;
      this.reportedPos = position;
    } catch (error) {
      if (error instanceof Refusal) this.handleRefusal(error);
      else this.heartbeatFailures += 1;
    }
    let next = this.paused ? PAUSED_POLL_MS : HEARTBEAT_MS;
    if (!ok && this.heartbeatFailures) next = Math.min(next, backoffMs(this.heartbeatFailures));
    this.scheduleHeartbeat(next);
  }
}

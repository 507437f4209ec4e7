// How the page follows the server: timing and state in every response, refusals, pause,
// the end of the attempt, and the heartbeat. Mixed into the Exam class (main.js).

import { Refusal } from "./api.js";
import { sleep } from "./timer.js";

export const HEARTBEAT_MS = 15000;
export const PAUSED_POLL_MS = 5000;
const FINISHED = new Set(["submitted", "expired", "voided"]);
const $ = (id) => document.getElementById(id);

export class LifecycleMethods {
  onQueueChange(queue) {
    document.body.dataset.queueLength = String(queue.length);
    this.ui.setSaveStatus(queue.length);
  }

  onResponse(data) {
    const attempt = data.attempt || data;
    if (data.csrf_token) this.api.setCsrf(data.csrf_token);
    if (typeof attempt.remaining_seconds === "number") this.syncClock(attempt.remaining_seconds);
    if (typeof attempt.state === "string") this.applyState(attempt.state, data.finish_url);
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
    if (flag === this.paused || this.finished) return;
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
   * server has just refused them as too late; after that they can never be stored.
   */
  async finish({ url, message, lastTry = true } = {}) {
    if (this.finished) return;
    this.commitShort();
    this.finished = true;
    clearTimeout(this.heartbeatTimer);
    this.updateInert();
    if (lastTry && this.queue.length) await Promise.race([this.queue.flush(), sleep(3000)]);
    this.queue.dropAll();
    this.queue.hold();
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
    this.queue.hold();
    clearTimeout(this.heartbeatTimer);
    this.updateInert();
    this.ui.showError(message || this.S.error_generic, { reload: true });
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
        return "drop";
      case "attempt_paused":
        this.setPaused(true);
        return "hold";
      case "csrf":
        return (await this.reload()) ? "retry" : "backoff";
      case "other_device":
      case "not_logged_in":
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

  scheduleHeartbeat(ms) {
    clearTimeout(this.heartbeatTimer);
    if (this.finished || this.halted) return;
    this.heartbeatTimer = setTimeout(() => this.heartbeat(), ms);
  }

  async heartbeat() {
    clearTimeout(this.heartbeatTimer);
    if (this.finished || this.halted) return;
    this.integrity.flush();
    try {
      await this.api.post("/heartbeat", { position: this.pos });
    } catch (error) {
      if (error instanceof Refusal) this.handleRefusal(error);
    }
    this.scheduleHeartbeat(this.paused ? PAUSED_POLL_MS : HEARTBEAT_MS);
  }
}

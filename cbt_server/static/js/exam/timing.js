// The clocks on screen, the time warnings, and what happens when a section's or the attempt's
// time is up. Mixed into the Exam class (main.js).

import { Refusal } from "./api.js";
import { backoffMs, sleep } from "./timer.js";

/** After the page's time is up, the server is asked at least this often while unreachable. */
const TIME_UP_POLL_MAX_MS = 5000;

export class TimingMethods {
  tick() {
    this.updateRescue();
    const remaining = this.clock.remaining();
    const section = this.section(this.pos);
    const sectionClock = section ? this.sectionClocks.get(section.index) : null;
    let sectionRemaining = sectionClock ? sectionClock.remaining() : null;
    if (sectionRemaining != null && remaining != null) sectionRemaining = Math.min(sectionRemaining, remaining);
    this.ui.setClocks(remaining, sectionRemaining);
    if (remaining == null || this.finished || this.halted || this.paused) return;
    if (remaining <= 0) {
      this.onTimeUp();
      return;
    }
    if (remaining <= 60 && !this.warned.one) {
      this.warned.one = this.warned.five = true;
      this.ui.showTimeWarning(this.S.warn_1);
    } else if (remaining <= 300 && !this.warned.five) {
      this.warned.five = true;
      this.ui.showTimeWarning(this.S.warn_5);
    } else if (section && sectionRemaining != null && sectionRemaining < remaining - 1) {
      this.warnSection(section.index, sectionRemaining); // the section ends before the test
    }
    for (const [index, clock] of this.sectionClocks) {
      if (clock.remaining() <= 0) this.onSectionTimeUp(index);
    }
  }

  /** A timed section that ends before the test: warn at 5 and at 1 minute, once each. */
  warnSection(index, left) {
    if (!this.sectionWarned || this.sectionWarned.index !== index) {
      this.sectionWarned = { index, five: false, one: false };
    }
    const warned = this.sectionWarned;
    if (left <= 60 && !warned.one) {
      warned.one = warned.five = true;
      this.ui.showTimeWarning(this.S.section_warn_1);
    } else if (left <= 300 && !warned.five) {
      warned.five = true;
      this.ui.showTimeWarning(this.S.section_warn_5);
    }
  }

  /**
   * The attempt's time is up on this page's clock: stop input, send what is queued, and ask the
   * server - which owns the clock - what now. While it cannot be reached the page says so, keeps
   * every answer and keeps asking (backoff, at most TIME_UP_POLL_MAX_MS apart). When it answers:
   * time left (an outage given back, a proctor's extension or reopening) - answering goes on;
   * closed - the finish flow sends or keeps (late store) what is queued, then leaves.
   */
  async onTimeUp() {
    if (this.timeUp || this.finished || this.halted) return;
    this.timeUp = true;
    this.commitShort();
    this.lock(this.S.time_up);
    this.queue.flush();
    let failures = 0;
    while (!this.finished && !this.halted) {
      let answered = false;
      try {
        await this.api.post("/heartbeat", this.where());
        answered = true;
      } catch (error) {
        if (error instanceof Refusal) this.handleRefusal(error);
      }
      if (this.finished || this.halted) return; // its state sent us to the finish page
      if (answered && (this.paused || this.clock.remaining() > 2)) {
        this.timeUp = false; // time was given back or added: go on
        this.unlock();
        this.queue.retryNow();
        return;
      }
      if (answered) {
        // Inside the server's grace period: it closes the attempt in a moment.
        failures = 0;
        this.ui.showStatus(this.S.time_up);
        this.queue.retryNow();
        await sleep(1000);
      } else {
        this.ui.showStatus(this.S.time_up_waiting);
        await sleep(Math.min(TIME_UP_POLL_MAX_MS, backoffMs(++failures)));
      }
    }
  }

  /** A timed section's time is up: send its saves, then reload; the server opened the next. */
  async onSectionTimeUp(index) {
    if (this.sectionEnding || this.timeUp || this.finished || this.halted) return;
    this.sectionEnding = true;
    this.commitShort();
    this.lock(this.S.section_time_up);
    this.queue.flush();
    await Promise.race([this.queue.whenEmpty(), sleep(8000)]);
    let failures = 0;
    let stillOpen = 0;
    while (!this.finished && !this.halted && !this.timeUp) {
      const ok = await this.reload();
      if (ok) {
        const section = this.sectionByIndex.get(index);
        const clock = this.sectionClocks.get(index);
        if (!section || section.state !== "open" || (clock && clock.remaining() > 1)) break;
        if (++stillOpen >= 10) break;
        await sleep(1500);
      } else {
        await sleep(backoffMs(++failures));
      }
    }
    this.sectionEnding = false;
    if (!this.finished && !this.halted && !this.timeUp) this.unlock();
  }
}

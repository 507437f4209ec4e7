// The clocks on screen, the time warnings, and what happens when a section's or the attempt's
// time is up. Mixed into the Exam class (main.js).

import { Refusal } from "./api.js";
import { backoffMs, sleep } from "./timer.js";

export class TimingMethods {
  tick() {
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
    }
    for (const [index, clock] of this.sectionClocks) {
      if (clock.remaining() <= 0) this.onSectionTimeUp(index);
    }
  }

  /** The attempt's time is up: stop input, send what is left, then go to the finish page. */
  async onTimeUp() {
    if (this.timeUp || this.finished) return;
    this.timeUp = true;
    this.commitShort();
    this.lock(this.S.time_up);
    this.queue.flush();
    await this.queue.whenEmpty();
    let failures = 0;
    while (!this.finished && !this.halted) {
      try {
        await this.api.post("/heartbeat", { position: this.pos });
        break; // its state may already have sent us to the finish page
      } catch (error) {
        if (error instanceof Refusal) {
          this.handleRefusal(error);
          break;
        }
        await sleep(backoffMs(++failures));
      }
    }
    if (this.finished || this.halted) return;
    if (this.clock.remaining() > 2) {
      this.timeUp = false; // a last-second extension by the proctor
      this.unlock();
      return;
    }
    this.finish({});
  }

  /** A timed section's time is up: send its saves, then reload; the server opened the next. */
  async onSectionTimeUp(index) {
    if (this.sectionEnding || this.timeUp || this.finished) return;
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

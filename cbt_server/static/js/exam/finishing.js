// Finishing a timed section early and submitting the attempt: both first send every pending
// save, and both ask for confirmation. Mixed into the Exam class (main.js).

import { NetworkError } from "./api.js";
import { fmt, isAnswered } from "./model.js";

const $ = (id) => document.getElementById(id);

export class FinishingMethods {
  /**
   * Sends every pending save; false (after telling the participant) when that is impossible.
   * messages: {offline, busy}: the server could not be reached / answered that it cannot now.
   */
  async sendAllOrExplain(messages) {
    if (await this.queue.flush()) return true;
    if (!this.finished && !this.halted && !this.paused) {
      this.ui.showError(this.server === "busy" ? messages.busy : messages.offline);
    }
    return false;
  }

  async finishSection() {
    const section = this.section(this.pos);
    if (!section || section.state !== "open" || !this.canEdit()) return;
    this.commitShort();
    const unanswered = this.items.filter(
      (item) => item.section === section.index && !isAnswered(this.entry(item.position).answer),
    ).length;
    $("confirm-finish-section-text").textContent = fmt(this.S.confirm_finish_counts, { unanswered });
    const yes = await this.ui.ask($("confirm-finish-section"), $("btn-confirm-finish-section"));
    if (!yes || !this.canEdit()) return;
    this.lock(this.S.finishing_section);
    try {
      const messages = { offline: this.S.finish_section_offline, busy: this.S.finish_section_busy };
      if (!(await this.sendAllOrExplain(messages))) return;
      try {
        await this.api.post(`/sections/${section.index}/finish`, {});
      } catch (error) {
        if (error instanceof NetworkError) {
          this.ui.showError(messages[error.kind] || messages.offline);
          return;
        }
        if (error.code !== "section_closed") {
          this.handleRefusal(error);
          return;
        }
      }
      await this.reload();
    } finally {
      if (!this.finished && !this.halted) this.unlock();
    }
  }

  async submit() {
    if (this.finished || this.halted || this.locked) return;
    this.commitShort();
    const open = this.items;
    const unanswered = open.filter((item) => !isAnswered(this.entry(item.position).answer)).length;
    const flagged = open.filter((item) => this.entry(item.position).flagged).length;
    $("confirm-submit-text").textContent = fmt(this.S.confirm_submit_counts, { unanswered, flagged });
    const yes = await this.ui.ask($("confirm-submit"), $("btn-confirm-submit"));
    if (!yes || this.finished || this.halted || this.locked) return;
    this.lock(this.S.submitting);
    try {
      const messages = { offline: this.S.submit_offline, busy: this.S.submit_busy };
      if (!(await this.sendAllOrExplain(messages))) return;
      try {
        const result = await this.api.post("/submit", {});
        this.finish({ url: result.finish_url });
      } catch (error) {
        if (error instanceof NetworkError) this.ui.showError(messages[error.kind] || messages.offline);
        else this.handleRefusal(error);
      }
    } finally {
      if (!this.finished && !this.halted) this.unlock();
    }
  }
}

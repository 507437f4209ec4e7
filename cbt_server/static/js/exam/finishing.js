// Finishing a section (timed or not) and submitting the attempt: both first send every pending
// save, and both ask for confirmation with the counts the review shows (progress.js). Mixed
// into the Exam class (main.js).

import { NetworkError } from "./api.js";
import { fmt } from "./model.js";
import { lockedRows, progressTotals } from "./progress.js";
import { fillWarnings, sectionTitle } from "./render.js";

const $ = (id) => document.getElementById(id);
/** Statuses that mean "not now" (the server said so): the rest of 5xx are errors. */
const BUSY = new Set([408, 429, 503]);

/**
 * What to tell when a request failed without a refusal: no answer at all (the network), the
 * server saying it is busy, or the server answering with an error - never the network then.
 */
function networkMessage(error, messages) {
  if (!error.status) return messages.offline;
  if (BUSY.has(error.status)) return messages.busy;
  return fmt(messages.error, { status: error.status });
}

export class FinishingMethods {
  /**
   * Sends every pending save; false (after telling the participant) when that is impossible.
   * messages: {offline, busy, refused, error}: the server could not be reached / answered that
   * it cannot now / answered but did not take every save / answered with an error (status).
   */
  async sendAllOrExplain(messages) {
    if (await this.queue.flush()) return true;
    if (!this.finished && !this.halted && !this.paused) {
      const kind = this.server === "busy" || this.server === "offline" ? this.server : "refused";
      this.ui.showError(messages[kind]);
    }
    return false;
  }

  async finishSection() {
    const section = this.section(this.pos);
    if (!section || section.state !== "open" || !this.canEdit()) return;
    this.commitShort();
    const row = this.progress().find((r) => r.section && r.section.index === section.index);
    const { unanswered = 0, flagged = 0, unseen = 0 } = row || {};
    $("confirm-finish-section-text").textContent = fmt(this.S.confirm_finish_counts, {
      unanswered,
      flagged,
      unseen,
    });
    const yes = await this.ui.ask($("confirm-finish-section"), $("btn-confirm-finish-section"));
    if (!yes || !this.canEdit()) return;
    this.lock(this.S.finishing_section);
    try {
      const messages = {
        offline: this.S.finish_section_offline,
        busy: this.S.finish_section_busy,
        refused: this.S.finish_section_refused,
        error: this.S.finish_section_error,
      };
      if (!(await this.sendAllOrExplain(messages))) return;
      try {
        await this.api.post(`/sections/${section.index}/finish`, {});
      } catch (error) {
        if (error instanceof NetworkError) {
          this.ui.showError(networkMessage(error, messages));
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
    // Every section counts, opened or not: the same numbers as the review's totals.
    const rows = this.progress();
    const { unanswered, flagged, unseen } = progressTotals(rows);
    $("confirm-submit-text").textContent = fmt(this.S.confirm_submit_counts, { unanswered, flagged });
    const warnings = [];
    if (unseen) warnings.push(fmt(this.S.confirm_submit_unseen, { unseen }));
    for (const row of lockedRows(rows)) {
      warnings.push(fmt(this.S.section_not_opened, { title: sectionTitle(row.section, this.S), count: row.total }));
    }
    fillWarnings($("confirm-submit-warnings"), warnings);
    const yes = await this.ui.ask($("confirm-submit"), $("btn-confirm-submit"));
    if (!yes || this.finished || this.halted || this.locked) return;
    this.lock(this.S.submitting);
    try {
      const messages = {
        offline: this.S.submit_offline,
        busy: this.S.submit_busy,
        refused: this.S.submit_refused,
        error: this.S.submit_error,
      };
      if (!(await this.sendAllOrExplain(messages))) return;
      try {
        const result = await this.api.post("/submit", {});
        this.finish({ url: result.finish_url });
      } catch (error) {
        if (error instanceof NetworkError) this.ui.showError(networkMessage(error, messages));
        else this.handleRefusal(error);
      }
    } finally {
      if (!this.finished && !this.halted) this.unlock();
    }
  }
}

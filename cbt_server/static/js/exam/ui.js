// The page's fixed furniture: clocks, save status, banners, overlays and dialogs.
// Every element is in templates/exam/take.html; this module only fills and toggles them.

import { fmt } from "./model.js";
import { read, write } from "./store.js";
import { hms } from "./timer.js";

const $ = (id) => document.getElementById(id);
/** Text sizes of the A-/A+ buttons (a factor on the item's text); the second is the default. */
export const TEXT_SCALES = [0.9, 1, 1.15, 1.3, 1.5];
const DEFAULT_TEXT = 1;

export function readStrings() {
  try {
    return JSON.parse($("exam-strings").textContent) || {};
  } catch {
    return {};
  }
}

export function createUi(strings) {
  const els = {
    countdown: $("countdown"),
    clock: $("attempt-clock"),
    sectionClock: $("section-clock"),
    sectionCountdown: $("section-countdown"),
    saveStatus: $("save-status"),
    offline: $("offline-banner"),
    offlineCopy: $("offline-copy"),
    busy: $("busy-banner"),
    late: $("late-banner"),
    lateText: $("late-text"),
    lateStatus: $("late-status"),
    rescue: $("rescue"),
    rescueText: $("rescue-text"),
    rescueButton: $("btn-rescue"),
    errorRescue: $("btn-error-rescue"),
    warning: $("time-warning"),
    warningText: $("time-warning-text"),
    warningClose: $("btn-close-warning"),
    paused: $("paused-overlay"),
    status: $("status-overlay"),
    statusText: $("status-overlay-text"),
    errorDialog: $("error-dialog"),
    errorText: $("error-text"),
    errorOk: $("btn-error-ok"),
    errorReload: $("btn-error-reload"),
    notice: $("notice-banner"),
    noticeText: $("notice-text"),
    noticeClose: $("btn-close-notice"),
    textSmaller: $("btn-text-smaller"),
    textLarger: $("btn-text-larger"),
  };
  const root = $("exam");
  const attemptKey = root ? root.dataset.attemptId : "";
  // Kept per participant (a lab PC serves many), across reloads, items and attempts.
  const textKey = `cbt-textsize-${(root && root.dataset.participant) || attemptKey}`;
  let textStep = DEFAULT_TEXT;
  let errorBlocking = false;
  let errorOnOk = null;

  els.warningClose.addEventListener("click", () => {
    els.warning.hidden = true;
  });
  if (els.noticeClose) {
    els.noticeClose.addEventListener("click", () => {
      els.notice.hidden = true;
    });
  }

  function setTextStep(step, keep) {
    textStep = Math.max(0, Math.min(TEXT_SCALES.length - 1, Number.isInteger(step) ? step : DEFAULT_TEXT));
    document.documentElement.style.setProperty("--text-scale", String(TEXT_SCALES[textStep]));
    document.body.dataset.textSize = String(textStep);
    if (els.textSmaller) els.textSmaller.disabled = textStep === 0;
    if (els.textLarger) els.textLarger.disabled = textStep === TEXT_SCALES.length - 1;
    if (keep) write(textKey, textStep);
  }
  setTextStep(read(textKey, DEFAULT_TEXT), false);
  if (els.textSmaller) els.textSmaller.addEventListener("click", () => setTextStep(textStep - 1, true));
  if (els.textLarger) els.textLarger.addEventListener("click", () => setTextStep(textStep + 1, true));
  els.errorDialog.addEventListener("cancel", (event) => {
    if (errorBlocking) event.preventDefault();
  });
  els.errorOk.addEventListener("click", () => {
    const then = errorOnOk;
    errorOnOk = null;
    errorBlocking = false;
    els.errorDialog.close();
    if (then) then();
  });
  els.errorReload.addEventListener("click", () => window.location.reload());
  for (const button of document.querySelectorAll("dialog [data-close-dialog]")) {
    button.addEventListener("click", () => button.closest("dialog").close());
  }

  function openDialog(dialog) {
    if (!dialog.open) dialog.showModal();
  }

  return {
    els,

    setClocks(attemptSeconds, sectionSeconds) {
      els.countdown.textContent = hms(attemptSeconds);
      els.clock.classList.toggle("low", attemptSeconds != null && attemptSeconds <= 300);
      els.sectionClock.hidden = sectionSeconds == null;
      // With a section clock, the section's time is the one that binds first: it is the big one.
      els.clock.classList.toggle("clock-secondary", sectionSeconds != null);
      if (sectionSeconds != null) {
        els.sectionCountdown.textContent = hms(sectionSeconds);
        els.sectionClock.classList.toggle("low", sectionSeconds <= 60);
      }
    },

    setSaveStatus(pending) {
      els.saveStatus.textContent = pending ? strings.saving : strings.saved;
      els.saveStatus.classList.toggle("pending", pending > 0);
      els.saveStatus.title = pending ? String(pending) : "";
    },

    /** "ok", "offline" (the server cannot be reached) or "busy" (it answered: not now). */
    setServer(kind) {
      els.offline.hidden = kind !== "offline";
      els.busy.hidden = kind !== "busy";
      document.body.dataset.server = kind;
    },

    /** The test is shown from the copy kept on this PC (the service worker's cache). */
    setOfflineCopy(flag) {
      els.offlineCopy.hidden = !flag;
      document.body.dataset.offlineCopy = flag ? "1" : "0";
    },

    /** total: answers ever moved to the late store; pending: not yet taken by the server. */
    setLate(total, pending) {
      document.body.dataset.lateLength = String(pending);
      els.late.hidden = !total;
      if (!total) return;
      els.lateText.textContent = fmt(strings.late_notice, { n: total });
      els.lateStatus.textContent = pending ? fmt(strings.late_pending, { n: pending }) : strings.late_done;
    },

    /** count > 0: offer the rescue file for that many undelivered answers. */
    setRescue(count, onClick) {
      const show = count > 0;
      els.rescue.hidden = !show;
      els.errorRescue.hidden = !show;
      document.body.dataset.rescue = show ? "1" : "0";
      if (show) els.rescueText.textContent = fmt(strings.rescue_text, { n: count });
      els.rescueButton.onclick = onClick;
      els.errorRescue.onclick = onClick;
    },

    /** A message about what the proctor did (more time ...), until closed. */
    showNotice(text) {
      if (!els.notice) return;
      els.noticeText.textContent = text;
      els.notice.hidden = false;
    },

    /**
     * The attempt's extra time so far (from GET /attempt): when it grew since this PC last saw
     * it (kept per attempt, so a reload after the extension still tells), say by how much.
     */
    noteExtraTime(total) {
      if (typeof total !== "number" || !Number.isFinite(total)) return;
      const key = `cbt-extra-${attemptKey}`;
      const known = read(key, null);
      if (known !== total) write(key, total);
      if (typeof known === "number" && total > known) {
        const minutes = Math.max(1, Math.round((total - known) / 60));
        this.showNotice(fmt(strings.time_added, { minutes }));
      }
    },

    showTimeWarning(text) {
      els.warningText.textContent = text;
      els.warning.hidden = false;
    },

    hideTimeWarning() {
      els.warning.hidden = true;
    },

    showPaused(flag) {
      els.paused.hidden = !flag;
    },

    /** A blocking message over the page (time is up, a section is closing ...), or null. */
    showStatus(text) {
      els.status.hidden = !text;
      if (text) els.statusText.textContent = text;
    },

    /** Ask with a confirmation <dialog>; resolves true only when `yes` was clicked. */
    ask(dialog, yes) {
      return new Promise((resolve) => {
        let answer = false;
        const onYes = () => {
          answer = true;
          dialog.close();
        };
        yes.addEventListener("click", onYes);
        dialog.addEventListener(
          "close",
          () => {
            yes.removeEventListener("click", onYes);
            resolve(answer);
          },
          { once: true },
        );
        openDialog(dialog);
      });
    },

    /**
     * The error dialog. blocking: Escape does not close it; reload: offer "Muat ulang" instead
     * of OK (the page cannot go on); onOk: called when OK is clicked.
     */
    showError(message, { blocking = false, reload = false, onOk = null } = {}) {
      if (els.errorDialog.open && errorBlocking && !(blocking || reload)) return; // keep the graver one
      els.errorText.textContent = message || strings.error_generic;
      errorBlocking = blocking || reload;
      errorOnOk = onOk;
      els.errorOk.hidden = reload;
      els.errorReload.hidden = !reload;
      openDialog(els.errorDialog);
      (reload ? els.errorReload : els.errorOk).focus();
    },

    closeDialogs() {
      errorBlocking = false;
      errorOnOk = null;
      for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
    },

    anyDialogOpen() {
      return Boolean(document.querySelector("dialog[open]"));
    },
  };
}

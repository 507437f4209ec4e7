// The page's fixed furniture: clocks, save status, banners, overlays and dialogs.
// Every element is in templates/exam/take.html; this module only fills and toggles them.

import { fmt } from "./model.js";
import { hms } from "./timer.js";

const $ = (id) => document.getElementById(id);

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
  };
  let errorBlocking = false;
  let errorOnOk = null;

  els.warningClose.addEventListener("click", () => {
    els.warning.hidden = true;
  });
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

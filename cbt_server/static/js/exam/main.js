// The exam page's controller: loads the attempt, shows one item at a time, records every change
// through the save queue, keeps the clocks in step with the server and reacts to its states.
// Invariants (docs/DESIGN.md): the server owns the clock; an acknowledged answer is never lost,
// and an answer given on this PC is never deleted unsent (docs/delivery.md, "Autosave").
// The server-state handling, the clocks and the finishing flows live in lifecycle.js, timing.js
// and finishing.js; their methods are mixed into Exam at the end of this file.

import { Refusal, createApi } from "./api.js";
import { FinishingMethods } from "./finishing.js";
import { createIntegrity } from "./integrity.js";
import { LateBox } from "./late.js";
import { HEARTBEAT_MS, LifecycleMethods, PAUSED_POLL_MS } from "./lifecycle.js";
import { answerAfterChoice, isAnswered, LETTERS, optionsOf } from "./model.js";
import { clearOffline, keepOffline, offlineCapable } from "./offline.js";
import { sectionProgress } from "./progress.js";
import { SaveQueue } from "./queue.js";
import * as view from "./render.js";
import { downloadRescue } from "./rescue.js";
import { createStore } from "./store.js";
import { claimTab } from "./tabs.js";
import { Countdown, backoffMs, sleep } from "./timer.js";
import { TimingMethods } from "./timing.js";
import { createUi, readStrings } from "./ui.js";

const SHORT_DEBOUNCE_MS = 600;
const TICK_MS = 250;
/** Position reports: at most one per this many ms, and none the last save request carried. */
const POSITION_DEBOUNCE_MS = 3000;
/** Undelivered answers and no server for this long: offer the rescue file. */
export const RESCUE_AFTER_MS = 60000;
const $ = (id) => document.getElementById(id);
// The page's module graph, for the service worker to keep (offline.js).
const MODULES = [
  "../exam.js", "./api.js", "./finishing.js", "./integrity.js", "./late.js", "./lifecycle.js",
  "./main.js", "./model.js", "./offline.js", "./progress.js", "./queue.js", "./render.js", "./rescue.js",
  "./store.js", "./tabs.js", "./timer.js", "./timing.js", "./ui.js",
].map((path) => new URL(path, import.meta.url).pathname);

export function boot(root) {
  if (root) new Exam(root).start();
}

class Exam {
  constructor(root) {
    this.root = root;
    this.attemptId = root.dataset.attemptId;
    this.finishUrl = root.dataset.finishUrl;
    this.S = readStrings();
    this.ui = createUi(this.S);
    const meta = document.querySelector('meta[name="csrf-token"]');
    this.api = createApi({
      base: root.dataset.apiBase,
      csrf: meta ? meta.content : "",
      onResponse: (data) => this.onResponse(data),
      onNetwork: (kind) => this.onServer(kind),
    });
    // The queue and the late store read localStorage: created in start(), once this tab owns
    // the attempt (tabs.js).
    this.store = null;
    this.queue = null;
    this.late = null;
    this.acked = {};
    this.integrity = createIntegrity({ api: this.api, position: () => this.pos });
    this.clock = new Countdown();
    this.sectionClocks = new Map();
    this.items = [];
    this.sections = [];
    this.byPos = new Map();
    this.sectionByIndex = new Map();
    this.local = new Map(); // position -> {answer, flagged, seq}: what the page shows
    this.navButtons = new Map();
    // Sections whose instructions were passed and positions shown, kept across reloads
    // (store.js, cbt-seen-<id>): a started section opens at its items, not its instructions.
    this.seen = new Set();
    this.seenItems = new Set();
    this.pos = 0;
    this.posSince = performance.now(); // when this.pos was shown (the item-time report)
    this.reportedPos = null; // the position the server last heard from this page
    this.view = "loading";
    this.paused = false;
    this.locked = false;
    this.halted = false;
    this.tabStopped = false;
    this.finished = false;
    this.timeUp = false;
    this.sectionEnding = false;
    this.warned = { five: false, one: false };
    this.loaded = false;
    this.stale = false; // showing the service worker's copy: the server has not answered yet
    this.server = "ok";
    this.unreachableSince = null;
    this.offlineReady = false;
    this.rescueShown = 0;
    this.heartbeatFailures = 0;
  }

  // ---- start-up -----------------------------------------------------------------------------

  async start() {
    this.updateInert();
    document.body.dataset.tab = "claiming";
    await claimTab(this.attemptId, {
      onTakenOver: () => this.stopTab(),
      onLateHandover: () => {
        if (this.queue) this.queue.adoptStored();
        if (this.late) this.late.adoptStored();
      },
    });
    if (this.tabStopped) return;
    document.body.dataset.tab = "active";
    this.store = createStore(this.attemptId);
    this.acked = this.store.loadAcked();
    const seen = this.store.loadSeen();
    this.seen = new Set(seen.sections);
    this.seenItems = new Set(seen.items);
    this.late = new LateBox({ api: this.api, store: this.store, onChange: () => this.onLateChange() });
    this.queue = new SaveQueue({
      api: this.api,
      store: this.store,
      late: this.late,
      where: () => (this.loaded ? this.where() : null),
      onChange: (queue) => this.onQueueChange(queue),
      onRefusal: (error) => this.onSaveRefusal(error),
      onDropped: (save, error) => this.onSaveDropped(save, error),
      onLate: (saves, error) => this.onSavesLate(saves, error),
      onAcked: (saves) => this.onAcked(saves),
      onSent: (position) => {
        this.reportedPos = position;
      },
      onStale: () => this.scheduleReload(),
    });
    this.onQueueChange(this.queue);
    this.onLateChange();
    this.integrity.install($("view-item"));
    this.wire();
    setInterval(() => this.tick(), TICK_MS);
    this.late.flushSoon();
    // Saves left by a crash or an outage go first, so the attempt we load already has them.
    if (this.queue.length) await this.queue.flush();
    let failures = 0;
    while (!this.finished && !this.halted) {
      try {
        const data = await this.api.get("");
        if (data.offlineCopy) {
          this.useOfflineCopy(data);
        } else {
          this.lastAttemptJson = JSON.stringify(data);
          this.reportedPos = Number(data.attempt.current_position) || 0;
        }
        this.loaded = true;
        this.updateInert();
        this.applyAttempt(data.attempt, true);
        if (data.offlineCopy && data.attempt.state === "paused") this.setPaused(true);
        break;
      } catch (error) {
        if (error instanceof Refusal) {
          this.handleRefusal(error);
          return;
        }
        $("loading-text").textContent = this.S.loading_retry;
        await sleep(backoffMs(++failures));
      }
    }
    if (this.halted) return;
    document.body.dataset.ready = "1";
    this.tick();
    this.scheduleHeartbeat(this.paused ? PAUSED_POLL_MS : this.stale ? 1000 : HEARTBEAT_MS);
    this.prepareOffline();
  }

  /** Ask the service worker to keep this page, its files and the attempt for a reload offline. */
  prepareOffline() {
    document.body.dataset.offlineReady = "0";
    if (!offlineCapable()) return;
    keepOffline({
      attemptId: this.attemptId,
      attemptJson: this.stale ? null : this.lastAttemptJson,
      modules: MODULES,
    }).then((ok) => {
      this.offlineReady = ok || this.stale;
      document.body.dataset.offlineReady = this.offlineReady ? "1" : "0";
    });
  }

  /**
   * The server could not be reached and the service worker answered with its copy: show it,
   * with the answers this PC knows the server has (acknowledged) and the queue, and a clock
   * estimated from the copy's age - the server corrects it on its first answer.
   */
  useOfflineCopy(data) {
    const attempt = data.attempt;
    this.stale = true;
    this.ui.setOfflineCopy(true);
    const now = Date.now();
    const fromCopy = { remaining: Number(attempt.remaining_seconds) || 0, state: attempt.state, at: data.offlineCopy.storedAt };
    const saved = this.store.loadClock();
    const base = saved && saved.at > fromCopy.at ? saved : fromCopy;
    const running = base.state !== "paused";
    const elapsed = (at) => (running ? Math.max(0, now - at) / 1000 : 0);
    const estimate = Math.max(0, base.remaining - elapsed(base.at));
    attempt.remaining_seconds = estimate;
    if (base.state === "paused" || base.state === "in_progress") attempt.state = base.state;
    if (saved && Number.isInteger(saved.position)) attempt.current_position = saved.position;
    // A section's time runs with the copy's age and never past the attempt's.
    for (const section of attempt.sections || []) {
      if (typeof section.remaining_seconds === "number") {
        const left = section.remaining_seconds - elapsed(fromCopy.at);
        section.remaining_seconds = Math.max(0, Math.min(left, estimate));
      }
    }
    this.clock.sync(estimate);
  }

  wire() {
    $("btn-prev").addEventListener("click", () => this.step(-1));
    $("btn-next").addEventListener("click", () => this.step(1));
    $("btn-next-section").addEventListener("click", () => this.finishSection());
    $("btn-show-instructions").addEventListener("click", () => this.showInstructions());
    $("btn-flag").addEventListener("click", () => this.toggleFlag());
    $("btn-clear").addEventListener("click", () => this.clearAnswer());
    $("btn-review").addEventListener("click", () => this.showReview());
    $("btn-review-back").addEventListener("click", () => this.go(this.pos, { report: false }));
    $("btn-submit").addEventListener("click", () => this.submit());
    $("btn-start-section").addEventListener("click", () => this.startSection());
    $("btn-finish-section").addEventListener("click", () => this.finishSection());
    $("item-answer").addEventListener("click", (event) => {
      const option = event.target.closest(".option");
      if (option) this.choose(Number(option.dataset.index));
    });
    $("item-answer").addEventListener("input", (event) => {
      if (event.target.id !== "short-answer") return;
      clearTimeout(this.shortTimer);
      this.shortTimer = setTimeout(() => this.commitShort(), SHORT_DEBOUNCE_MS);
      this.updateControls();
    });
    $("item-answer").addEventListener("focusout", (event) => {
      if (event.target.id === "short-answer") this.commitShort();
    });
    for (const id of ["review-unanswered", "review-flagged"]) {
      $(id).addEventListener("click", (event) => {
        const link = event.target.closest(".review-link");
        if (link) this.go(Number(link.dataset.position));
      });
    }
    // A link inside a stem, an option or the instructions must not take the page away.
    for (const id of ["view-item", "view-instructions"]) {
      $(id).addEventListener("click", (event) => {
        if (event.target.closest("a[href]")) event.preventDefault();
      });
    }
    document.addEventListener("keydown", (event) => this.onKey(event));
    window.addEventListener("online", () => {
      if (this.tabStopped) return;
      this.queue.retryNow();
      this.late.retryNow();
      this.heartbeat();
    });
    window.addEventListener("offline", () => this.onServer("offline"));
    // Typed text not yet debounced goes into the (persisted) queue before the page goes away,
    // and a position not yet reported goes with it.
    window.addEventListener("pagehide", () => {
      this.commitShort();
      if (this.positionTimer) this.sendPosition({ keepalive: true });
    });
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.commitShort();
    });
    window.addEventListener("pageshow", (event) => {
      if (event.persisted && !this.tabStopped) this.reload();
    });
    // Without the service worker (plain http on the lab's network), a reload while the server
    // cannot be reached would lose the page: warn before it goes. The answers stay stored.
    window.addEventListener("beforeunload", (event) => {
      if (this.tabStopped || this.finished || this.offlineReady) return;
      if (this.undelivered() && this.server !== "ok") {
        event.preventDefault();
        event.returnValue = "";
      }
    });
    // Logging out in the middle: nothing of the attempt stays in the page cache.
    const logout = document.querySelector("form.logout");
    if (logout) logout.addEventListener("submit", () => clearOffline());
  }

  /** This tab gave the attempt to a newer tab: store what is typed, then stop for good. */
  stopTab() {
    if (this.tabStopped) return;
    if (this.queue) this.commitShort();
    this.tabStopped = true;
    this.halted = true;
    if (this.queue) this.queue.detach();
    if (this.late) this.late.detach();
    this.integrity.stop();
    for (const timer of [this.heartbeatTimer, this.positionTimer, this.reloadTimer, this.shortTimer]) {
      clearTimeout(timer);
    }
    this.updateInert();
    this.ui.setRescue(0, null);
    this.ui.closeDialogs();
    this.ui.showStatus(this.S.tab_taken_over);
    document.body.dataset.tab = "stopped";
  }

  undelivered() {
    return (this.queue ? this.queue.length : 0) + (this.late ? this.late.length : 0);
  }

  /** Offer the rescue file while answers are on this PC that it cannot deliver. */
  updateRescue() {
    if (!this.queue || this.tabStopped || this.finished) return;
    const count = this.undelivered();
    const stuck =
      (this.halted && this.queue.length > 0) ||
      (this.unreachableSince != null && performance.now() - this.unreachableSince >= RESCUE_AFTER_MS) ||
      (this.late.length > 0 && this.late.failures >= 2);
    const shown = count && stuck ? count : 0;
    if (shown === this.rescueShown) return;
    this.rescueShown = shown;
    this.ui.setRescue(shown, () => downloadRescue(this.attemptId, [this.queue.items, this.late.items]));
  }

  // ---- attempt data -------------------------------------------------------------------------

  applyAttempt(attempt, initial) {
    // Nothing shown yet (a load while paused): the next attempt with items places the page anew.
    const fresh = initial || !this.hasContent();
    this.sections = [...(attempt.sections || [])].sort((a, b) => a.index - b.index);
    this.items = this.itemsOf(attempt);
    this.byPos = new Map(this.items.map((item) => [item.position, item]));
    this.sectionByIndex = new Map(this.sections.map((s) => [s.index, s]));
    // What to show per item: the newest by seq of the server's answer, this page's own
    // change, and saves still waiting in the queue.
    const merged = new Map();
    let maxSeq = 0;
    for (const item of this.items) {
      const server = { answer: item.answer ?? null, flagged: Boolean(item.flagged), seq: Number(item.seq) || 0 };
      maxSeq = Math.max(maxSeq, server.seq);
      const acked = this.acked[item.position];
      const known = acked && Number(acked.seq) > server.seq ? { answer: acked.answer ?? null, flagged: Boolean(acked.flagged), seq: Number(acked.seq) } : server;
      const mine = this.local.get(item.position);
      merged.set(item.position, mine && mine.seq > known.seq ? mine : known);
    }
    for (const save of this.queue.items) {
      const shown = merged.get(save.position);
      if (shown && save.seq > shown.seq) {
        merged.set(save.position, { answer: save.answer, flagged: Boolean(save.flagged), seq: save.seq });
      }
    }
    this.local = merged;
    this.queue.raiseSeq(maxSeq);
    this.sectionClocks = new Map();
    for (const section of this.sections) {
      if (section.timed && section.state === "open" && typeof section.remaining_seconds === "number") {
        const clock = new Countdown(section.remaining_seconds);
        clock.freeze(this.paused);
        this.sectionClocks.set(section.index, clock);
      }
    }
    if (initial || this.navButtons.size !== this.items.length) {
      this.navButtons = view.buildNavigator($("navigator"), this.sections, this.items, this.S, (p) => this.go(p));
    }
    if (this.finished) return;
    let target = fresh ? Number(attempt.current_position) || 0 : this.pos;
    if (!this.hasContent()) {
      // Paused before this page held any item: wait (under the pause cover) for the server to
      // send them on resume, keeping the server's position for the heartbeat to report.
      this.pos = target;
      this.setView("loading");
      return;
    }
    if (!this.reachable(target)) target = this.firstReachable(target);
    if (target == null) {
      this.showReview();
    } else if (fresh || target !== this.pos || this.view === "loading") {
      this.go(target, { report: !fresh && target !== this.pos });
    } else if (this.view === "review") {
      this.showReview();
    } else if (this.view === "instructions") {
      this.go(target, { report: false });
    } else {
      this.refresh();
    }
  }

  /**
   * The page's item list: every position of every section the server describes. The server
   * sends the items of the sections opened so far and none while the attempt is paused
   * (docs/delivery.md, "What the page is sent when"), so the items this page already holds
   * stay, and any other position is a placeholder ({position, section, withheld}) that the
   * navigator, the review and the counts include but that cannot be opened.
   */
  itemsOf(attempt) {
    const byPos = new Map();
    for (const item of this.items) if (!item.withheld) byPos.set(item.position, item);
    for (const item of attempt.items || []) byPos.set(item.position, item);
    for (const section of this.sections) {
      const first = Number(section.first_position) || 0;
      const count = Number(section.count) || 0;
      for (let position = first; position < first + count; position += 1) {
        if (!byPos.has(position)) byPos.set(position, { position, section: section.index, withheld: true });
      }
    }
    return [...byPos.values()].sort((a, b) => a.position - b.position);
  }

  hasContent() {
    return this.items.some((item) => !item.withheld);
  }

  reload() {
    if (this.tabStopped) return Promise.resolve(false);
    if (!this.reloading) {
      this.reloading = (async () => {
        try {
          const data = await this.api.get("");
          if (data.offlineCopy) return false; // the server did not answer: keep what is shown
          this.lastAttemptJson = JSON.stringify(data);
          if (this.stale) {
            this.stale = false;
            this.ui.setOfflineCopy(false);
          }
          this.applyAttempt(data.attempt, false);
          return true;
        } catch (error) {
          if (error instanceof Refusal) this.handleRefusal(error);
          return false;
        } finally {
          this.reloading = null;
        }
      })();
    }
    return this.reloading;
  }

  scheduleReload() {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.reload(), 500);
  }

  section(position) {
    const item = this.byPos.get(position);
    return item ? this.sectionByIndex.get(item.section) : undefined;
  }

  reachable(position) {
    const item = this.byPos.get(position);
    if (!item || item.withheld) return false;
    const section = this.section(position);
    return !section || section.state === "open";
  }

  firstReachable(from) {
    const positions = this.items.map((item) => item.position);
    const after = positions.find((p) => p >= from && this.reachable(p));
    return after ?? positions.find((p) => this.reachable(p)) ?? null;
  }

  entry(position) {
    return this.local.get(position) || { answer: null, flagged: false, seq: 0 };
  }

  // ---- views --------------------------------------------------------------------------------

  setView(name) {
    this.view = name;
    for (const id of ["loading", "item", "instructions", "review"]) {
      $(`view-${id}`).hidden = id !== name;
    }
  }

  go(position, { report = true } = {}) {
    if (!this.reachable(position)) return;
    this.commitShort();
    if (position !== this.pos) this.posSince = performance.now();
    this.pos = position;
    const section = this.section(position);
    if (section && !this.sectionStarted(section)) {
      this.showInstructions();
    } else {
      this.showItem();
    }
    if (report) this.reportPosition();
  }

  /** Whether the participant went past the section's instructions (on this PC, or any item of
   * it was answered or flagged, wherever). Its time runs from its opening either way. */
  sectionStarted(section) {
    if (this.seen.has(section.index)) return true;
    return this.items.some((item) => item.section === section.index && this.wasSeen(item.position));
  }

  /** Whether the item at `position` was ever shown: on this PC, or it has an answer or a flag. */
  wasSeen(position) {
    if (this.seenItems.has(position)) return true;
    const entry = this.entry(position);
    return isAnswered(entry.answer) || Boolean(entry.flagged);
  }

  markSeen({ section = null, position = null } = {}) {
    const before = this.seen.size + this.seenItems.size;
    if (section != null) this.seen.add(section);
    if (position != null) this.seenItems.add(position);
    if (this.store && this.seen.size + this.seenItems.size !== before) {
      this.store.saveSeen({ sections: [...this.seen], items: [...this.seenItems] });
    }
  }

  /** Per section: answered, unanswered, flagged, never seen (progress.js). */
  progress() {
    return sectionProgress(this.sections, this.items, (p) => this.entry(p), (p) => this.wasSeen(p));
  }

  showInstructions() {
    const section = this.section(this.pos);
    if (!section) return;
    this.commitShort();
    view.renderInstructions(section, this.S);
    this.setView("instructions");
    this.refresh();
    $("btn-start-section").focus();
  }

  step(delta) {
    if (this.view !== "item") return;
    const target = this.pos + delta;
    if (this.reachable(target)) this.go(target);
  }

  startSection() {
    const section = this.section(this.pos);
    if (section) this.markSeen({ section: section.index });
    this.showItem();
  }

  showItem() {
    const item = this.byPos.get(this.pos);
    if (!item || item.withheld) return;
    view.renderItem({
      item,
      section: this.section(this.pos),
      total: this.items.length,
      entry: this.entry(this.pos),
      strings: this.S,
      locked: !this.canEdit(),
    });
    this.markSeen({ position: this.pos });
    this.setView("item");
    this.refresh();
    window.scrollTo(0, 0);
  }

  showReview() {
    this.commitShort();
    view.renderReview({ rows: this.progress(), reachable: (p) => this.reachable(p), strings: this.S });
    this.setView("review");
    this.refresh();
    $("review-title").focus();
  }

  /** Navigator, buttons and clocks after any change. */
  refresh() {
    view.updateNavigator(this.navButtons, {
      local: this.local,
      current: this.pos,
      reachable: (p) => this.reachable(p),
      sectionState: (p) => (this.section(p) || {}).state,
      strings: this.S,
    });
    if (this.view === "item") this.updateControls();
    const section = this.section(this.pos);
    // Any open section but the last can be finished, timed or not: it is the only way on.
    const finishable = this.hasLaterSection(section) && section.state === "open";
    // On a section's last item the same button stands in place of "Berikutnya": not twice.
    const inTools = this.view === "item" && !$("btn-next-section").hidden;
    $("btn-finish-section").hidden = !(finishable && (this.view === "item" || this.view === "review")) || inTools;
    this.tick();
  }

  updateControls() {
    const item = this.byPos.get(this.pos);
    if (!item) return;
    const entry = this.entry(this.pos);
    view.updateAnswer(item, entry);
    $("btn-prev").disabled = !this.reachable(this.pos - 1);
    $("btn-next").disabled = !this.reachable(this.pos + 1);
    // The last item of a section that is not the last: "Berikutnya" becomes "Selesaikan bagian
    // ini", so the next section can always be reached from here.
    const section = this.section(this.pos);
    const next = this.byPos.get(this.pos + 1);
    const lastOfSection = Boolean(section) && section.state === "open" && (!next || next.section !== item.section);
    const toNextSection = lastOfSection && this.hasLaterSection(section);
    $("btn-next").hidden = toNextSection;
    $("btn-next-section").hidden = !toNextSection;
    const flag = $("btn-flag");
    flag.setAttribute("aria-pressed", entry.flagged ? "true" : "false");
    flag.classList.toggle("on", entry.flagged);
    const input = $("short-answer");
    const hasText = item.type === "short" && input && input.value !== "";
    $("btn-clear").disabled = !(isAnswered(entry.answer) || hasText);
  }

  /** Whether a section after `section` is still to come (not closed). */
  hasLaterSection(section) {
    return Boolean(section) && this.sections.some((s) => s.index > section.index && s.state !== "closed");
  }

  // ---- changes ------------------------------------------------------------------------------

  canEdit() {
    return (
      !this.locked && !this.paused && !this.halted && !this.finished && this.reachable(this.pos)
    );
  }

  record(position, answer, flagged) {
    const shown = position === this.pos ? Math.max(0, Math.round(performance.now() - this.posSince)) : undefined;
    const save = this.queue.add(position, answer, flagged, shown);
    this.local.set(position, { answer, flagged: Boolean(flagged), seq: save.seq });
    this.refresh();
  }

  choose(index) {
    const item = this.byPos.get(this.pos);
    if (!item || item.type === "short" || this.view !== "item" || !this.canEdit()) return;
    if (!optionsOf(item, this.S).some((o, i) => (Number.isInteger(o.index) ? o.index : i) === index)) return;
    const entry = this.entry(this.pos);
    const answer = answerAfterChoice(item.type, entry.answer, index);
    if (answer !== undefined) this.record(this.pos, answer, entry.flagged);
  }

  commitShort() {
    clearTimeout(this.shortTimer);
    this.shortTimer = null;
    const input = $("short-answer");
    if (!input || this.view !== "item" || !this.canEdit()) return;
    const position = Number(input.dataset.position);
    if (position !== this.pos) return;
    const entry = this.entry(position);
    const value = input.value.slice(0, 500);
    if (value === (typeof entry.answer === "string" ? entry.answer : "")) return;
    this.record(position, value, entry.flagged);
  }

  toggleFlag() {
    if (this.view !== "item" || !this.canEdit()) return;
    this.commitShort();
    const entry = this.entry(this.pos);
    this.record(this.pos, entry.answer, !entry.flagged);
  }

  clearAnswer() {
    if (this.view !== "item" || !this.canEdit()) return;
    clearTimeout(this.shortTimer);
    const input = $("short-answer");
    if (input) input.value = "";
    const entry = this.entry(this.pos);
    if (entry.answer !== null) this.record(this.pos, null, entry.flagged);
    else this.updateControls();
  }

  onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (this.view !== "item" || !this.canEdit() || this.ui.anyDialogOpen()) return;
    const target = event.target;
    if (target && target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    const key = event.key;
    let handled = true;
    if (key === "ArrowRight") this.step(1);
    else if (key === "ArrowLeft") this.step(-1);
    else if (key === "f" || key === "F") this.toggleFlag(); // F is the flag, never option 6
    else if (/^[1-9]$/.test(key)) this.chooseNth(Number(key) - 1);
    else if (/^[a-h]$/i.test(key)) this.chooseNth(LETTERS.indexOf(key.toUpperCase()));
    else handled = false;
    if (handled) event.preventDefault();
  }

  chooseNth(n) {
    const buttons = view.optionButtons();
    if (n >= 0 && n < buttons.length) this.choose(Number(buttons[n].dataset.index));
  }

  /**
   * Where the participant is, for a resume: reported POSITION_DEBOUNCE_MS after the last move,
   * and not at all when a save request (which carries the position) or the heartbeat already
   * told the server.
   */
  reportPosition() {
    clearTimeout(this.positionTimer);
    this.positionTimer = setTimeout(() => this.sendPosition(), POSITION_DEBOUNCE_MS);
  }

  /**
   * Where the page is, as every request that reports it sends it: the position and for how long
   * it has been shown (a duration of this PC's monotonic clock; the server times each item by
   * its own clock and uses this only to place the start of a visit it heard of late).
   */
  where() {
    return { position: this.pos, position_age_ms: Math.max(0, Math.round(performance.now() - this.posSince)) };
  }

  sendPosition({ keepalive = false } = {}) {
    clearTimeout(this.positionTimer);
    this.positionTimer = null;
    if (!this.loaded || this.halted || this.finished || this.pos === this.reportedPos) return;
    const position = this.pos;
    this.api
      .post("/position", this.where(), { keepalive })
      .then(() => {
        this.reportedPos = position;
      })
      .catch((error) => {
        if (error instanceof Refusal && !keepalive) this.handleRefusal(error);
      });
  }
}

for (const methods of [LifecycleMethods, TimingMethods, FinishingMethods]) {
  for (const name of Object.getOwnPropertyNames(methods.prototype)) {
    if (name !== "constructor") {
      Object.defineProperty(Exam.prototype, name, Object.getOwnPropertyDescriptor(methods.prototype, name));
    }
  }
}

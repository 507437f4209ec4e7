// The exam page's controller: loads the attempt, shows one item at a time, records every change
// through the save queue, keeps the clocks in step with the server and reacts to its states.
// Invariants (docs/DESIGN.md): the server owns the clock; an acknowledged answer is never lost.
// The server-state handling, the clocks and the finishing flows live in lifecycle.js, timing.js
// and finishing.js; their methods are mixed into Exam at the end of this file.

import { Refusal, createApi } from "./api.js";
import { FinishingMethods } from "./finishing.js";
import { createIntegrity } from "./integrity.js";
import { HEARTBEAT_MS, LifecycleMethods, PAUSED_POLL_MS } from "./lifecycle.js";
import { answerAfterChoice, isAnswered, LETTERS, optionsOf } from "./model.js";
import { SaveQueue } from "./queue.js";
import * as view from "./render.js";
import { createStore } from "./store.js";
import { Countdown, backoffMs, sleep } from "./timer.js";
import { TimingMethods } from "./timing.js";
import { createUi, readStrings } from "./ui.js";

const SHORT_DEBOUNCE_MS = 600;
const TICK_MS = 250;
const $ = (id) => document.getElementById(id);

export function boot(root) {
  if (root) new Exam(root).start();
}

class Exam {
  constructor(root) {
    this.root = root;
    this.finishUrl = root.dataset.finishUrl;
    this.S = readStrings();
    this.ui = createUi(this.S);
    const meta = document.querySelector('meta[name="csrf-token"]');
    this.api = createApi({
      base: root.dataset.apiBase,
      csrf: meta ? meta.content : "",
      onResponse: (data) => this.onResponse(data),
      onNetwork: (ok) => this.ui.setOffline(!ok),
    });
    this.queue = new SaveQueue({
      api: this.api,
      store: createStore(root.dataset.attemptId),
      onChange: (queue) => this.onQueueChange(queue),
      onRefusal: (error) => this.onSaveRefusal(error),
      onDropped: (save, error) => this.onSaveDropped(save, error),
      onStale: () => this.scheduleReload(),
    });
    this.integrity = createIntegrity({ api: this.api, position: () => this.pos });
    this.clock = new Countdown();
    this.sectionClocks = new Map();
    this.items = [];
    this.sections = [];
    this.byPos = new Map();
    this.sectionByIndex = new Map();
    this.local = new Map(); // position -> {answer, flagged, seq}: what the page shows
    this.navButtons = new Map();
    this.seen = new Set(); // sections whose instructions were shown on this page load
    this.pos = 0;
    this.view = "loading";
    this.paused = false;
    this.locked = false;
    this.halted = false;
    this.finished = false;
    this.timeUp = false;
    this.sectionEnding = false;
    this.warned = { five: false, one: false };
    this.loaded = false;
  }

  // ---- start-up -----------------------------------------------------------------------------

  async start() {
    this.updateInert();
    this.onQueueChange(this.queue);
    this.integrity.install($("view-item"));
    this.wire();
    // Saves left by a crash or an outage go first, so the attempt we load already has them.
    if (this.queue.length) await this.queue.flush();
    let failures = 0;
    while (!this.finished && !this.halted) {
      try {
        const data = await this.api.get("");
        this.loaded = true;
        this.updateInert();
        this.applyAttempt(data.attempt, true);
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
    document.body.dataset.ready = "1";
    setInterval(() => this.tick(), TICK_MS);
    this.tick();
    this.scheduleHeartbeat(this.paused ? PAUSED_POLL_MS : HEARTBEAT_MS);
  }

  wire() {
    $("btn-prev").addEventListener("click", () => this.step(-1));
    $("btn-next").addEventListener("click", () => this.step(1));
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
      this.queue.retryNow();
      this.heartbeat();
    });
    window.addEventListener("offline", () => this.ui.setOffline(true));
    // Typed text not yet debounced goes into the (persisted) queue before the page goes away.
    window.addEventListener("pagehide", () => this.commitShort());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.commitShort();
    });
    window.addEventListener("pageshow", (event) => {
      if (event.persisted) this.reload();
    });
  }

  // ---- attempt data -------------------------------------------------------------------------

  applyAttempt(attempt, initial) {
    this.items = [...attempt.items].sort((a, b) => a.position - b.position);
    this.sections = [...(attempt.sections || [])].sort((a, b) => a.index - b.index);
    this.byPos = new Map(this.items.map((item) => [item.position, item]));
    this.sectionByIndex = new Map(this.sections.map((s) => [s.index, s]));
    // What to show per item: the newest by seq of the server's answer, this page's own
    // change, and saves still waiting in the queue.
    const merged = new Map();
    let maxSeq = 0;
    for (const item of this.items) {
      const server = { answer: item.answer ?? null, flagged: Boolean(item.flagged), seq: Number(item.seq) || 0 };
      maxSeq = Math.max(maxSeq, server.seq);
      const mine = this.local.get(item.position);
      merged.set(item.position, mine && mine.seq > server.seq ? mine : server);
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
    let target = initial ? Number(attempt.current_position) || 0 : this.pos;
    if (!this.reachable(target)) target = this.firstReachable(target);
    if (target == null) {
      this.showReview();
    } else if (initial || target !== this.pos || this.view === "loading") {
      this.go(target, { report: !initial && target !== this.pos });
    } else if (this.view === "review") {
      this.showReview();
    } else if (this.view === "instructions") {
      this.go(target, { report: false });
    } else {
      this.refresh();
    }
  }

  reload() {
    if (!this.reloading) {
      this.reloading = (async () => {
        try {
          const data = await this.api.get("");
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
    if (!this.byPos.has(position)) return false;
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
    this.pos = position;
    const section = this.section(position);
    if (section && !this.seen.has(section.index)) {
      view.renderInstructions(section, this.S);
      this.setView("instructions");
      this.refresh();
      $("btn-start-section").focus();
    } else {
      this.showItem();
    }
    if (report) this.reportPosition();
  }

  step(delta) {
    if (this.view !== "item") return;
    const target = this.pos + delta;
    if (this.reachable(target)) this.go(target);
  }

  startSection() {
    const section = this.section(this.pos);
    if (section) this.seen.add(section.index);
    this.showItem();
  }

  showItem() {
    const item = this.byPos.get(this.pos);
    if (!item) return;
    view.renderItem({
      item,
      section: this.section(this.pos),
      total: this.items.length,
      entry: this.entry(this.pos),
      strings: this.S,
      locked: !this.canEdit(),
    });
    this.setView("item");
    this.refresh();
    window.scrollTo(0, 0);
  }

  showReview() {
    this.commitShort();
    view.renderReview({ items: this.items, local: this.local, reachable: (p) => this.reachable(p), strings: this.S });
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
    const later = section && this.sections.some((s) => s.index > section.index && s.state !== "closed");
    const finishable = section && section.timed && section.state === "open" && later;
    $("btn-finish-section").hidden = !(finishable && (this.view === "item" || this.view === "review"));
    this.tick();
  }

  updateControls() {
    const item = this.byPos.get(this.pos);
    if (!item) return;
    const entry = this.entry(this.pos);
    view.updateAnswer(item, entry);
    $("btn-prev").disabled = !this.reachable(this.pos - 1);
    $("btn-next").disabled = !this.reachable(this.pos + 1);
    const flag = $("btn-flag");
    flag.setAttribute("aria-pressed", entry.flagged ? "true" : "false");
    flag.classList.toggle("on", entry.flagged);
    const input = $("short-answer");
    const hasText = item.type === "short" && input && input.value !== "";
    $("btn-clear").disabled = !(isAnswered(entry.answer) || hasText);
  }

  // ---- changes ------------------------------------------------------------------------------

  canEdit() {
    return (
      !this.locked && !this.paused && !this.halted && !this.finished && this.reachable(this.pos)
    );
  }

  record(position, answer, flagged) {
    const save = this.queue.add(position, answer, flagged);
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

  reportPosition() {
    this.api.post("/position", { position: this.pos }).catch((error) => {
      if (error instanceof Refusal) this.handleRefusal(error);
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

// The finish page (templates/exam/finish.html): answers this PC still holds for the finished
// attempt are late answers now. It sends them to POST /late-answers (retrying with backoff until
// the server answers 200), tells the participant what happened to them, offers the rescue file
// while any are left, and removes the attempt's copy kept by the service worker.

import { createApi } from "./api.js";
import { LateBox } from "./late.js";
import { fmt } from "./model.js";
import { clearOffline } from "./offline.js";
import { downloadRescue } from "./rescue.js";
import { createStore } from "./store.js";

const $ = (id) => document.getElementById(id);

function strings() {
  try {
    return JSON.parse($("finish-strings").textContent) || {};
  } catch {
    return {};
  }
}

function start(root) {
  const S = strings();
  const attemptId = root.dataset.attemptId;
  const store = createStore(attemptId);
  const meta = document.querySelector('meta[name="csrf-token"]');
  const api = createApi({
    base: root.dataset.apiBase,
    csrf: meta ? meta.content : "",
    onResponse: () => {},
    onNetwork: () => {},
  });
  clearOffline();

  function render() {
    const total = store.lateTotal();
    const pending = late.length;
    document.body.dataset.lateLength = String(pending);
    root.hidden = !total && !pending;
    $("finish-late-text").textContent = fmt(S.late_notice, { n: Math.max(total, pending) });
    $("finish-late-status").textContent = pending ? fmt(S.late_pending, { n: pending }) : S.late_done;
    // Offered once sending has failed: the proctor may collect the file from this PC.
    const rescue = pending > 0 && late.failures > 0;
    $("rescue").hidden = !rescue;
    document.body.dataset.rescue = rescue ? "1" : "0";
    if (rescue) $("rescue-text").textContent = fmt(S.rescue_text, { n: pending });
    if (!pending) store.forgetCopies();
  }

  const late = new LateBox({ api, store, onChange: render });
  // Saves still queued when the test page went away (or never came back): the attempt is over,
  // so they can only be late answers. Kept in the late store before leaving the queue.
  const queued = store.loadQueue();
  if (queued.length) {
    late.add(queued);
    store.saveQueue([]);
  }
  $("btn-rescue").addEventListener("click", () => downloadRescue(attemptId, [late.items]));
  window.addEventListener("online", () => late.retryNow());
  render();
  late.flush().then(render);
  document.body.dataset.ready = "1";
}

const root = $("finish-page");
if (root) start(root);

// One exam tab per attempt. Two tabs of one attempt would share sequence numbers and overwrite
// each other's queue in localStorage, so the newest tab takes over:
//   - a tab starting up says "hello" on a BroadcastChannel of the attempt (works on plain http);
//   - an older tab that hears it stores what is typed, stops for good (sends nothing, writes
//     nothing) and answers "yield";
//   - the new tab reads the queue and the sequence counter only after that answer, or after a
//     short wait when no other tab answers; should the old tab answer later still (a background
//     tab the browser had slowed down), the new tab adopts what it left (queue.adoptStored()).
// A localStorage stamp (cbt-tab-<id>, renewed every few seconds, removed when the page goes
// away) tells whether another tab is likely to answer, so that a plain reload waits very little.

import { read, write } from "./store.js";
import { sleep } from "./timer.js";

const STAMP_MS = 5000;
/** Background tabs' timers may run once a minute: a stamp this recent means a tab may be open. */
const LIVE_MS = 90000;
const WAIT_LIVE_MS = 1500;
const WAIT_MS = 120;

function randomId() {
  const bytes = new Uint32Array(2);
  (window.crypto || {}).getRandomValues?.(bytes);
  return `${bytes[0].toString(36)}${bytes[1].toString(36)}${Math.random().toString(36).slice(2)}`;
}

/**
 * Claims the attempt for this tab. onTakenOver() runs (synchronously, before the newer tab is
 * told to go on) when a newer tab takes over; onLateHandover() when an older tab yields after
 * this one already went on. Resolves when this tab may load its queue.
 */
export async function claimTab(attemptId, { onTakenOver, onLateHandover }) {
  const key = `cbt-tab-${attemptId}`;
  const me = { id: randomId(), born: Date.now() };
  const state = { stopped: false, claimed: false };
  const Channel = window.BroadcastChannel;
  if (!Channel) return state;
  const channel = new Channel(`cbt-exam-${attemptId}`);
  let handedOver = () => {};
  const handover = new Promise((resolve) => {
    handedOver = resolve;
  });
  let stampTimer = null;
  const newer = (a, b) => a.born > b.born || (a.born === b.born && a.id > b.id);

  channel.onmessage = (event) => {
    const message = event.data || {};
    if (message.type === "hello" && message.id !== me.id && !state.stopped && newer(message, me)) {
      state.stopped = true;
      clearInterval(stampTimer);
      try {
        onTakenOver();
      } finally {
        channel.postMessage({ type: "yield", from: me.id, to: message.id });
      }
    } else if (message.type === "yield" && message.to === me.id && !state.stopped) {
      if (state.claimed) onLateHandover();
      else handedOver();
    }
  };

  const stamp = read(key, null);
  const live =
    stamp && stamp.id !== me.id && Number.isFinite(stamp.at) && Math.abs(Date.now() - stamp.at) < LIVE_MS;
  channel.postMessage({ type: "hello", id: me.id, born: me.born });
  await Promise.race([handover, sleep(live ? WAIT_LIVE_MS : WAIT_MS)]);
  state.claimed = true;
  if (state.stopped) return state;

  const renew = () => {
    if (!state.stopped) write(key, { id: me.id, at: Date.now() });
  };
  renew();
  stampTimer = setInterval(renew, STAMP_MS);
  window.addEventListener("pageshow", renew);
  window.addEventListener("pagehide", () => {
    if (state.stopped) return;
    const current = read(key, null);
    if (current && current.id === me.id) {
      try {
        window.localStorage.removeItem(key);
      } catch {
        // storage disabled
      }
    }
  });
  return state;
}

// The exam page's service worker: a reload while the server cannot be reached still shows the
// test, from a copy on this PC. Served by the app at /exam/sw.js (cbt_server/web/exam.py), so its
// scope is /exam/; registered by the test page (static/js/exam/offline.js) only in a secure
// context (https, or http://127.0.0.1 / localhost, or an origin the lab browser is told to treat
// as secure: docs/delivery.md).
//
// What it keeps, in one cache, for ONE attempt at a time:
//   - the test page (/exam/take)           network first, the copy when the network fails;
//   - GET /api/v1/attempt                  network first, the copy when the network fails,
//                                          marked with X-CBT-Stored-At (Date.now() when stored)
//                                          so the page knows it is a copy and how old; a paused
//                                          attempt (sent without items) keeps the copy before;
//   - /static/ files of the page           network first (short timeout), the copy on failure;
//   - /media/ files the page showed        cache first (content-addressed, never change).
// Anything of another attempt is deleted before the first thing of a new attempt is kept; the
// whole cache is deleted when the attempt is finished (a finished state in the attempt, the
// finish page, or the page's "clear" message) or the server no longer gives it to this browser.
// Only GET requests are handled: saves and every other POST go to the network as always.

const CACHE = "cbt-exam-v1";
const META = "/__cbt-exam/kept";
const STORED_AT = "X-CBT-Stored-At";
const PAGE_TIMEOUT_MS = 10000;
const ATTEMPT_TIMEOUT_MS = 15000;
const STATIC_TIMEOUT_MS = 5000;
// The attempt states that are over for good: a copy of FINISHED in
// cbt_server/delivery/lifecycle.py (the one definition of the states; keep them equal).
const FINISHED = new Set(["submitted", "expired", "voided"]);

const params = new URL(self.location.href).searchParams;
const API = params.get("api") || "/api/v1/attempt";
const STATIC = params.get("static") || "/static/";
const MEDIA = params.get("media") || "/media/";

function scope() {
  return new URL(self.registration.scope).pathname; // "/exam/"
}

function pageKey() {
  return new URL(`${scope()}take`, self.location.origin).href;
}

function attemptKey() {
  return new URL(API, self.location.origin).href;
}

// Every change to the cache goes through one chain, so a "clear" cannot interleave with a put.
let chain = Promise.resolve();
function serial(task) {
  const next = chain.then(task, task);
  chain = next.catch(() => {});
  return next;
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function keptAttempt() {
  const cache = await caches.open(CACHE);
  const meta = await cache.match(META);
  if (!meta) return null;
  try {
    const value = await meta.json();
    return Number.isInteger(value.attemptId) ? value.attemptId : null;
  } catch {
    return null;
  }
}

function clearAll() {
  return serial(() => caches.delete(CACHE));
}

/** From now on the cache holds attempt `id`; anything of another attempt goes first. */
async function claim(id) {
  const kept = await keptAttempt();
  if (kept === id) return;
  if (kept != null) await caches.delete(CACHE);
  const cache = await caches.open(CACHE);
  await cache.put(META, new Response(JSON.stringify({ attemptId: id }), { headers: { "Content-Type": "application/json" } }));
}

function pageAttemptId(html) {
  const found = /data-attempt-id="(\d+)"/.exec(html);
  return found ? Number(found[1]) : null;
}

function keepPage(html, contentType) {
  const id = pageAttemptId(html);
  if (id == null) return Promise.resolve(false);
  return serial(async () => {
    await claim(id);
    const cache = await caches.open(CACHE);
    await cache.put(pageKey(), new Response(html, { headers: { "Content-Type": contentType || "text/html; charset=utf-8" } }));
    return true;
  });
}

function keepAttempt(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    return Promise.resolve(false);
  }
  const attempt = data && data.attempt;
  if (!attempt || !Number.isInteger(attempt.id)) return Promise.resolve(false);
  if (FINISHED.has(attempt.state)) return clearAll().then(() => false);
  return serial(async () => {
    await claim(attempt.id);
    const cache = await caches.open(CACHE);
    // While paused the server sends no items (docs/delivery.md): the copy taken before the
    // pause keeps them, and the page learns of the pause from its own clock record.
    if (attempt.state === "paused" && (await cache.match(attemptKey()))) return true;
    const headers = { "Content-Type": "application/json", [STORED_AT]: String(Date.now()) };
    await cache.put(attemptKey(), new Response(text, { headers }));
    return true;
  });
}

/** A static or media file, only while an attempt is kept (nothing outlives the attempt). */
function keepFile(request, response) {
  return serial(async () => {
    if ((await keptAttempt()) == null) return false;
    const cache = await caches.open(CACHE);
    await cache.put(request, response);
    return true;
  });
}

async function cached(key) {
  const cache = await caches.open(CACHE);
  return cache.match(key);
}

function usable(response) {
  return response && response.ok && response.type === "basic" && !response.redirected;
}

async function page(event) {
  try {
    const response = await withTimeout(fetch(event.request), PAGE_TIMEOUT_MS);
    if (usable(response) && new URL(event.request.url).pathname === `${scope()}take`) {
      const copy = response.clone();
      event.waitUntil(copy.text().then((html) => keepPage(html, copy.headers.get("Content-Type"))));
    }
    return response;
  } catch (error) {
    const copy = await cached(pageKey());
    if (copy) return copy;
    throw error;
  }
}

async function finishPage(event) {
  const response = await fetch(event.request);
  if (response.ok) event.waitUntil(clearAll());
  return response;
}

async function attempt(event) {
  try {
    const response = await withTimeout(fetch(event.request), ATTEMPT_TIMEOUT_MS);
    if (response.ok) {
      event.waitUntil(response.clone().text().then(keepAttempt));
    } else if ([401, 403, 404, 409].includes(response.status)) {
      event.waitUntil(clearAll()); // logged out, no attempt, another device: not ours to keep
    }
    return response;
  } catch (error) {
    const copy = await cached(attemptKey());
    if (copy) return copy;
    throw error;
  }
}

async function networkFirst(event) {
  try {
    const response = await withTimeout(fetch(event.request), STATIC_TIMEOUT_MS);
    if (usable(response)) event.waitUntil(keepFile(event.request, response.clone()));
    return response;
  } catch (error) {
    const copy = await cached(event.request);
    if (copy) return copy;
    throw error;
  }
}

async function cacheFirst(event) {
  const copy = await cached(event.request);
  if (copy) return copy;
  const response = await fetch(event.request);
  if (usable(response)) event.waitUntil(keepFile(event.request, response.clone()));
  return response;
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (request.mode === "navigate") {
    if (path === `${scope()}take` || path === scope()) event.respondWith(page(event));
    else if (path === `${scope()}finish`) event.respondWith(finishPage(event));
  } else if (path === API) {
    event.respondWith(attempt(event));
  } else if (path.startsWith(STATIC)) {
    event.respondWith(networkFirst(event));
  } else if (path.startsWith(MEDIA)) {
    event.respondWith(cacheFirst(event));
  }
});

/**
 * Messages from the test page (replied to on the given port with {ok}):
 *   {type: "keep", attemptId, urls, attempt}: keep these files (the page and what it loaded
 *     before this worker controlled it) and, when given, the attempt's JSON text;
 *   {type: "clear"}: the attempt is over, delete everything.
 */
self.addEventListener("message", (event) => {
  const message = event.data || {};
  const port = event.ports && event.ports[0];
  const reply = (ok) => port && port.postMessage({ ok });
  if (message.type === "clear") {
    event.waitUntil(clearAll().then(() => reply(true), () => reply(false)));
  } else if (message.type === "keep" && Number.isInteger(message.attemptId)) {
    event.waitUntil(keepAll(message).then(reply, () => reply(false)));
  }
});

async function keepAll({ attemptId, urls, attempt: text }) {
  await serial(() => claim(attemptId));
  let ok = true;
  if (typeof text === "string") ok = await keepAttempt(text);
  for (const raw of Array.isArray(urls) ? urls : []) {
    let url;
    try {
      url = new URL(raw, self.location.origin);
    } catch {
      continue;
    }
    if (url.origin !== self.location.origin) continue;
    const isPage = url.pathname === `${scope()}take`;
    if (!isPage && !url.pathname.startsWith(STATIC) && !url.pathname.startsWith(MEDIA)) continue;
    const key = isPage ? pageKey() : url.href;
    if (await cached(key)) continue;
    try {
      const response = await fetch(url.href, { credentials: "same-origin" });
      if (!usable(response)) {
        ok = false;
      } else if (isPage) {
        const html = await response.text();
        ok = pageAttemptId(html) === attemptId && (await keepPage(html, response.headers.get("Content-Type"))) && ok;
      } else {
        ok = (await keepFile(new Request(url.href), response)) && ok;
      }
    } catch {
      ok = false;
    }
  }
  return ok && (await keptAttempt()) === attemptId;
}

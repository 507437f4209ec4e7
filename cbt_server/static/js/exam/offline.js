// The page's side of the service worker (static/js/exam-sw.js): register it, ask it to keep what
// a reload during an outage needs, and clear it when the attempt is over. Service workers exist
// only in a secure context (https, http://127.0.0.1, http://localhost, or an origin the browser
// is told to treat as secure); elsewhere the page warns before it is closed with unsent answers.

export const CACHE_NAME = "cbt-exam-v1";
const KEEP_TIMEOUT_MS = 60000;

export function offlineCapable() {
  return Boolean(window.isSecureContext && "serviceWorker" in navigator && swUrl());
}

function swUrl() {
  const root = document.getElementById("exam") || document.getElementById("finish-page");
  return root ? root.dataset.swUrl || "" : "";
}

function ask(worker, message) {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(() => resolve(false), KEEP_TIMEOUT_MS);
    channel.port1.onmessage = (event) => {
      clearTimeout(timer);
      resolve(Boolean(event.data && event.data.ok));
    };
    worker.postMessage(message, [channel.port2]);
  });
}

/** This page's own files: the module graph of the page and what it has loaded so far. */
function pageFiles(modules) {
  const urls = new Set([window.location.pathname, ...modules]);
  const entries = performance.getEntriesByType ? performance.getEntriesByType("resource") : [];
  for (const entry of entries) {
    const url = new URL(entry.name, window.location.href);
    if (url.origin === window.location.origin) urls.add(url.pathname + url.search);
  }
  for (const node of document.querySelectorAll('link[rel="stylesheet"][href], script[src], img[src]')) {
    const url = new URL(node.getAttribute("href") || node.getAttribute("src"), window.location.href);
    if (url.origin === window.location.origin) urls.add(url.pathname + url.search);
  }
  return [...urls];
}

/**
 * Registers the worker and asks it to keep the page, its files and the attempt (its JSON text).
 * Resolves true when the copy is complete; false when it cannot be made here.
 */
export async function keepOffline({ attemptId, attemptJson, modules }) {
  if (!offlineCapable()) return false;
  try {
    // Scope: the worker's folder (/exam/), which holds the test and the finish page. Media shown
    // later (an item's image) is kept by the worker itself once it controls the page.
    const scope = new URL("./", new URL(swUrl(), window.location.href)).pathname;
    await navigator.serviceWorker.register(swUrl(), { scope });
    const registration = await navigator.serviceWorker.ready;
    if (!registration.active) return false;
    return await ask(registration.active, {
      type: "keep",
      attemptId: Number(attemptId),
      attempt: attemptJson,
      urls: pageFiles(modules),
    });
  } catch {
    return false;
  }
}

/** The attempt is over: nothing of it may stay in the cache. */
export async function clearOffline() {
  try {
    const controller = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (controller) controller.postMessage({ type: "clear" });
  } catch {
    // no worker
  }
  try {
    if (window.caches) await window.caches.delete(CACHE_NAME);
  } catch {
    // caches unavailable (insecure context)
  }
}

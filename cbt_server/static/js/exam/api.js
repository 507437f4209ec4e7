// Transport for the exam API (docs/exam-api.md): JSON in, JSON out, CSRF on every POST.
// A failure is one of two kinds, because the page reacts to them differently:
//   NetworkError - the request may not have arrived or the server could not take it now
//                  (no network, timeout, 5xx, 429): keep and retry, no sooner than Retry-After;
//   Refusal      - the server answered "no" (4xx) with {error, message}: never retry blindly.
// onNetwork(kind) tells the page how the last request went: "ok" (the server answered),
// "offline" (it could not be reached) or "busy" (it answered but cannot take requests now),
// so that the page never blames the network when the server did answer.

const TIMEOUT_MS = 20000;
/** Set by the service worker (static/js/exam-sw.js) on a copy it serves from its cache. */
export const OFFLINE_COPY_HEADER = "X-CBT-Stored-At";

export class NetworkError extends Error {
  constructor(message, status = 0, retryAfterMs = 0) {
    super(message);
    this.name = "NetworkError";
    this.status = status;
    /** "offline": the server was not reached; "busy": it answered 5xx / 408 / 429. */
    this.kind = status ? "busy" : "offline";
    /** How long the server asked us to wait before the next try (Retry-After), in ms. */
    this.retryAfterMs = retryAfterMs;
  }
}

export class Refusal extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.name = "Refusal";
    this.status = status;
    this.code = code;
    this.serverMessage = message || "";
  }
}

function isRetryable(status) {
  return status >= 500 || status === 408 || status === 429;
}

/** Retry-After in ms: delta-seconds, or an HTTP date (then measured against this PC's clock). */
export function retryAfterMs(response) {
  const value = response.headers.get("Retry-After");
  if (!value) return 0;
  const seconds = Number(value.trim());
  if (Number.isFinite(seconds)) return Math.max(0, Math.min(seconds, 3600)) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, Math.min(at - Date.now(), 3600000)) : 0;
}

async function readJson(response) {
  const type = response.headers.get("Content-Type") || "";
  if (!type.includes("json")) return null;
  try {
    return await response.json();
  } catch {
    return null;
  }
}

/**
 * base: "/api/v1/attempt"; csrf: the token from the page; onResponse(data) sees every JSON body
 * of a 2xx answer from the server (timing, state); onNetwork(kind) as described above.
 * A GET answered by the service worker from its cache (the server could not be reached) resolves
 * with the cached body and `offlineCopy: {storedAt}` (this PC's Date.now() when it was stored);
 * onResponse does not see it and onNetwork is told "offline".
 */
export function createApi({ base, csrf, onResponse, onNetwork }) {
  let token = csrf || "";

  async function request(method, path, body, { keepalive = false } = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    const init = {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
      signal: controller.signal,
      keepalive,
    };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRFToken"] = token;
      init.body = JSON.stringify(body || {});
    }
    let response;
    let data;
    try {
      response = await fetch(base + path, init);
      data = await readJson(response);
    } catch (error) {
      onNetwork("offline");
      throw new NetworkError(String(error && error.message ? error.message : error));
    } finally {
      clearTimeout(timer);
    }
    if (isRetryable(response.status)) {
      onNetwork("busy");
      throw new NetworkError(`HTTP ${response.status}`, response.status, retryAfterMs(response));
    }
    const storedAt = response.headers.get(OFFLINE_COPY_HEADER);
    if (storedAt != null && response.ok && data && typeof data === "object") {
      onNetwork("offline");
      return { ...data, offlineCopy: { storedAt: Number(storedAt) || 0 } };
    }
    onNetwork("ok");
    if (!response.ok) {
      const code = (data && data.error) || `http_${response.status}`;
      throw new Refusal(response.status, code, data && data.message);
    }
    if (!data || typeof data !== "object") {
      // A 2xx that is not our JSON: typically a redirect to the login page.
      throw new Refusal(response.status, "unexpected_response", "");
    }
    onResponse(data);
    return data;
  }

  return {
    get: (path) => request("GET", path),
    post: (path, body, options) => request("POST", path, body, options),
    setCsrf(value) {
      if (value) token = value;
    },
  };
}

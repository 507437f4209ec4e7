// Transport for the exam API (docs/exam-api.md): JSON in, JSON out, CSRF on every POST.
// A failure is one of two kinds, because the page reacts to them differently:
//   NetworkError - the request may not have arrived (no network, timeout, 5xx): keep and retry;
//   Refusal      - the server answered "no" (4xx) with {error, message}: never retry blindly.

const TIMEOUT_MS = 20000;

export class NetworkError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "NetworkError";
    this.status = status;
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
 * of a 2xx answer (timing, state); onNetwork(ok) is told whether the server was reached.
 */
export function createApi({ base, csrf, onResponse, onNetwork }) {
  let token = csrf || "";

  async function request(method, path, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    const init = {
      method,
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
      signal: controller.signal,
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
      onNetwork(false);
      throw new NetworkError(String(error && error.message ? error.message : error));
    } finally {
      clearTimeout(timer);
    }
    if (isRetryable(response.status)) {
      onNetwork(false);
      throw new NetworkError(`HTTP ${response.status}`, response.status);
    }
    onNetwork(true);
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
    post: (path, body) => request("POST", path, body),
    setCsrf(value) {
      if (value) token = value;
    },
  };
}

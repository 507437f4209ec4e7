// Countdowns run on performance.now() (monotonic) from the server's remaining_seconds; the PC's
// wall clock is never read. Every server response re-synchronises them.

export class Countdown {
  constructor(seconds = null) {
    this.base = null;
    this.t0 = 0;
    this.frozen = false;
    if (seconds != null) this.sync(seconds);
  }

  sync(seconds) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds)) return;
    this.base = Math.max(0, seconds);
    this.t0 = performance.now();
  }

  /** A paused attempt's time does not run; the server freezes it too. */
  freeze(flag) {
    if (flag === this.frozen) return;
    if (flag) this.base = this.remaining();
    this.t0 = performance.now();
    this.frozen = flag;
  }

  remaining() {
    if (this.base == null) return null;
    if (this.frozen) return this.base;
    return Math.max(0, this.base - (performance.now() - this.t0) / 1000);
  }
}

export function hms(seconds) {
  if (seconds == null) return "--:--:--";
  const total = Math.max(0, Math.ceil(seconds - 1e-6));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return [h, m, s].map((n) => String(n).padStart(2, "0")).join(":");
}

/** 1 s, 2 s, 4 s ... capped at 30 s, plus up to 20 % jitter so a lab does not retry in step. */
export function backoffMs(failures) {
  const base = Math.min(30000, 1000 * 2 ** Math.max(0, failures - 1));
  return Math.round(base + Math.random() * base * 0.2);
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The token on the room's projector. Polls token.json (the token and the seconds to its next
// rotation, nothing else), counts down between polls, and asks again the moment the countdown
// reaches zero, so the new token is up as soon as the old one stops being the current one.
const root = document.getElementById("projector-root");
const strings = JSON.parse(document.getElementById("projector-strings").textContent);
const tokenBox = document.querySelector("[data-testid=projector-token]");
const rotates = document.querySelector("[data-testid=projector-rotates]");
const offline = document.querySelector("[data-testid=projector-offline]");
const POLL_MS = 5000;          // also picks up a rotation the proctor makes by hand
const AFTER_ROTATION_MS = 500; // the server rotates lazily: ask just after the moment
let rotatesAt = null;          // performance.now() at the next rotation
let pollTimer = null;

function fmt(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return (h ? h + ":" : "") + String(m).padStart(2, "0") + ":" + String(sec).padStart(2, "0");
}

function tick() {
  const text = rotatesAt === null ? strings.manual
    : `${strings.rotates_in} ${fmt((rotatesAt - performance.now()) / 1000)}`;
  if (rotates.textContent !== text) rotates.textContent = text;
}

function schedule() {
  clearTimeout(pollTimer);
  let wait = POLL_MS;
  if (rotatesAt !== null) wait = Math.min(wait, rotatesAt - performance.now() + AFTER_ROTATION_MS);
  pollTimer = setTimeout(poll, Math.max(AFTER_ROTATION_MS, wait));
}

async function poll() {
  try {
    const response = await fetch(root.dataset.url, {
      credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" },
    });
    if (!response.ok) throw new Error(String(response.status));
    const data = await response.json();
    const token = data.token || "—";
    if (tokenBox.textContent.trim() !== token) {
      tokenBox.textContent = token;
      tokenBox.classList.remove("fresh");
      void tokenBox.offsetWidth;   // restart the "new token" highlight
      tokenBox.classList.add("fresh");
    }
    rotatesAt = data.token_rotates_in === null ? null
      : performance.now() + data.token_rotates_in * 1000;
    offline.classList.add("hidden");
  } catch (error) {
    offline.textContent = strings.offline;
    offline.classList.remove("hidden");
  }
  tick();
  schedule();
}

document.getElementById("projector-fullscreen").addEventListener("click", () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
});
setInterval(tick, 250);
poll();

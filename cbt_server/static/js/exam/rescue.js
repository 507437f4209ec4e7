// The rescue file: every answer this PC holds that the server has not confirmed (the queue and
// the late store), as a JSON file a proctor collects from the PC and uploads on the session's
// page. Format (docs/delivery.md):
//   {"format": "cbt-rescue/1", "attempt_id": N, "created_ms": <Date.now()>,
//    "saves": [{position, answer, flagged, seq, age_ms}]}
// Downloading it changes nothing: the answers stay queued and are still sent when possible.

import { lateWire } from "./late.js";

const pad = (n) => String(n).padStart(2, "0");

export function rescueName(attemptId, date = new Date()) {
  const day = `${date.getFullYear()}${pad(date.getMonth() + 1)}${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}${pad(date.getMinutes())}${pad(date.getSeconds())}`;
  return `penyelamatan-${attemptId}-${day}-${time}.json`;
}

export function rescueData(attemptId, saveLists) {
  const now = Date.now();
  const seen = new Set();
  const saves = [];
  for (const save of saveLists.flat()) {
    const key = `${save.position}:${save.seq}`;
    if (seen.has(key)) continue;
    seen.add(key);
    saves.push(lateWire(save, now));
  }
  saves.sort((a, b) => a.seq - b.seq || a.position - b.position);
  return { format: "cbt-rescue/1", attempt_id: Number(attemptId), created_ms: now, saves };
}

/** Offers the file to the browser as a download. */
export function downloadRescue(attemptId, saveLists) {
  const data = rescueData(attemptId, saveLists);
  const blob = new Blob([JSON.stringify(data, null, 1)], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = rescueName(attemptId);
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return data;
}

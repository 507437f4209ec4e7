// What must survive a reload, a crash or a night offline: the unsent saves (in order) and the
// per-attempt sequence counter. Everything goes through localStorage, keyed by attempt id.

function read(key, fallback) {
  try {
    const raw = window.localStorage.getItem(key);
    return raw == null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    window.localStorage.setItem(key, JSON.stringify(value));
    return true;
  } catch {
    return false; // storage full or disabled: the in-memory queue still works for this page
  }
}

function isSave(save) {
  return (
    save &&
    typeof save === "object" &&
    Number.isInteger(save.position) &&
    Number.isInteger(save.seq) &&
    save.seq >= 1
  );
}

export function createStore(attemptId) {
  const queueKey = `cbt-queue-${attemptId}`;
  const seqKey = `cbt-seq-${attemptId}`;
  return {
    loadQueue() {
      const saved = read(queueKey, []);
      return Array.isArray(saved) ? saved.filter(isSave) : [];
    },
    saveQueue(saves) {
      return write(queueKey, saves);
    },
    loadSeq() {
      const n = Number(read(seqKey, 0));
      return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
    },
    saveSeq(n) {
      return write(seqKey, n);
    },
  };
}

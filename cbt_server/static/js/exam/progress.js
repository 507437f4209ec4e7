// Where the participant stands, per section: answered, unanswered, flagged and never-seen items.
// The review and both confirmation dialogs (finish a section, submit) count with these functions
// only, so what a dialog says always equals what the review shows.

import { isAnswered } from "./model.js";

/**
 * One row per section, in the sections' order (items of an unknown section get a row of their
 * own, section null): {section, state, total, answered, unanswered, flagged, unseen,
 * unansweredPositions, flaggedPositions}.
 * entry(position) gives {answer, flagged} as shown; seen(position) whether the item was shown.
 */
export function sectionProgress(sections, items, entry, seen) {
  const blank = (section) => ({
    section,
    state: section ? section.state : "open",
    total: 0,
    answered: 0,
    unanswered: 0,
    flagged: 0,
    unseen: 0,
    unansweredPositions: [],
    flaggedPositions: [],
  });
  const rows = sections.map(blank);
  const byIndex = new Map(rows.map((row) => [row.section.index, row]));
  let orphans = null;
  for (const item of [...items].sort((a, b) => a.position - b.position)) {
    let row = byIndex.get(item.section);
    if (!row) {
      if (!orphans) rows.push((orphans = blank(null)));
      row = orphans;
    }
    const shown = entry(item.position);
    row.total += 1;
    if (isAnswered(shown.answer)) {
      row.answered += 1;
    } else {
      row.unanswered += 1;
      row.unansweredPositions.push(item.position);
    }
    if (shown.flagged) {
      row.flagged += 1;
      row.flaggedPositions.push(item.position);
    }
    if (!seen(item.position)) row.unseen += 1;
  }
  return rows;
}

/** The sums over all rows: {total, answered, unanswered, flagged, unseen}. */
export function progressTotals(rows) {
  const sum = { total: 0, answered: 0, unanswered: 0, flagged: 0, unseen: 0 };
  for (const row of rows) {
    for (const key of Object.keys(sum)) sum[key] += row[key];
  }
  return sum;
}

/** Sections not opened yet (their items were never shown): the submit warning names them. */
export function lockedRows(rows) {
  return rows.filter((row) => row.section && row.state === "locked" && row.total > 0);
}

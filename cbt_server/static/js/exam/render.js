// Builds the item, the navigator, the review list and the section instructions.
// stem_html, option html and instructions_html are sanitised by the server: inserted as HTML.

import { LETTERS, fmt, isAnswered, optionsOf } from "./model.js";
import { lockedRows, progressTotals } from "./progress.js";

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

export function sectionTitle(section, strings) {
  if (!section) return "";
  return section.title || fmt(strings.section_fallback, { n: section.index + 1 });
}

// ---- item ---------------------------------------------------------------------------------

export function renderItem({ item, section, total, entry, strings, locked }) {
  $("item-section").textContent = sectionTitle(section, strings);
  $("item-counter").textContent = fmt(strings.question_of, { n: item.position + 1, total });
  $("item-stem").innerHTML = item.stem_html || "";

  const media = $("item-media");
  media.textContent = "";
  if (item.image_url) {
    const img = el("img", "item-image");
    img.src = item.image_url;
    img.alt = "";
    media.append(img);
  }
  media.hidden = !item.image_url;
  $("view-item").classList.toggle("has-image", Boolean(item.image_url)); // layout: exam.css

  const area = $("item-answer");
  area.textContent = "";
  if (item.type === "short") {
    const label = el("label", "short-label", strings.short_label);
    label.htmlFor = "short-answer";
    const input = el("input", "short-answer");
    input.type = "text";
    input.id = "short-answer";
    input.maxLength = 500;
    input.autocomplete = "off";
    input.spellcheck = false;
    input.dataset.testid = "short-answer";
    input.dataset.position = String(item.position);
    input.value = typeof entry.answer === "string" ? entry.answer : "";
    input.readOnly = Boolean(locked);
    const hint = el("p", "short-hint muted", strings.short_hint);
    area.append(label, input, hint);
    return;
  }
  const multiple = item.type === "multiple";
  const group = el("div", `options options-${item.type}`);
  group.setAttribute("role", multiple ? "group" : "radiogroup");
  group.setAttribute("aria-labelledby", "item-counter");
  optionsOf(item, strings).forEach((option, i) => {
    const index = Number.isInteger(option.index) ? option.index : i;
    const button = el("button", "option");
    button.type = "button";
    button.setAttribute("role", multiple ? "checkbox" : "radio");
    button.dataset.testid = `option-${index}`;
    button.dataset.index = String(index);
    const mark =
      item.type === "likert" ? String(i + 1) : option.label || LETTERS[i] || String(i + 1);
    const markEl = el("span", "option-mark", mark);
    markEl.setAttribute("aria-hidden", "true");
    const text = el("span", "option-text");
    if (option.html) text.innerHTML = option.html;
    else text.textContent = option.text || "";
    button.append(markEl, text);
    group.append(button);
  });
  area.append(group);
  updateAnswer(item, entry);
}

/** Reflects the stored/local answer in the controls without rebuilding them (keeps focus). */
export function updateAnswer(item, entry) {
  if (item.type === "short") {
    const input = $("short-answer");
    const value = typeof entry.answer === "string" ? entry.answer : "";
    if (input && document.activeElement !== input && input.value !== value) input.value = value;
    return;
  }
  const chosen = Array.isArray(entry.answer) ? entry.answer : [];
  for (const button of document.querySelectorAll("#item-answer .option")) {
    const on = chosen.includes(Number(button.dataset.index));
    button.setAttribute("aria-checked", on ? "true" : "false");
    button.classList.toggle("selected", on);
  }
}

export function optionButtons() {
  return [...document.querySelectorAll("#item-answer .option")];
}

// ---- navigator ----------------------------------------------------------------------------

export function buildNavigator(container, sections, items, strings, onJump) {
  container.textContent = "";
  const buttons = new Map();
  const groups = sections.map((section) => ({
    section,
    items: items.filter((item) => item.section === section.index),
  }));
  const known = new Set(sections.map((s) => s.index));
  const orphans = items.filter((item) => !known.has(item.section));
  if (orphans.length) groups.push({ section: null, items: orphans });
  for (const group of groups) {
    if (!group.items.length) continue;
    const box = el("div", "nav-group");
    if (groups.length > 1 && group.section) {
      box.append(el("h3", "nav-section", sectionTitle(group.section, strings)));
    }
    const grid = el("div", "nav-grid");
    for (const item of group.items) {
      const button = el("button", "nav-btn", String(item.position + 1));
      button.type = "button";
      button.dataset.testid = `nav-${item.position}`;
      button.dataset.position = String(item.position);
      grid.append(button);
      buttons.set(item.position, button);
    }
    box.append(grid);
    container.append(box);
  }
  container.onclick = (event) => {
    const button = event.target.closest(".nav-btn");
    if (button && !button.disabled) onJump(Number(button.dataset.position));
  };
  return buttons;
}

export function updateNavigator(buttons, { local, current, reachable, sectionState, strings }) {
  for (const [position, button] of buttons) {
    const entry = local.get(position) || {};
    const answered = isAnswered(entry.answer);
    const flagged = Boolean(entry.flagged);
    const open = reachable(position);
    button.classList.toggle("answered", answered);
    button.classList.toggle("flagged", flagged);
    button.classList.toggle("current", position === current);
    button.classList.toggle("disabled", !open);
    button.disabled = !open;
    if (position === current) button.setAttribute("aria-current", "step");
    else button.removeAttribute("aria-current");
    const parts = [answered ? strings.nav_answered : strings.nav_unanswered];
    if (flagged) parts.push(strings.nav_flagged);
    if (!open) parts.push(sectionState(position) === "closed" ? strings.nav_closed : strings.nav_locked);
    button.setAttribute("aria-label", `${fmt(strings.nav_label, { n: position + 1 })}: ${parts.join(", ")}`);
  }
}

// ---- review -------------------------------------------------------------------------------

function reviewList(listId, positions, kind, reachable, strings) {
  const list = $(listId);
  list.textContent = "";
  if (!positions.length) {
    list.append(el("li", "muted", strings.review_none));
    return;
  }
  for (const position of positions) {
    const li = el("li");
    const button = el("button", "review-link", fmt(strings.nav_label, { n: position + 1 }));
    button.type = "button";
    button.dataset.position = String(position);
    button.dataset.testid = `review-${kind}-${position}`;
    button.disabled = !reachable(position); // a closed or not yet opened section
    li.append(button);
    list.append(li);
  }
}

const STATE_LABELS = { open: "section_open", closed: "section_closed", locked: "section_locked" };

/** Warnings as list items in `list` (hidden when there are none). */
export function fillWarnings(list, texts) {
  list.replaceChildren(...texts.map((text) => el("li", null, text)));
  list.hidden = !texts.length;
}

/** The review: every section with its counts (progress.js), then the items to look at again. */
export function renderReview({ rows, reachable, strings }) {
  const sum = progressTotals(rows);
  $("review-summary").textContent = fmt(strings.review_summary, { answered: sum.answered, total: sum.total });
  fillWarnings(
    $("review-warnings"),
    lockedRows(rows).map((row) =>
      fmt(strings.section_not_opened, { title: sectionTitle(row.section, strings), count: row.total }),
    ),
  );
  const body = $("review-sections-body");
  body.textContent = "";
  rows.forEach((row, n) => {
    const key = row.section ? row.section.index : `x${n}`;
    const tr = el("tr", `review-row review-${row.state}`);
    tr.dataset.testid = `review-section-${key}`;
    const title = el("th", null, sectionTitle(row.section, strings) || fmt(strings.section_fallback, { n: n + 1 }));
    title.scope = "row";
    tr.append(title, el("td", null, strings[STATE_LABELS[row.state]] || ""));
    for (const kind of ["answered", "unanswered", "flagged", "unseen"]) {
      const td = el("td", null, String(row[kind]));
      td.dataset.testid = `review-section-${key}-${kind}`;
      tr.append(td);
    }
    body.append(tr);
  });
  for (const kind of ["answered", "unanswered", "flagged", "unseen"]) {
    document.querySelector(`[data-testid="review-total-${kind}"]`).textContent = String(sum[kind]);
  }
  const unanswered = rows.flatMap((row) => row.unansweredPositions);
  const flagged = rows.flatMap((row) => row.flaggedPositions);
  reviewList("review-unanswered", unanswered, "unanswered", reachable, strings);
  reviewList("review-flagged", flagged, "flagged", reachable, strings);
}

// ---- section instructions -----------------------------------------------------------------

export function renderInstructions(section, strings) {
  $("instructions-title").textContent = sectionTitle(section, strings);
  $("instructions-meta").textContent = fmt(strings.section_count, { count: section.count });
  // A section's time runs from its opening, instructions included (docs/delivery.md, "Time").
  $("instructions-time").textContent = section.timed
    ? fmt(strings.instructions_timed, { minutes: section.minutes ?? "" })
    : strings.instructions_untimed;
  $("instructions-body").innerHTML = section.instructions_html || "";
}

// Small pure helpers about answers and strings.

export const LETTERS = "ABCDEFGH";

export function isAnswered(answer) {
  if (answer == null) return false;
  if (Array.isArray(answer)) return answer.length > 0;
  if (typeof answer === "string") return answer.trim() !== "";
  return false;
}

/** "Soal {n} dari {total}" with values; unknown names are left as they are. */
export function fmt(template, values = {}) {
  return String(template == null ? "" : template).replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole,
  );
}

/**
 * The answer after choosing shown option `index`, or undefined when nothing changes
 * (choosing the selected radio option again does nothing; blanking is the clear button's job).
 */
export function answerAfterChoice(type, current, index) {
  const chosen = Array.isArray(current) ? current : [];
  if (type === "multiple") {
    const next = chosen.includes(index) ? chosen.filter((i) => i !== index) : [...chosen, index];
    return next.sort((a, b) => a - b);
  }
  if (chosen.length === 1 && chosen[0] === index) return undefined;
  return [index];
}

/** The options to show; a true/false item without options gets Benar / Salah. */
export function optionsOf(item, strings) {
  if (Array.isArray(item.options) && item.options.length) return item.options;
  if (item.type === "truefalse") {
    return [
      { index: 0, label: "", html: "", text: strings.option_true || "Benar" },
      { index: 1, label: "", html: "", text: strings.option_false || "Salah" },
    ];
  }
  return [];
}

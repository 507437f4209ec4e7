// Printable pages (cards, attendance list, session report): a visible "print" button. The
// server's Content-Security-Policy allows no inline handlers, so the button is wired here.
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}

// The session forms: "selesai besok" beside an end time at or before the start time (a night
// session, 20:00–06:00), as the server reads it. The page's CSP allows no inline script.
const starts = document.getElementById("starts");
const ends = document.getElementById("ends");
const mark = document.querySelector("[data-next-day]");
if (starts && ends && mark) {
  const update = () => {
    // "HH:MM" values compare as text
    mark.classList.toggle("hidden", !(starts.value && ends.value && ends.value <= starts.value));
  };
  starts.addEventListener("input", update);
  ends.addEventListener("input", update);
  update();
}

// Entry point of the participant's exam page (templates/exam/take.html).
// The page is a plain ES module graph served by the app: no build step, no CDN.
import { boot } from "./exam/main.js";

boot(document.getElementById("exam"));

// A courtesy only: the server signs an idle session off whatever the page does. When the idle
// interval has passed without a page load, reload so the person sees the sign-in page at once.
(function () {
  "use strict";
  var seconds = Number(document.body.dataset.idleSeconds || 0);
  if (seconds > 0) {
    window.setTimeout(function () { window.location.reload(); }, (seconds + 1) * 1000);
  }
})();

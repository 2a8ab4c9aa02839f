/* The invoice run page: polls the run's status and moves the progress bar. */
(function () {
  "use strict";
  var box = document.querySelector("[data-run-status]");
  if (!box) {
    return;
  }
  var bar = box.querySelector("[data-run-bar]");
  var text = box.querySelector("[data-run-text]");
  var meter = box.querySelector("[role=progressbar]");

  function show(run) {
    bar.className = "progress-bar";
    bar.style.width = run.percent + "%";
    bar.textContent = run.percent + "%";
    meter.setAttribute("aria-valuenow", String(run.percent));
    text.textContent = run.message; // the state in the reader's words, from the server
  }

  function poll() {
    fetch(box.getAttribute("data-run-status"), { credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (run) {
        show(run);
        if (run.status !== "finished" && run.status !== "failed") {
          window.setTimeout(poll, 1000);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  poll();
})();

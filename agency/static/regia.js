/* Regia's small progressive enhancements. No inline scripts: the pages work without this file. */
(function () {
  "use strict";

  // A form shown again with errors: move focus to its error summary so it is announced.
  function focusErrorSummary() {
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      summary.focus();
    }
  }

  // The summary's links move focus into the field, not just scroll to it.
  function linkSummaryToFields() {
    document.querySelectorAll("[data-focus-field]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var field = document.getElementById(link.getAttribute("data-focus-field"));
        if (field) {
          event.preventDefault();
          field.focus();
          field.scrollIntoView({ block: "center" });
        }
      });
    });
  }

  // Fields shown only for some choices of a select: data-show-when="<select id>:<v1>,<v2>".
  function toggleDependentFields() {
    var groups = document.querySelectorAll("[data-show-when]");
    groups.forEach(function (group) {
      var spec = group.getAttribute("data-show-when").split(":");
      var select = document.getElementById(spec[0]);
      if (!select) {
        return;
      }
      var values = spec[1].split(",");
      var update = function () {
        var shown = values.indexOf(select.value) !== -1;
        group.hidden = !shown;
        group.querySelectorAll("input, select, textarea").forEach(function (field) {
          field.disabled = !shown;
        });
      };
      select.addEventListener("change", update);
      update();
    });
  }

  // Forms that ask before doing something irreversible: data-confirm="question".
  function confirmForms() {
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) {
          event.preventDefault();
        }
      });
    });
  }

  function start() {
    confirmForms();
    linkSummaryToFields();
    toggleDependentFields();
    focusErrorSummary();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

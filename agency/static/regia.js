/* Regia's few behaviours, loaded as a file: the Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  // <form data-confirm="Delete this channel?">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();

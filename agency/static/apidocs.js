/* Starts Swagger UI on the API docs page; the document's URL comes from data-spec-url. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({ url: root.getAttribute("data-spec-url"), dom_id: "#swagger-ui" });
})();

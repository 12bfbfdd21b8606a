// Starts Swagger UI on /api/v1/docs with the document named by its container (no inline script).
"use strict";
(function () {
  var container = document.getElementById("swagger-ui-container");
  var config = { url: container.dataset.specUrl, dom_id: "#swagger-ui-container" };
  var extra = JSON.parse(container.dataset.config || "{}");
  Object.keys(extra).forEach(function (name) { config[name] = extra[name]; });
  window.ui = SwaggerUIBundle(config);
})();

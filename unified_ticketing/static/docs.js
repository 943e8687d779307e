// Starts Swagger UI on /docs (a file of ours: the page's CSP allows no inline script).
// validatorUrl: null, or Swagger UI would send the spec to an online validator for its badge.
window.addEventListener("DOMContentLoaded", function () {
  var ui = document.getElementById("ui");
  window.ui = SwaggerUIBundle({url: ui.dataset.spec, dom_id: "#ui", validatorUrl: null, deepLinking: true});
});

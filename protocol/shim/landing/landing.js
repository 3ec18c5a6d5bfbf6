// The landing page's script: shows the adapter's health and starts Swagger
// UI on /openapi.json. Everything it loads comes from this server.
"use strict";
(function () {
  var health = document.getElementById("health");
  var cpi = document.getElementById("cpi");
  var cpiName = document.getElementById("cpi-name");

  function show(state, text) {
    health.dataset.state = state;
    health.textContent = text;
  }

  fetch(health.dataset.url, { headers: { Accept: "application/json" }, cache: "no-store" })
    .then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (resp.ok) {
          show("ok", "healthy (" + health.dataset.url + " answers " + resp.status + ")");
        } else {
          var why = body && body.errors && body.errors.length ? body.errors.join("; ") : "HTTP " + resp.status;
          show("unhealthy", "unhealthy: " + why);
        }
        var info = body && body.cpi;
        if (info && info.name) {
          cpi.textContent = info.name + (info.version ? " " + info.version : "") +
            (info.api_version ? " (protocol version " + info.api_version + ")" : "");
          cpiName.textContent = "for " + info.name;
        } else {
          cpi.textContent = "unknown (the health check did not name it)";
        }
      });
    })
    .catch(function (err) {
      show("unreachable", "unreachable: " + err.message);
      cpi.textContent = "unknown";
    });

  var ref = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: ref.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();

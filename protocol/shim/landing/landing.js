// The landing page's script: shows the adapter's liveness and readiness,
// puts the URL the browser reached the adapter at into the next steps, and
// renders Swagger UI from the OpenAPI document embedded in the page (no
// round trip: it renders before the page's load event). Everything it loads
// comes from this server.
"use strict";
(function () {
  var health = document.getElementById("health");
  var ready = document.getElementById("ready");
  var cpi = document.getElementById("cpi");
  var registerURL = document.getElementById("register-url");

  // Behind a proxy the shim may not know the scheme and host people use.
  registerURL.textContent = location.origin + registerURL.dataset.basePath.replace(/\/$/, "");

  function show(el, state, text) {
    el.dataset.state = state;
    el.textContent = text;
  }

  // ask fetches a health endpoint and calls done(ok, status, body).
  function ask(el, done) {
    fetch(el.dataset.url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          done(resp.ok, resp.status, body || {});
        });
      })
      .catch(function (err) {
        show(el, "unreachable", "unreachable: " + err.message);
      });
  }

  function why(status, body) {
    if (body.errors && body.errors.length) {
      return body.errors.join("; ");
    }
    return body.status || "HTTP " + status;
  }

  ask(health, function (ok, status, body) {
    if (ok) {
      show(health, "ok", "alive (" + health.dataset.url + " answers " + status + ")");
    } else {
      show(health, "unhealthy", "unhealthy: " + why(status, body));
    }
    var info = body.cpi;
    if (info && info.name) {
      cpi.textContent = info.name + (info.version ? " " + info.version : "") +
        (info.api_version ? " (protocol version " + info.api_version + ")" : "");
    } else {
      cpi.textContent = "unknown (the liveness check did not name it)";
    }
  });

  ask(ready, function (ok, status, body) {
    var load = typeof body.in_flight === "number" ?
      " (" + body.in_flight + " CPI calls running, " + body.queued + " waiting)" : "";
    if (ok) {
      show(ready, "ok", "ready" + load);
    } else {
      show(ready, "unhealthy", "not ready: " + why(status, body) + load);
    }
  });

  var spec = document.getElementById("openapi-spec").textContent.trim();
  if (!spec) {
    return; // the page says why the reference is missing
  }
  window.ui = SwaggerUIBundle({
    spec: JSON.parse(spec),
    dom_id: "#swagger-ui",
    deepLinking: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();

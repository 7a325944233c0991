/* headgaze — tells the user when the dashboard's own server cannot be reached.
 *
 * Dash sends every callback with fetch(). When the dashboard process is gone (stopped, crashed,
 * being restarted by `make serve`), that fetch fails and Dash leaves the Process button in its
 * "Processing…" state forever. Here a failed callback request turns into a clear status line and a
 * button that is no longer busy; the page then checks the server every few seconds and says when it is back, so
 * the next Process works without a reload. (The attention *service* being down is reported by the
 * dashboard server itself, in Python.)
 */
(function () {
  "use strict";
  var POLL_MS = 2000;
  var GONE = "The dashboard server is not reachable (it may be stopped or restarting). " +
             "This page will notice when it is back.";
  var BACK = "The dashboard server is back. Press Process to continue.";
  var polling = null;

  function prefix() {
    try {
      return JSON.parse(document.getElementById("_dash-config").textContent).requests_pathname_prefix || "/";
    } catch (e) {
      return "/";
    }
  }

  function setProps(id, props) {
    if (window.dash_clientside && window.dash_clientside.set_props && document.getElementById(id)) {
      window.dash_clientside.set_props(id, props);
    }
  }

  function serverGone() {
    setProps("status", { children: GONE, className: "hg-status hg-error" });
    setProps("process-button", { className: "hg-button", children: "Process" });  // not busy any more
    if (polling) { return; }
    polling = setInterval(function () {
      originalFetch(prefix() + "_dash-layout", { cache: "no-store" }).then(function (resp) {
        if (!resp.ok) { return; }
        clearInterval(polling);
        polling = null;
        setProps("status", { children: BACK, className: "hg-status" });
      }, function () { /* still gone: keep polling */ });
    }, POLL_MS);
  }

  var originalFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    var url = typeof input === "string" ? input : (input && input.url) || "";
    var request = originalFetch(input, init);
    if (url.indexOf("_dash-update-component") < 0) { return request; }
    return request.then(function (resp) {
      // 502/503/504 come from a proxy in front of a dead dashboard; the app's own errors are JSON.
      if (resp.status === 502 || resp.status === 503 || resp.status === 504) { serverGone(); }
      return resp;
    }, function (err) {
      serverGone();
      throw err;
    });
  };
})();

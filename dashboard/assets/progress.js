/* headgaze — a slow request's progress: "running the model… n s" beside the status line.
 *
 * A grid request (Process, Enter, the model, a switch: the grid-request store, dashboard/callbacks_grid.py)
 * starts a timer here (clientside callback `progressStart`). While the grid callback runs, Dash keeps the
 * Process button busy (`hg-busy`); once the request has run longer than the page's `progressAfterMs`
 * (PROGRESS_AFTER_S in dashboard/views/constants.py, through the hg-config store) the #progress line says so
 * with the elapsed whole seconds, and it is cleared as soon as the button is no longer busy: the answer (the
 * result drawn or an error in the status line) has arrived, or connection.js gave up on a dead server.
 * A newer request restarts the timer. Written through dash_clientside.set_props, never behind Dash's back.
 */
(function () {
  "use strict";
  var TICK_MS = 200;
  var run = null;  // {t0, afterMs, timer, observer, shown}

  function button() { return document.getElementById("process-button"); }
  function busy() { var b = button(); return !!b && b.classList.contains("hg-busy"); }
  function show(text) {
    if (window.dash_clientside.set_props && document.getElementById("progress")) {
      window.dash_clientside.set_props("progress", { children: text });
    }
  }

  function stop() {
    if (!run) { return; }
    clearInterval(run.timer);
    run.observer.disconnect();
    if (run.shown) { show(""); }
    run = null;
  }

  function tick() {
    if (!run) { return; }
    var ms = performance.now() - run.t0;
    if (ms < run.afterMs) { return; }
    if (!busy()) { stop(); return; }
    var text = "running the model… " + Math.floor(ms / 1000) + " s";
    if (text !== run.shown) {
      run.shown = text;
      show(text);
    }
  }

  function start(afterMs) {
    stop();
    run = { t0: performance.now(), afterMs: afterMs, shown: "" };
    run.timer = setInterval(tick, TICK_MS);
    // The button's class changes when the request starts (busy) and when its answer arrives (not busy).
    run.observer = new MutationObserver(function () { if (!busy()) { stop(); } });
    var b = button();
    if (b) { run.observer.observe(b, { attributes: true, attributeFilter: ["class"] }); }
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    progressStart: function (request, config) {
      if (!request) { return window.dash_clientside.no_update; }
      start((config && config.progressAfterMs) || 1000);
      return "";
    }
  });
})();

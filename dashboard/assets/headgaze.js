/* headgaze — page-level browser code (served locally by Dash from dashboard/assets/).
 * Clientside callbacks (namespace "headgaze"): character counter (Unicode code points, as the API
 * counts), the model panel's size, grid PNG export, view state → URL query string. The views'
 * own browser code lives beside their Python code in dashboard/views/*.js.
 */
(function () {
  "use strict";
  var hg = window.headgaze = window.headgaze || {};

  function panelSize() {
    var wrap = document.getElementById("model-view-wrap");
    if (!wrap) { return null; }
    return { width: Math.round(wrap.clientWidth), height: Math.round(wrap.clientHeight) };
  }
  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      var size = panelSize();
      if (size && window.dash_clientside.set_props) { window.dash_clientside.set_props("panel-size", { data: size }); }
    }, 200);
  });

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    counter: function (value, config) {
      var max = (config && config.maxChars) || 50;
      var n = Array.from(value || "").length;  // code points: an emoji counts once
      var cls = "hg-counter" + (n > max ? " hg-over" : n >= max - 5 ? " hg-near" : "");
      return [n + "/" + max, cls];
    },

    panelSize: function () { return panelSize() || window.dash_clientside.no_update; },

    exportPng: function (n) {
      var gd = hg.gridDiv && hg.gridDiv();
      if (!n || !gd || !window.Plotly) { return window.dash_clientside.no_update; }
      var meta = (gd._fullLayout && gd._fullLayout.meta) || {};
      window.Plotly.downloadImage(gd, { format: "png", filename: "headgaze-" + (meta.model || "model") + "-grid",
                                       scale: 2, width: gd._fullLayout.width, height: gd._fullLayout.height });
      return n;
    },

    writeUrl: function (meta, sel, tag, source) {
      // history.replaceState: the address bar always holds a link to this view; no reload,
      // no history entry per click, no request. dcc.Location reads it when a link is opened.
      if (!meta || !window.history || !window.history.replaceState) { return window.dash_clientside.no_update; }
      var p = new URLSearchParams();
      p.set("model", meta.model);
      p.set("text", meta.text);
      p.set("layer", String((sel && sel.layer) || 0));
      p.set("head", String((sel && sel.head) || 0));
      if (tag) { p.set("tag", tag); }
      if (source && source !== "text") { p.set("tags", source); }
      if (meta.hide_first) { p.set("hide_first", "1"); }
      if (meta.weighting === "value_norm") { p.set("weighting", "value_norm"); }
      var qs = "?" + p.toString();
      if (window.location.search !== qs) { window.history.replaceState(window.history.state, "", qs); }
      return qs;
    }
  });
})();

/* headgaze query · key view — browser side (Python side: qk_view.py).
 * `hg.qkShow(query)`, called by head_view.js when the pointer is over a query token of the head view
 * (left column) or a row of the heatmap, redraws the q·k view for that query from the head's q and k
 * already in the page (the qk-data store, fetched once on selection; clientside callback `qkData`):
 * no server request. It is a Patch through dash_clientside.set_props, sent at once, so it does not
 * wait for the head view's own redraw. The same arithmetic as qk_view.query_parts: products
 * q[d]·k[d]·scale per key, their column sums (scores), softmax.
 */
(function () {
  "use strict";
  var hg = window.headgaze = window.headgaze || {};
  var decoded = { id: null, q: null, k: null };

  function f32(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new Float32Array(bytes.buffer);
  }

  function arrays(qd) {
    var id = qd.key + "-" + qd.layer + "-" + qd.head;
    if (decoded.id !== id) { decoded = { id: id, q: f32(qd.q), k: f32(qd.k) }; }
    return decoded;
  }

  function parts(qd, query) {
    var a = arrays(qd), T = qd.T, d = qd.d, s = qd.scale, products = [], scores = [], weights = [];
    var last = qd.causal ? query : T - 1, max = -Infinity, sum = 0, j, r;
    for (r = 0; r < d; r++) { products.push(new Array(T).fill(null)); }
    for (j = 0; j < T; j++) { scores.push(null); weights.push(0); }
    for (j = 0; j <= last; j++) {
      var total = 0;
      for (r = 0; r < d; r++) {
        var v = a.q[query * d + r] * a.k[j * d + r] * s;
        products[r][j] = v;
        total += v;
      }
      scores[j] = total;
      if (total > max) { max = total; }
    }
    for (j = 0; j <= last; j++) { weights[j] = Math.exp(scores[j] - max); sum += weights[j]; }
    var top = 0, lim = 0;
    for (j = 0; j <= last; j++) {
      weights[j] /= sum;
      if (weights[j] > weights[top]) { top = j; }
      for (r = 0; r < d; r++) { lim = Math.max(lim, Math.abs(products[r][j])); }
    }
    return { products: products, scores: scores, weights: weights, top: top, lim: lim || 1 };
  }

  /* Redraw the q·k view for `query` (a Patch of its traces, title and meta) unless it shows it already. */
  function qkShow(query) {
    var qd = hg.qk, gd = document.querySelector("#qk-view .js-plotly-plot");
    var meta = gd && gd.layout && gd.layout.meta;
    var hd = hg.head;  // the pointer is over hg.head's tokens: its view and head only
    if (!qd || !meta || meta.view !== "qk" || meta.key !== qd.key || meta.layer !== qd.layer || meta.head !== qd.head ||
        !hd || hd.key !== qd.key || hd.layer !== qd.layer || hd.head !== qd.head) { return; }
    if (isNaN(query) || query < 0 || query >= qd.T || query === meta.query) { return; }
    var p = parts(qd, query), labels = meta.labels;
    window.dash_clientside.set_props("qk-view", { figure: new window.dash_clientside.Patch()
      .assign(["data", 0, "y"], p.weights).assign(["data", 1, "y"], p.scores).assign(["data", 2, "z"], p.products)
      .assign(["data", 2, "zmin"], -p.lim).assign(["data", 2, "zmax"], p.lim)
      .assign(["layout", "meta", "query"], query)
      .assign(["layout", "title", "text"], "query " + labels[query] + " → strongest key " + labels[p.top] +
              " (" + p.weights[p.top].toFixed(2) + ")")
      .build() });
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    qkData: function (qd) {
      hg.qk = qd || null;
      return qd ? qd.key + "-" + qd.layer + "-" + qd.head : "";
    }
  });
  hg.qkParts = parts;
  hg.qkShow = qkShow;
})();

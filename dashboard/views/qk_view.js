/* headgaze query · key view — browser side (Python side: qk_view.py).
 * Clientside callback `qkView`: hovering a query token in the head view (left column) or a row of
 * the heatmap redraws the q·k view for that query from the head's q and k already in the page
 * (the qk-data store, fetched once on selection): no server request. The same arithmetic as
 * qk_view.query_parts: products q[d]·k[d]·scale per key, their column sums (scores), softmax.
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

  /* The query index a hover names, or null: a query marker of the head view, a heatmap row. */
  function hoveredQuery(trigger, headHover, mapHover) {
    var p;
    if (trigger.indexOf("head-heatmap") === 0) {
      p = mapHover && mapHover.points && mapHover.points[0];
      return p ? parseInt(String(p.y), 10) : null;
    }
    p = headHover && headHover.points && headHover.points[0];
    return p && p.x < 0.5 ? Math.round(-p.y) : null;
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

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    qkView: function (headHover, mapHover, qd, fig) {
      var nu = window.dash_clientside.no_update, ctx = window.dash_clientside.callback_context;
      var meta = fig && fig.layout && fig.layout.meta;
      if (!qd || !meta || meta.view !== "qk" || meta.layer !== qd.layer || meta.head !== qd.head) { return nu; }
      // Leaving the head view for the heatmap clears one hover as the other starts: both may arrive in
      // one call, so the first trigger that names a query wins.
      var query = null;
      (ctx.triggered || []).forEach(function (t) {
        if (query === null) { query = hoveredQuery(t.prop_id || "", headHover, mapHover); }
      });
      if (query === null || isNaN(query) || query < 0 || query >= qd.T || query === meta.query) { return nu; }
      var p = parts(qd, query), labels = meta.labels;
      return new window.dash_clientside.Patch()
        .assign(["data", 0, "y"], p.weights).assign(["data", 1, "y"], p.scores).assign(["data", 2, "z"], p.products)
        .assign(["data", 2, "zmin"], -p.lim).assign(["data", 2, "zmax"], p.lim)
        .assign(["layout", "meta", "query"], query)
        .assign(["layout", "title", "text"], "query " + labels[query] + " → strongest key " + labels[p.top] +
                " (" + p.weights[p.top].toFixed(2) + ")")
        .build();
    }
  });
  hg.qkParts = parts;
})();

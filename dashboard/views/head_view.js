/* headgaze head view — browser side (Python side: head_view.py).
 * Clientside callback `headView`: hovering a token shows all of its lines and their weights,
 * computed from the selected head's matrix already in the page (the head-data store): no request.
 */
(function () {
  "use strict";
  var hg = window.headgaze = window.headgaze || {};

  function fmt(w) { return w >= 0.995 ? "1.00" : w.toFixed(2).replace(/^0/, ""); }

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    headView: function (base, hoverData, hd, config) {
      if (!base) { return window.dash_clientside.no_update; }
      var meta = base.layout && base.layout.meta;
      if (!hoverData || !hoverData.points || !hoverData.points.length || !hd || !meta ||
          meta.layer !== hd.layer || meta.head !== hd.head) {
        return base;
      }
      var p = hoverData.points[0], T = hd.tokens.length, idx = Math.round(-p.y);
      if (idx < 0 || idx >= T) { return base; }
      var cur = hg.head;
      if (!cur || cur.key !== hd.key || cur.layer !== hd.layer || cur.head !== hd.head) { return base; }
      var fromQuery = p.x < 0.5, m = cur.matrix, color = (config && config.lineColor) || "#e4572e";
      var traces = [], nx = [], ny = [], nt = [];
      for (var j = 0; j < T; j++) {
        var q = fromQuery ? idx : j, k = fromQuery ? j : idx, w = m[q][k];
        if (!(w > 0)) { continue; }
        traces.push({ type: "scatter", mode: "lines", x: [0, 1], y: [-q, -k], hoverinfo: "skip", showlegend: false,
                      line: { color: color, width: 1 + 7 * w }, opacity: Math.min(1, 0.25 + 0.75 * w) });
        nx.push(fromQuery ? 0.93 : 0.07);
        ny.push(-j);
        nt.push(fmt(w));
      }
      traces.push({ type: "scatter", mode: "text", x: nx, y: ny, text: nt, hoverinfo: "skip", showlegend: false,
                    textposition: fromQuery ? "middle left" : "middle right", name: "weights",
                    textfont: { color: "#b3261e", size: 12 }, cliponaxis: false });
      base.data.forEach(function (tr) {
        if (tr.name === "query" || tr.name === "key") {
          var sizes = [];
          for (var i = 0; i < T; i++) { sizes.push(((tr.name === "query") === fromQuery && i === idx) ? 15 : 9); }
          traces.push(Object.assign({}, tr, { marker: Object.assign({}, tr.marker, { size: sizes }) }));
        }
      });
      var layout = Object.assign({}, base.layout, {
        meta: Object.assign({}, meta, { hovered: idx, side: fromQuery ? "query" : "key" })
      });
      return { data: traces, layout: layout };
    }
  });
  hg.fmt = fmt;
})();

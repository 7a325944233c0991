/* headgaze head view — browser side (Python side: head_view.py).
 *
 * - clientside callback `headView`: the head view without hover. A short text: the server's figure
 *   as it is. A long text (layout.meta.focus): the focus window, drawn here from every query's lines
 *   sent by the server: FOCUS_QUERIES queries around the focused one and the keys their lines
 *   reach, in text order, a gap row ("⋯ n tokens") where tokens are left out.
 * - the pointer (read from its own coordinates, like the model view's tooltip): over a token of the
 *   head view, all of that token's lines and weights (from the head's matrix in the page); over a
 *   heatmap row or a token of the hover view, the window moves to that query. Over a pooled heatmap
 *   (a long text: its cells are blocks of tokens) a tooltip names the exact query and key under the
 *   pointer and their weight, from the full matrix. A query hovered in
 *   the head view or the heatmap also redraws the q·k view at once (qk_view.js).
 * Head view redraws go through Dash (dash_clientside.set_props), one per frame, after the next paint:
 * the q·k view and the hover view, drawn at once, never wait for them.
 */
(function () {
  "use strict";
  var hg = window.headgaze = window.headgaze || {};
  var shown = null;  // what the head view shows: figure without hover, rows, token → point, window, hover
  var pending = null, scheduled = false, lastNote = "";

  function fmt(w) { return w >= 0.995 ? "1.00" : w.toFixed(2).replace(/^0/, ""); }
  function esc(t) { return String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function range(a, b) { var out = []; for (var i = a; i <= b; i++) { out.push(i); } return out; }
  function positions(list) { var pos = {}; list.forEach(function (t, i) { pos[t] = i; }); return pos; }

  /* A short text: the server's figure, every token on its own row. */
  function plainView(base, hd) {
    var all = range(0, hd.tokens.length - 1);
    return { base: base, fig: base, rows: all, queries: all, keys: all, qpos: positions(all), kpos: positions(all),
             layer: hd.layer, head: hd.head, key: hd.key, result: hd.result, window: null, hover: null };
  }

  /* A long text: the window of queries around `query`, the keys their lines reach, gap rows. */
  function focusView(base, hd, cfg, query) {
    var meta = base.layout.meta, f = meta.focus, T = hd.tokens.length, W = Math.min(f.queries, T);
    var answer = typeof meta.answer === "number" ? meta.answer : null;
    var a = Math.max(0, Math.min(T - W, query - Math.floor(W / 2))), b = a + W - 1, p = f.pairs;
    var wanted = {}, lines = [], i;
    for (i = a; i <= b; i++) { wanted[i] = true; }
    for (i = 0; i < p.length; i += 3) {
      if (p[i] >= a && p[i] <= b) { wanted[p[i + 1]] = true; lines.push(p.slice(i, i + 3)); }
    }
    var keys = Object.keys(wanted).map(Number).sort(function (x, y) { return x - y; });
    var rows = [], gap = { x: [], y: [], text: [] }, prev = -1;
    function addGap(n) { gap.x.push(1); gap.y.push(-rows.length); gap.text.push("⋯ " + n + (n === 1 ? " token" : " tokens")); rows.push(-1); }
    keys.forEach(function (k) {
      if (k > prev + 1) { addGap(k - prev - 1); }
      rows.push(k);
      prev = k;
    });
    if (prev < T - 1) { addGap(T - 1 - prev); }
    var rowOf = positions(rows), queries = range(a, b), data = [];
    f.bins.forEach(function (bin, n) {
      var xs = [], ys = [];
      lines.forEach(function (l) {
        if ((l[2] >= bin.lo && l[2] < bin.hi) || (n === f.bins.length - 1 && l[2] >= bin.hi)) {
          xs.push(0, 1, null);
          ys.push(-rowOf[l[0]], -rowOf[l[1]], null);
        }
      });
      if (xs.length) {
        data.push({ type: "scatter", mode: "lines", x: xs, y: ys, hoverinfo: "skip", showlegend: false,
                    line: { color: cfg.lineColor, width: bin.width }, opacity: bin.opacity,
                    name: "w " + bin.lo.toFixed(2) + "–" + bin.hi.toFixed(2) });
      }
    });
    base.data.forEach(function (tr) {  // the server's column and gap traces, filled for the window
      var list = tr.name === "query" ? queries : tr.name === "key" ? keys : null;
      if (!list) { data.push(Object.assign({}, tr, gap)); return; }
      var colors = list.map(function (t) {
        return hd.tokens[t].special ? cfg.specialColor : answer !== null && t >= answer ? cfg.answerColor : cfg.ink;
      });
      data.push(Object.assign({}, tr, {
        x: list.map(function () { return tr.name === "query" ? 0 : 1; }), y: list.map(function (t) { return -rowOf[t]; }),
        text: list.map(function (t) { return esc(hd.tokens[t].text); }),
        marker: Object.assign({}, tr.marker, { color: colors }), textfont: Object.assign({}, tr.textfont, { color: colors })
      }));
    });
    // a generated answer: a dashed line before the first row at or after its first token
    var cut = answer === null ? -1 : rows.findIndex(function (t) { return t >= answer; }), shapes = [];
    if (cut > 0) {
      shapes.push({ type: "line", xref: "paper", yref: "y", x0: 0, x1: 1, y0: -(cut - 0.5), y1: -(cut - 0.5),
                    name: "answer", layer: "below", line: { color: cfg.answerColor, width: 1.5, dash: "dash" } });
    }
    var R = rows.length, layout = Object.assign({}, base.layout, {
      shapes: shapes,
      height: base.layout.margin.t + 12 + cfg.rowPx * Math.max(R, 4),
      yaxis: Object.assign({}, base.layout.yaxis, { range: [-(R - 1) - 0.6, 0.6] }),
      title: { text: "tokens " + a + "–" + b + " of " + T + "; hover the heatmap<br>to move the window",
               x: 0, xanchor: "left", xref: "container", y: 1, yanchor: "top", yref: "container",
               pad: { t: 14, l: 6 }, font: { size: 11, color: "#666" } },
      meta: { key: meta.key, layer: meta.layer, head: meta.head, tokens: T, view: "head", window: [a, b], focus: query,
              rows: rows, answer: answer }
    });
    return { base: base, fig: { data: data, layout: layout }, rows: rows, queries: queries, keys: keys,
             qpos: positions(queries), kpos: positions(keys), layer: hd.layer, head: hd.head, key: hd.key, result: hd.result,
             window: [a, b], hover: null };
  }

  /* The shown figure with every line of one token and their weights (side "query" or "key"). */
  function hoverFigure(view, side, idx, cfg) {
    var cur = hg.head, fromQuery = side === "query", m = cur.matrix, color = cfg.lineColor || "#e4572e";
    var traces = [], nx = [], ny = [], nt = [], row = view.rows === view.queries ? null : positions(view.rows);
    function y(t) { return -(row ? row[t] : t); }
    (fromQuery ? view.keys : view.queries).forEach(function (j) {
      var q = fromQuery ? idx : j, k = fromQuery ? j : idx, w = m[q][k];
      if (!(w > 0)) { return; }
      traces.push({ type: "scatter", mode: "lines", x: [0, 1], y: [y(q), y(k)], hoverinfo: "skip", showlegend: false,
                    line: { color: color, width: 1 + 7 * w }, opacity: Math.min(1, 0.25 + 0.75 * w) });
      nx.push(fromQuery ? 0.93 : 0.07);
      ny.push(y(j));
      nt.push(fmt(w));
    });
    traces.push({ type: "scatter", mode: "text", x: nx, y: ny, text: nt, hoverinfo: "skip", showlegend: false,
                  textposition: fromQuery ? "middle left" : "middle right", name: "weights",
                  textfont: { color: "#b3261e", size: 12 }, cliponaxis: false });
    var at = fromQuery ? view.qpos[idx] : view.kpos[idx];
    view.fig.data.forEach(function (tr) {
      if (tr.name === "query" || tr.name === "key") {
        var sizes = tr.x.map(function (_, i) { return ((tr.name === "query") === fromQuery && i === at) ? 15 : 9; });
        traces.push(Object.assign({}, tr, { marker: Object.assign({}, tr.marker, { size: sizes }) }));
      } else if (tr.name === "gap") {
        traces.push(tr);
      }
    });
    var layout = Object.assign({}, view.fig.layout, {
      meta: Object.assign({}, view.fig.layout.meta, { hovered: idx, side: side })
    });
    return { data: traces, layout: layout };
  }

  function plotOf(id) {
    var gd = document.querySelector("#" + id + " .js-plotly-plot");
    return gd && gd._fullLayout && gd._fullLayout.meta ? gd : null;
  }
  function showsHead(gd) {
    var meta = gd._fullLayout.meta;
    return shown && meta.key === shown.key && meta.layer === shown.layer && meta.head === shown.head;
  }

  /* The head view's token under the pointer: {side, index}, or null. */
  function headTokenAt(ev) {
    var gd = plotOf("head-view");
    if (!gd || !gd.contains(ev.target) || gd._fullLayout.meta.view !== "head" || !showsHead(gd)) { return null; }
    var fl = gd._fullLayout, r = gd.getBoundingClientRect();
    var x = fl.xaxis.p2l(ev.clientX - r.left - fl.xaxis._offset);
    var row = Math.round(-fl.yaxis.p2l(ev.clientY - r.top - fl.yaxis._offset));
    var tok = row >= 0 && row < shown.rows.length ? shown.rows[row] : -1, side = x < 0.5 ? "query" : "key";
    if (tok < 0 || (side === "query" ? shown.qpos : shown.kpos)[tok] === undefined) { return null; }
    return { side: side, index: tok };
  }

  /* The heatmap cell under the pointer: {q, k} (token indexes: a pooled heatmap's axes are tokens too,
   * so this is the exact query and key, not the pooled cell), or null. */
  function heatmapCellAt(ev) {
    var gd = plotOf("head-heatmap");
    if (!gd || !gd.contains(ev.target) || gd._fullLayout.meta.view !== "heatmap" || !showsHead(gd)) { return null; }
    var fl = gd._fullLayout, r = gd.getBoundingClientRect(), T = fl.meta.tokens;
    var px = ev.clientX - r.left - fl.xaxis._offset, py = ev.clientY - r.top - fl.yaxis._offset;
    if (px < 0 || py < 0 || px > fl.xaxis._length || py > fl.yaxis._length) { return null; }
    var q = Math.round(fl.yaxis.p2l(py)), k = Math.round(fl.xaxis.p2l(px));
    return q >= 0 && q < T ? { q: q, k: Math.min(Math.max(k, 0), T - 1), pooled: fl.meta.pooled > 1 } : null;
  }

  /* A pooled heatmap's hover (Plotly's is off: its cells are blocks): the exact query, key and weight under
   * the pointer, from the full matrix in the page. */
  function heatmapTooltip(cell, ev) {
    var tip = document.getElementById("heatmap-tooltip"), cur = hg.head;
    if (!cell || !cell.pooled || !cur || cur.key !== shown.key || cur.layer !== shown.layer || cur.head !== shown.head) {
      if (tip) { tip.style.display = "none"; }
      return;
    }
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "heatmap-tooltip";
      tip.className = "hg-tooltip";
      document.body.appendChild(tip);
    }
    var w = cur.matrix[cell.q][cell.k], t = cur.tokens;
    tip.textContent = "query " + cell.q + " “" + t[cell.q].text + "”\nkey " + cell.k + " “" + t[cell.k].text + "”\n" +
      (cur.weighting === "value_norm" ? "weight × value norm " : "weight ") + w.toFixed(4);
    tip.setAttribute("data-query", String(cell.q));
    tip.setAttribute("data-key", String(cell.k));
    tip.style.display = "block";
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + "px";
    tip.style.top = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8) + "px";
  }

  /* Redraw the head view after the next paint, at most once per frame, with the latest change. */
  function later(change) {
    pending = Object.assign(pending || {}, change);
    if (scheduled) { return; }
    scheduled = true;
    requestAnimationFrame(function () {
      setTimeout(function () {
        scheduled = false;
        var c = pending;
        pending = null;
        if (shown) { redraw(c); }
      }, 0);
    });
  }

  /* A new window: its caption above the box, and the box scrolled so that its first query rows are in
   * sight (the keys before the window, with their gap rows, sit above them). */
  function scrollToWindow(view) {
    var note = view.window ? view.fig.layout.title.text.replace("<br>", " ") : "";
    if (note !== lastNote && window.dash_clientside.set_props && document.getElementById("head-window-note")) {
      lastNote = note;
      window.dash_clientside.set_props("head-window-note", { children: note });
    }
    if (!view.window) { return; }
    var top = view.fig.layout.margin.t + view.rows.indexOf(view.window[0]) * ((hg.config || {}).rowPx || 22);
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        var el = document.getElementById("head-view"), box = el && el.closest(".hg-scroll-box");
        if (box) { box.scrollTop = Math.max(0, top - 60); }
      });
    });
  }

  function drawn(view) {
    var h = view.hover;
    return (view.window ? view.window[0] : "") + "|" + (h ? h.side + h.index : "");
  }

  /* c: {hover: token or null, focus: the query to remember, center: the query to move the window to} */
  function redraw(c) {
    var cfg = hg.config || {}, cur = hg.head, before = drawn(shown);
    if (c.focus !== undefined && window.dash_clientside.set_props) {
      window.dash_clientside.set_props("focus", { data: { key: shown.result, query: c.focus } });
    }
    if (c.center !== undefined && shown.window && cur && cur.key === shown.key) {
      var moved = focusView(shown.base, cur, cfg, c.center);
      if (moved.window[0] !== shown.window[0]) {
        moved.hover = shown.hover;
        moved.drawn = shown.drawn;
        shown = moved;
        scrollToWindow(shown);
      }
    }
    if (c.hover !== undefined) { shown.hover = c.hover; }
    var now = drawn(shown);
    if (now === (shown.drawn || before)) { return; }
    shown.drawn = now;
    var h = shown.hover, usable = h && cur && cur.key === shown.key && cur.layer === shown.layer && cur.head === shown.head;
    window.dash_clientside.set_props("head-view", { figure: usable ? hoverFigure(shown, h.side, h.index, cfg) : shown.fig });
  }

  /* The pointer moved: read as soon as the browser has the input (pointerrawupdate, where the browser
   * has it), not at the next frame as mousemove is: the q·k view starts drawing up to a frame earlier. */
  function pointerMoved(ev) {
    if (!shown) { return; }
    var tok = headTokenAt(ev);
    if (tok) {
      if (tok.side === "query" && hg.qkShow) { hg.qkShow(tok.index); }
      later(tok.side === "query" ? { hover: tok, focus: tok.index } : { hover: tok });
      return;
    }
    if (shown.hover || (pending && pending.hover)) { later({ hover: null }); }
    var cell = heatmapCellAt(ev);
    heatmapTooltip(cell, ev);
    if (cell !== null) {
      if (hg.qkShow) { hg.qkShow(cell.q); }
      later({ focus: cell.q, center: cell.q });
    }
  }
  // capture: before Plotly's own handling of the same move
  document.addEventListener("onpointerrawupdate" in window ? "pointerrawupdate" : "mousemove", pointerMoved, true);

  document.addEventListener("mouseover", function (ev) {
    var el = ev.target && ev.target.closest ? ev.target.closest("#hover-view .hg-token") : null;
    if (el && shown) {  // the focused query (the writes view follows it); a long text's window moves to it
      var i = parseInt(el.getAttribute("data-index"), 10);
      later({ focus: i, center: i });
    }
  });

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    headView: function (base, hd, config) {
      if (!base) { return window.dash_clientside.no_update; }
      var meta = base.layout && base.layout.meta;
      hg.config = config || hg.config;
      // the head view and the head data of one answer (same view key and head), else no lines to hover
      if (!meta || !hd || meta.view !== "head" || meta.key !== hd.key || meta.layer !== hd.layer || meta.head !== hd.head) {
        shown = null;
        return base;
      }
      shown = meta.focus ? focusView(base, hd, hg.config, meta.focus.query) : plainView(base, hd);
      shown.drawn = drawn(shown);
      scrollToWindow(shown);
      return shown.fig;
    }
  });
  hg.fmt = fmt;
})();

/* headgaze model view — browser side (Python side: model_view.py).
 *
 * - clientside callback `gridRequest`: what the controls ask the grid callback for (the
 *   grid-request store; dashboard/callbacks_grid.py says why every control goes through it);
 * - clientside callback `outline`: the selected tile's outline and the knocked-out tiles' marks, as
 *   a dash Patch of traces 2 and 4;
 * - a tile click is computed from the pointer's coordinates (never from Plotly's clickData, which
 *   carries the last *throttled* hover and can name the previously hovered tile);
 * - keyboard: arrows move a dotted cursor (Patch of trace 3), Enter/Space select it;
 * - hover tooltip: layer, head, query and key tokens and the weight, from the figure's own data.
 * Geometry comes from the figure's layout.meta (tile, cells, edges, labels), set in Python.
 */
(function () {
  "use strict";
  var hg = window.headgaze = window.headgaze || {};
  var SELECTED = 2, CURSOR = 3, KNOCKED = 4;

  function gridDiv() {
    var g = document.getElementById("model-view");
    return g ? g.querySelector(".js-plotly-plot") : null;
  }
  function gridMeta(gd) {
    var meta = gd && gd._fullLayout && gd._fullLayout.meta;
    return meta && meta.tile ? meta : null;
  }
  function rect(meta, layer, head) {
    var s = meta.tile, c = meta.cells;
    var x0 = head * s - 0.85, x1 = head * s + c - 0.15, y0 = layer * s - 0.85, y1 = layer * s + c - 0.15;
    return { x: [x0, x1, x1, x0, x0], y: [y0, y0, y1, y1, y0] };
  }
  function outlining(meta, trace, cell) {  // the unbuilt Patch of one outline trace
    var r = cell ? rect(meta, cell.layer, cell.head) : { x: [], y: [] };
    return new window.dash_clientside.Patch()
      .assign(["data", trace, "x"], r.x).assign(["data", trace, "y"], r.y);
  }
  function outlinePatch(meta, trace, cell) { return outlining(meta, trace, cell).build(); }
  hg.gridDiv = gridDiv;

  /* Pointer → the tile (and the cell inside it) under it, or null outside the grid. */
  function cellAt(gd, clientX, clientY) {
    var meta = gridMeta(gd), fl = gd._fullLayout;
    if (!meta) { return null; }
    var box = gd.getBoundingClientRect();
    var px = clientX - box.left - fl.xaxis._offset, py = clientY - box.top - fl.yaxis._offset;
    if (px < 0 || py < 0 || px > fl.xaxis._length || py > fl.yaxis._length) { return null; }
    var x = fl.xaxis.p2l(px), y = fl.yaxis.p2l(py);
    var col = Math.round(x), row = Math.round(y), s = meta.tile;
    var head = Math.floor(col / s), layer = Math.floor(row / s);
    var k = col - head * s, q = row - layer * s;
    if (head < 0 || layer < 0 || head >= meta.heads || layer >= meta.layers) { return null; }
    return { layer: layer, head: head, q: q, k: k, inTile: q < meta.cells && k < meta.cells, row: row, col: col };
  }
  hg.cellAt = cellAt;

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  /* Process, Enter and a model change take the text in the box ("fresh": drawn anew); the switches
   * and the tag controls redraw the text of the last request, not one still being typed. */
  var FRESH = /^(process-button|text-input|model-select)\./;
  /* A generated answer (the answer store, set by answer_view.js) is drawn anew as a raw text:
   * template + prompt + answer, exactly the ids generated, its first token marked. */
  function gridRequest(_clicks, _submit, model, hideFirst, weighting, source, tag, answer, text, prev) {
    var ctx = window.dash_clientside.callback_context || {}, trig = ctx.triggered || [];
    var byAnswer = !!answer && trig.some(function (t) { return t.prop_id === "answer.data"; });
    var fresh = byAnswer || !prev || trig.some(function (t) { return FRESH.test(t.prop_id); });
    var req = { n: ((prev && prev.n) || 0) + 1, fresh: fresh, text: fresh ? text : prev.text, model: model,
                hide_first: !!(hideFirst && hideFirst.indexOf("hide") >= 0), weighting: weighting || "attention",
                tag_source: source || "text", tag_filter: tag || "", raw: false, answer: null };
    if (fresh && !byAnswer && hg.stopGeneration) { hg.stopGeneration("process"); }  // the typed text wins
    if (byAnswer) {
      Object.assign(req, { text: answer.text, model: answer.model, raw: true,
                           answer: { start: answer.answer_start, prompt: answer.prompt_span, chat: !!answer.chat } });
    } else if (!fresh && prev) {
      Object.assign(req, { raw: !!prev.raw, answer: prev.answer || null });
    }
    return req;
  }

  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    gridRequest: gridRequest,
    /* The selected tile's outline and the knocked-out tiles' marks (trace 4, a cross on each), one
     * patch: the knock-out store names its result, so marks of another text are never drawn. */
    outline: function (sel, meta, knockout) {
      if (!sel || !meta || !meta.tile) { return window.dash_clientside.no_update; }
      // The keyboard cursor jumps to a new selection only: a grid redrawn (a switch's answer) between
      // an arrow key and Enter must not move it back.
      var prev = hg.selection;
      if (!prev || prev.layer !== sel.layer || prev.head !== sel.head || !hg.cursor) {
        hg.cursor = { layer: sel.layer, head: sel.head };
      }
      hg.selection = sel;
      var heads = knockout && knockout.result === meta.result ? knockout.heads : [];
      var c = (meta.cells - 1) / 2, xs = [], ys = [];
      heads.forEach(function (p) { xs.push(p[1] * meta.tile + c); ys.push(p[0] * meta.tile + c); });
      return outlining(meta, SELECTED, sel).assign(["data", KNOCKED, "x"], xs).assign(["data", KNOCKED, "y"], ys).build();
    }
  });

  /* Click: the tile under the pointer. Plotly re-dispatches a click on its drag layer only when
   * the pointer did not drag (a zoom box or pan is not a selection). */
  document.addEventListener("click", function (ev) {
    var gd = gridDiv();
    if (!gd || !gd.contains(ev.target) || !ev.target.closest(".draglayer, .nsewdrag") || gd._dragged) { return; }
    var cell = cellAt(gd, ev.clientX, ev.clientY);
    if (!cell) { return; }
    hg.cursor = { layer: cell.layer, head: cell.head };
    window.dash_clientside.set_props("selection", { data: { layer: cell.layer, head: cell.head } });
  });

  /* Keyboard: arrows move the cursor, Enter or Space selects. */
  document.addEventListener("keydown", function (ev) {
    var wrap = document.getElementById("model-view-wrap");
    if (!wrap || !wrap.contains(ev.target)) { return; }
    var gd = gridDiv(), meta = gridMeta(gd);
    if (!meta) { return; }
    var cur = hg.cursor || hg.selection || { layer: 0, head: 0 };
    var moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    if (moves[ev.key]) {
      ev.preventDefault();
      var m = moves[ev.key];
      cur = { layer: Math.min(meta.layers - 1, Math.max(0, cur.layer + m[0])),
              head: Math.min(meta.heads - 1, Math.max(0, cur.head + m[1])) };
      hg.cursor = cur;
      window.dash_clientside.set_props("model-view", { figure: outlinePatch(meta, CURSOR, cur) });
    } else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      window.dash_clientside.set_props("selection", { data: { layer: cur.layer, head: cur.head } });
    }
  });

  /* Hover tooltip: what the tile cell under the pointer shows (pooled cells name their ranges). */
  function quote(meta, a, b) {
    var l = meta.labels;
    return b - a <= 1 ? "“" + l[a] + "”" : "“" + l[a] + "” … “" + l[b - 1] + "” (" + (b - a) + " tokens)";
  }
  function tooltip() {
    var el = document.getElementById("grid-tooltip");
    if (!el) {
      el = document.createElement("div");
      el.id = "grid-tooltip";
      el.className = "hg-tooltip";
      document.body.appendChild(el);
    }
    return el;
  }
  document.addEventListener("mousemove", function (ev) {
    var gd = gridDiv(), tip = document.getElementById("grid-tooltip");
    var inside = gd && gd.contains(ev.target) && ev.target.closest(".draglayer, .nsewdrag");
    var cell = inside ? cellAt(gd, ev.clientX, ev.clientY) : null;
    if (!cell || !cell.inTile || !gd.calcdata) { if (tip) { tip.style.display = "none"; } return; }
    var meta = gridMeta(gd), z = gd.calcdata[0][0].z;
    var v = z[cell.row] && z[cell.row][cell.col];
    if (v === undefined || v === meta.gap) { if (tip) { tip.style.display = "none"; } return; }
    var e = meta.edges, pooled = meta.cells < meta.tokens;
    var w = (v / meta.scale).toFixed(3);
    tip = tooltip();
    tip.textContent = "layer " + cell.layer + " · head " + cell.head + "\n" +
      (pooled ? "queries " : "query ") + quote(meta, e[cell.q], e[cell.q + 1]) + "\n→ " +
      (pooled ? "keys " : "key ") + quote(meta, e[cell.k], e[cell.k + 1]) + "\n" +
      (pooled ? "largest weight " : "weight ") + w;
    tip.style.display = "block";
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8) + "px";
    tip.style.top = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8) + "px";
  });
})();

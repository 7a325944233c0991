/* headgaze — browser-side behaviour (served locally by Dash from dashboard/assets/).
 *
 * - clientside callbacks (namespace "headgaze"): character counter, selection outline, head-view hover state, hover-view tokens, tag badges and filter veils,
 *   grid PNG export, view state → URL query string;
 * - plain DOM handlers: hover-view token hover (resizes tokens from data of the `head-data` store,
 *   no server request), model-view click → selection (tile under the pointer) and keyboard
 *   navigation of the model-view grid (arrows + Enter).
 * Token text is always passed as text (React children / textContent), never as HTML.
 */
(function () {
  "use strict";
  var MAX_CHARS = 50;
  var SELECT_COLOR = "#ff1744";
  var state = { head: null, selection: null, cursor: null };
  window.headgaze = state;

  function noUpdate() { return window.dash_clientside.no_update; }

  function selectionShape(layer, head, tokens, dashed) {
    var s = tokens + 1;
    var x0 = head * s - 0.5, y0 = layer * s - 0.5;
    return {
      type: "rect", xref: "x", yref: "y",
      x0: x0 - 0.35, x1: x0 + tokens + 0.35, y0: y0 - 0.35, y1: y0 + tokens + 0.35,
      line: { color: dashed ? "#ffffff" : SELECT_COLOR, width: 4, dash: dashed ? "dot" : "solid" },
      fillcolor: "rgba(0,0,0,0)", name: dashed ? "cursor" : "selected"
    };
  }

  var DIM_FILL = "rgba(255,255,255,0.78)";

  /* Veils over the tiles whose head does not carry `tag` (mirrors figures.dim_shapes). */
  function dimShapes(tags, tag, tokens) {
    var out = [];
    if (!tag || !tags) { return out; }
    var s = tokens + 1;
    tags.forEach(function (row, layer) {
      row.forEach(function (ts, head) {
        if (ts.indexOf(tag) >= 0) { return; }
        var x0 = head * s - 0.5, y0 = layer * s - 0.5;
        out.push({ type: "rect", xref: "x", yref: "y", x0: x0, x1: x0 + tokens, y0: y0, y1: y0 + tokens,
                   line: { width: 0 }, fillcolor: DIM_FILL, layer: "above", name: "dim-" + layer + "-" + head });
      });
    });
    return out;
  }

  /* Badge marker positions and hover text (mirrors figures.badge_trace). */
  function badges(tags, tokens) {
    var s = tokens + 1, xs = [], ys = [], text = [];
    (tags || []).forEach(function (row, layer) {
      row.forEach(function (ts, head) {
        if (!ts.length) { return; }
        xs.push(head * s + tokens - 1 - 0.1 * tokens);
        ys.push(layer * s + 0.1 * tokens);
        text.push("layer " + layer + " · head " + head + ": " + ts.join(", "));
      });
    });
    return { x: xs, y: ys, text: text };
  }

  /* The veils currently on the grid (kept when the outline moves). */
  function currentDims(gd) {
    return ((gd && gd.layout && gd.layout.shapes) || []).filter(function (sh) {
      return sh.name && String(sh.name).indexOf("dim-") === 0;
    });
  }

  function fmt(w) { return w >= 0.995 ? "1.00" : w.toFixed(2).replace(/^0/, ""); }

  /* ---------------- clientside callbacks ---------------- */
  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    headgaze: {
      counter: function (value) {
        var n = (value || "").length;
        var cls = "hg-counter" + (n > MAX_CHARS ? " hg-over" : n >= MAX_CHARS - 5 ? " hg-near" : "");
        return [n + "/" + MAX_CHARS, cls];
      },

      highlight: function (sel, fig) {
        // Move the outline with Plotly.relayout (shapes only): returning a new figure would
        // make Plotly re-decode and redraw the whole mosaic on every click.
        if (!sel) { return noUpdate(); }
        state.selection = sel;
        state.cursor = { layer: sel.layer, head: sel.head };
        var gd = gridDiv();
        var meta = gd && gd._fullLayout && gd._fullLayout.meta;
        if (!meta || meta.tokens === undefined || !window.Plotly) { return noUpdate(); }
        window.Plotly.relayout(gd, { shapes: [selectionShape(sel.layer, sel.head, meta.tokens, false)]
                                              .concat(currentDims(gd)) });
        return noUpdate();
      },

      tagView: function (tag, source, tagsStore) {
        // Filter / source change: restyle the badge trace and replace the veils, same figure data.
        var gd = gridDiv();
        var meta = gd && gd._fullLayout && gd._fullLayout.meta;
        if (!meta || meta.tokens === undefined || !window.Plotly || !tagsStore || tagsStore.key !== meta.key) {
          return noUpdate();
        }
        var tags = source === "profile" ? tagsStore.profile : tagsStore.text;
        var b = badges(tags, meta.tokens);
        if (gd.data.length > 1) { window.Plotly.restyle(gd, { x: [b.x], y: [b.y], text: [b.text] }, [1]); }
        var sel = state.selection || { layer: 0, head: 0 };
        window.Plotly.relayout(gd, {
          shapes: [selectionShape(sel.layer, sel.head, meta.tokens, false)].concat(dimShapes(tags, tag, meta.tokens))
        });
        var where = source === "profile" ? "the model profile" : "this text";
        if (!tags) { return "The model profile is not available for this model."; }
        if (!tag) { return ""; }
        var n = 0;
        tags.forEach(function (row) { row.forEach(function (ts) { if (ts.indexOf(tag) >= 0) { n += 1; } }); });
        var note = "Showing the " + n + " of " + (meta.layers * meta.heads) + " heads tagged " + tag + " in " + where + ".";
        if (n === 0 && source !== "profile" && (tag === "induction" || tag === "duplicate-token")) {
          note += " Induction and duplicate-token need a repeated sequence: see the model profile.";
        }
        return note;
      },

      exportPng: function (n) {
        var gd = gridDiv();
        if (!n || !gd || !window.Plotly) { return noUpdate(); }
        var meta = (gd._fullLayout && gd._fullLayout.meta) || {};
        var name = "headgaze-" + (meta.model || "model") + "-grid";
        window.Plotly.downloadImage(gd, { format: "png", filename: name, scale: 2,
                                         width: gd._fullLayout.width, height: gd._fullLayout.height });
        return n;
      },

      writeUrl: function (meta, sel, tag, source, hideFirst) {
        // history.replaceState: the address bar always holds a link to this view; no reload,
        // no history entry per click, no request. dcc.Location reads it when a link is opened.
        if (!meta || !window.history || !window.history.replaceState) { return noUpdate(); }
        var p = new URLSearchParams();
        p.set("model", meta.model);
        p.set("text", meta.text);
        p.set("layer", String((sel && sel.layer) || 0));
        p.set("head", String((sel && sel.head) || 0));
        if (tag) { p.set("tag", tag); }
        if (source && source !== "text") { p.set("tags", source); }
        if (hideFirst && hideFirst.indexOf("hide") >= 0) { p.set("hide_first", "1"); }
        var qs = "?" + p.toString();
        if (window.location.search !== qs) { window.history.replaceState(window.history.state, "", qs); }
        return qs;
      },

      headView: function (base, hoverData, hd) {
        if (!base) { return noUpdate(); }
        if (!hoverData || !hoverData.points || !hoverData.points.length || !hd ||
            !base.layout || !base.layout.meta || base.layout.meta.layer !== hd.layer ||
            base.layout.meta.head !== hd.head) {
          return base;
        }
        var p = hoverData.points[0];
        var T = hd.tokens.length;
        var idx = Math.round(-p.y);
        if (idx < 0 || idx >= T) { return base; }
        var fromQuery = p.x < 0.5;
        var m = hd.matrix;
        var traces = [];
        var nx = [], ny = [], nt = [];
        for (var j = 0; j < T; j++) {
          var q = fromQuery ? idx : j, k = fromQuery ? j : idx;
          var w = m[q][k];
          if (!(w > 0)) { continue; }
          traces.push({
            type: "scatter", mode: "lines", x: [0, 1], y: [-q, -k], hoverinfo: "skip", showlegend: false,
            line: { color: "#e4572e", width: 1 + 7 * w }, opacity: Math.min(1, 0.25 + 0.75 * w)
          });
          nx.push(fromQuery ? 0.93 : 0.07);
          ny.push(-j);
          nt.push(fmt(w));
        }
        traces.push({
          type: "scatter", mode: "text", x: nx, y: ny, text: nt, hoverinfo: "skip", showlegend: false,
          textposition: fromQuery ? "middle left" : "middle right", name: "weights",
          textfont: { color: "#b3261e", size: 12 }, cliponaxis: false
        });
        base.data.forEach(function (tr) {
          if (tr.name === "query" || tr.name === "key") {
            var sizes = [];
            for (var i = 0; i < T; i++) {
              sizes.push(((tr.name === "query") === fromQuery && i === idx) ? 16 : 10);
            }
            traces.push(Object.assign({}, tr, { marker: Object.assign({}, tr.marker, { size: sizes }) }));
          }
        });
        var layout = Object.assign({}, base.layout, {
          meta: Object.assign({}, base.layout.meta, { hovered: idx, side: fromQuery ? "query" : "key" })
        });
        return { data: traces, layout: layout };
      },

      hoverView: function (hd) {
        state.head = hd || null;
        var detail = document.getElementById("hover-detail");
        if (detail) { detail.textContent = ""; }
        if (!hd) { return []; }
        [0, 30, 120, 400].forEach(function (ms) { setTimeout(state.fitSlots, ms); });
        var prefix = hd.key + "-" + hd.layer + "-" + hd.head;
        return hd.tokens.map(function (tok, i) {
          var props = {
            children: tok.text,
            className: "hg-token" + (tok.special ? " hg-special" : ""),
            title: tok.special ? "special token" : "token " + i
          };
          props["data-index"] = String(i);
          // Each token sits in a slot sized for its largest size, so resizing never moves tokens.
          return {
            type: "Span", namespace: "dash_html_components",
            props: { className: "hg-slot", key: prefix + ":" + i, "data-tag": prefix,
                     children: { type: "Span", namespace: "dash_html_components", props: props } }
          };
        });
      }
    }
  });

  /* ---------------- hover view: pure DOM, no server request ---------------- */
  var MIN_EM = 0.55, MAX_EM = 2.0;

  function tokensEl() { return document.getElementById("hover-view"); }

  function resetTokens() {
    var root = tokensEl();
    if (!root) { return; }
    root.querySelectorAll(".hg-token").forEach(function (el) {
      el.style.fontSize = "";
      el.classList.remove("hg-max", "hg-hovered");
      delete el.dataset.weight;
    });
    root.classList.remove("hg-active");
    var detail = document.getElementById("hover-detail");
    if (detail) { detail.textContent = ""; }
  }

  /* Fix every slot's size to its token's size at MAX_EM, once per rendered head. */
  function fitSlots(root, hd) {
    var tag = hd.key + "-" + hd.layer + "-" + hd.head;
    if (root.dataset.fitted === tag) { return; }
    var first = root.querySelector(".hg-slot");
    if (!first || first.getAttribute("data-tag") !== tag) { return; }
    var toks = root.querySelectorAll(".hg-token");
    toks.forEach(function (tok) { tok.style.fontSize = MAX_EM + "em"; });
    var sizes = [];
    toks.forEach(function (tok) { sizes.push([tok.offsetWidth, tok.offsetHeight]); });
    toks.forEach(function (tok, n) {
      var slot = tok.parentNode;
      slot.style.width = (sizes[n][0] + 2) + "px";
      slot.style.height = (sizes[n][1] + 2) + "px";
      tok.style.fontSize = "";
    });
    root.dataset.fitted = tag;
  }
  state.fitSlots = function () {
    var root = tokensEl();
    if (root && state.head && root.querySelector(".hg-token")) { fitSlots(root, state.head); }
  };

  function hoverToken(el) {
    var hd = state.head;
    var root = tokensEl();
    if (!hd || !root) { return; }
    fitSlots(root, hd);
    var i = parseInt(el.getAttribute("data-index"), 10);
    var row = hd.matrix[i];
    if (!row) { return; }
    var best = 0, max = -1;
    for (var j = 0; j < row.length; j++) { if (row[j] > max) { max = row[j]; best = j; } }
    var els = root.querySelectorAll(".hg-token");
    root.classList.add("hg-active");
    els.forEach(function (tok) {
      var j = parseInt(tok.getAttribute("data-index"), 10);
      var w = row[j] || 0;
      tok.dataset.weight = String(w);
      tok.classList.toggle("hg-hovered", j === i);
      tok.classList.toggle("hg-max", j === best && max > 0);
      tok.style.fontSize = (j === i) ? "1em" : (MIN_EM + (MAX_EM - MIN_EM) * (max > 0 ? w / max : 0)).toFixed(3) + "em";
    });
    var detail = document.getElementById("hover-detail");
    if (detail) {
      detail.textContent = max > 0
        ? "“" + hd.tokens[i].text + "” attends most to “" + hd.tokens[best].text +
          "” (" + row[best].toFixed(3) + ")  ·  layer " + hd.layer + " · head " + hd.head
        : "“" + hd.tokens[i].text + "” attended only to the first token, which is hidden: nothing left to show" +
          "  ·  layer " + hd.layer + " · head " + hd.head;
    }
  }

  document.addEventListener("mouseover", function (ev) {
    var el = ev.target && ev.target.closest ? ev.target.closest("#hover-view .hg-token") : null;
    if (el) { hoverToken(el); }
  });
  document.addEventListener("mouseout", function (ev) {
    var root = tokensEl();
    if (!root || !ev.target || !root.contains(ev.target)) { return; }
    if (ev.relatedTarget && root.contains(ev.relatedTarget)) { return; }
    resetTokens();
  });

  /* ---------------- model-view click → selection ---------------- */
  /* The tile comes from the pointer's own coordinates. Plotly's plotly_click (and so dcc.Graph's
   * clickData) carries the points of the last *hover* computation, which Plotly throttles to one
   * per 50 ms: a click that follows a pointer move or a relayout within 50 ms reported the
   * previously hovered tile, so the click selected nothing new. Plotly re-dispatches a DOM click
   * on its drag layer only when the pointer did not drag. */
  function tileAt(gd, clientX, clientY) {
    var fl = gd._fullLayout;
    var meta = fl && fl.meta;
    if (!meta || meta.tokens === undefined || !fl.xaxis || !fl.yaxis) { return null; }
    var r = gd.getBoundingClientRect();
    var x = fl.xaxis.p2l(clientX - r.left - fl.xaxis._offset);
    var y = fl.yaxis.p2l(clientY - r.top - fl.yaxis._offset);
    var head = Math.floor((x + 0.5) / meta.tile), layer = Math.floor((y + 0.5) / meta.tile);
    if (head < 0 || head >= meta.heads || layer < 0 || layer >= meta.layers) { return null; }
    return { layer: layer, head: head };
  }

  document.addEventListener("click", function (ev) {
    var gd = gridDiv();
    var drag = ev.target && ev.target.closest ? ev.target.closest(".nsewdrag") : null;
    if (!gd || !drag || !gd.contains(drag)) { return; }
    var tile = tileAt(gd, ev.clientX, ev.clientY);
    if (tile) { window.dash_clientside.set_props("selection", { data: tile }); }
  });

  /* ---------------- keyboard navigation of the model-view grid ---------------- */
  function gridDiv() {
    var g = document.getElementById("model-view");
    return g ? g.querySelector(".js-plotly-plot") : null;
  }

  document.addEventListener("keydown", function (ev) {
    var wrap = document.getElementById("model-view-wrap");
    if (!wrap || !wrap.contains(ev.target)) { return; }
    var gd = gridDiv();
    if (!gd || !gd.layout || !gd.layout.meta || gd.layout.meta.tokens === undefined) { return; }
    var meta = gd.layout.meta;
    var cur = state.cursor || state.selection || { layer: 0, head: 0 };
    var moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0] };
    if (moves[ev.key]) {
      ev.preventDefault();
      var m = moves[ev.key];
      cur = {
        layer: Math.min(meta.layers - 1, Math.max(0, cur.layer + m[0])),
        head: Math.min(meta.heads - 1, Math.max(0, cur.head + m[1]))
      };
      state.cursor = cur;
      var sel = state.selection || { layer: 0, head: 0 };
      window.Plotly.relayout(gd, {
        shapes: [selectionShape(sel.layer, sel.head, meta.tokens, false),
                 selectionShape(cur.layer, cur.head, meta.tokens, true)].concat(currentDims(gd))
      });
    } else if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      window.dash_clientside.set_props("selection", { data: { layer: cur.layer, head: cur.head } });
    }
  });
})();

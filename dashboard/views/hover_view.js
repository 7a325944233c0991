/* headgaze hover view — browser side (Python side: hover_view.py builds the running text).
 * Hovering a token shades every token by the attention the hovered one pays it, from the selected
 * head's matrix in the page (no request): the strongest one red (the only red on it), the others
 * in blue with the alpha and a slight grow following the weight (colours from views/constants.py,
 * through the hg-config store). A head is used only on the text it was computed for: the running
 * text's data-text and the head's key are the same view key. A folded run of chat-template tokens
 * is shaded by their summed weight (red when it holds the strongest). Models with an LM head: the
 * detail line also says what the model expected after the hovered token (top 5 and the actual next
 * token's probability and rank), from the predictions sent with the text (data-predictions).
 */
(function () {
  "use strict";
  var hg = window.headgaze = window.headgaze || {};

  function bytesOf(b64) {
    var bin = atob(b64), bytes = new Uint8Array(bin.length);
    for (var b = 0; b < bin.length; b++) { bytes[b] = bin.charCodeAt(b); }
    return bytes.buffer;
  }
  function rowsOf(f, T) {
    var rows = [];
    for (var r = 0; r < T; r++) { rows.push(f.subarray(r * T, (r + 1) * T)); }
    return rows;
  }
  function sameHead(x, hd) { return x && x.key === hd.key && x.layer === hd.layer && x.head === hd.head; }

  /* The selected head's T×T weights as rows (Float32Array views of one buffer). A heatmap drawn whole:
   * its own z (Plotly's typed-array spec {dtype: "f4", bdata, shape}, or arrays once Plotly has decoded
   * them). A pooled heatmap (layout.meta.pooled > 1, a long text): the full matrix of the head-matrix
   * store (head_view.matrix_payload: float32, only the lower triangle when "tril"). */
  function matrixOf(fig, full, hd) {
    var tr = fig && fig.data && fig.data[0], meta = fig && fig.layout && fig.layout.meta;
    if (!tr || !sameHead(meta, hd)) { return null; }
    var T, f;
    if (meta.pooled > 1) {
      if (!sameHead(full, hd)) { return null; }
      T = full.T;
      var packed = new Float32Array(bytesOf(full.f4));
      if (!full.tril) { return rowsOf(packed, T); }
      f = new Float32Array(T * T);
      for (var r = 0, off = 0; r < T; r++) {  // row r: keys 0..r, from r(r+1)/2 on
        f.set(packed.subarray(off, off + r + 1), r * T);
        off += r + 1;
      }
      return rowsOf(f, T);
    }
    var z = tr.z;
    if (z && z.bdata) {
      return rowsOf(new Float32Array(bytesOf(z.bdata)), parseInt(z.shape.split(",")[0], 10));
    }
    if (!z || !z.length) { return null; }
    return z.map(function (row) { return Float32Array.from(row); });
  }

  function root() { return document.getElementById("hover-view"); }
  /* The detail under the text: what the hovered token attends to, and what the model expected next. */
  function detail(text, expected) {
    var el = document.getElementById("hover-detail");
    if (!el) { return; }
    el.textContent = "";
    [text, expected].forEach(function (line, n) {
      if (!line) { return; }
      var div = document.createElement("div");
      div.className = n ? "hg-expected" : "hg-attends";
      div.textContent = line;
      el.appendChild(div);
    });
  }

  /* The predictions sent with the text (hover_view.py's data-predictions: the shown page's, from its
   * first token data-first), parsed once per text and page; token i's is list[i - first]. */
  var parsed = { id: null, list: null, first: 0 };
  function predictions(r) {
    var box = r && r.querySelector("[data-text]");
    if (!box) { return null; }
    var first = parseInt(box.getAttribute("data-first") || "0", 10), id = box.getAttribute("data-text") + "@" + first;
    if (parsed.id !== id) {
      var raw = box.getAttribute("data-predictions");
      parsed = { id: id, list: raw ? JSON.parse(raw) : null, first: first };
    }
    return parsed;
  }
  function pct(p) {
    return p >= 0.995 ? "100%" : p >= 0.1 ? (100 * p).toFixed(0) + "%" : p >= 0.001 ? (100 * p).toFixed(1) + "%" : "<0.1%";
  }
  function quoted(t) { return "“" + t.replace(/\n/g, "⏎") + "”"; }
  function expectedLine(pred, i) {
    var p = pred && pred.list && pred.list[i - pred.first];
    if (!p) { return ""; }
    var top = p.top.map(function (g) { return quoted(g[0]) + " " + pct(g[1]); }).join(" · ");
    var line = "Next, the model expected " + top;
    if (p.next) {
      line += ";  actually " + quoted(p.next[0]) + " " + pct(p.next[1]) + (p.next[2] ? " (rank " + p.next[2] + ")" : "");
    }
    return line;
  }

  function reset() {
    var r = root();
    if (!r) { return; }
    r.querySelectorAll(".hg-token, .hg-template-group").forEach(function (el) {
      el.style.backgroundColor = "";
      el.style.transform = "";
      el.classList.remove("hg-max", "hg-hovered");
      delete el.dataset.weight;
    });
    r.classList.remove("hg-active");
    detail("");
  }

  function showsHead(r, hd) {
    var box = r && r.querySelector("[data-text]");
    return box && hd && box.getAttribute("data-text") === hd.key;
  }

  /* A folded run of template tokens stands for all of them: their summed weight. */
  function groupWeight(g, row) {
    var w = 0;
    for (var k = parseInt(g.getAttribute("data-first"), 10); k <= parseInt(g.getAttribute("data-last"), 10); k++) {
      w += row[k] || 0;
    }
    return w;
  }
  function shadeGroups(r, row, best, max, cfg) {
    r.querySelectorAll(".hg-template-group").forEach(function (g) {
      var a = parseInt(g.getAttribute("data-first"), 10), b = parseInt(g.getAttribute("data-last"), 10);
      var w = groupWeight(g, row), holdsMax = best >= a && best <= b && max > 0;
      g.dataset.weight = String(w);
      g.classList.toggle("hg-max", holdsMax);
      g.style.backgroundColor = holdsMax ? "" : "rgba(" + cfg.hoverShade + "," +
        (cfg.hoverAlpha[0] + (cfg.hoverAlpha[1] - cfg.hoverAlpha[0]) * Math.min(1, max > 0 ? w / max : 0)).toFixed(3) + ")";
    });
  }

  function hoverToken(el) {
    var hd = hg.head, r = root(), cfg = hg.config || {};
    var i = parseInt(el.getAttribute("data-index"), 10);
    var expected = expectedLine(predictions(r), i);
    if (!hd || !showsHead(r, hd)) { detail("", expected); return; }
    var row = hd.matrix[i];
    if (!row) { return; }
    var best = 0, max = -1;
    for (var j = 0; j < row.length; j++) { if (row[j] > max) { max = row[j]; best = j; } }
    var em = cfg.hoverEm, alpha = cfg.hoverAlpha;
    r.classList.add("hg-active");
    r.querySelectorAll(".hg-token").forEach(function (tok) {
      var k = parseInt(tok.getAttribute("data-index"), 10), w = row[k] || 0, rel = max > 0 ? w / max : 0;
      tok.dataset.weight = String(w);
      tok.classList.toggle("hg-hovered", k === i);
      tok.classList.toggle("hg-max", k === best && max > 0);
      tok.style.backgroundColor = k === i || (k === best && max > 0) ? ""
        : "rgba(" + cfg.hoverShade + "," + (alpha[0] + (alpha[1] - alpha[0]) * rel).toFixed(3) + ")";
      // transform: grows without moving the text around it (layout is untouched)
      tok.style.transform = k === i ? "" : "scale(" + (1 + (em[1] - 1) * 0.35 * rel).toFixed(3) + ")";
    });
    shadeGroups(r, row, best, max, cfg);
    detail(max > 0
      ? "“" + hd.tokens[i].text + "” attends most to “" + hd.tokens[best].text + "” (" + row[best].toFixed(3) +
        ")  ·  layer " + hd.layer + " · head " + hd.head
      : "“" + hd.tokens[i].text + "” attended only to the first token, which is hidden: nothing left to show" +
        "  ·  layer " + hd.layer + " · head " + hd.head, expected);
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    headData: function (hd, heatmap, full, config) {
      // The matrix travels once: the heatmap's float32 z, or beside a pooled heatmap in the head-matrix
      // store; the hover and head views read it here.
      var m = hd ? matrixOf(heatmap, full, hd) : null;
      hg.head = hd && m ? Object.assign({}, hd, { matrix: m }) : null;
      hg.config = config || hg.config;
      reset();
      return hd ? hd.key + "-" + hd.layer + "-" + hd.head : "";
    }
  });

  document.addEventListener("mouseover", function (ev) {
    var el = ev.target && ev.target.closest ? ev.target.closest("#hover-view .hg-token") : null;
    if (el) { hoverToken(el); }
  });
  document.addEventListener("mouseout", function (ev) {
    var r = root();
    if (!r || !ev.target || !r.contains(ev.target)) { return; }
    if (ev.relatedTarget && r.contains(ev.relatedTarget)) { return; }
    reset();
  });
})();

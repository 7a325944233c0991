/* headgaze hover view — browser side (Python side: hover_view.py builds the running text).
 * Hovering a token shades every token by the attention the hovered one pays it, from the selected
 * head's matrix in the page (no request): the strongest one red (the only red on it), the others
 * in blue with the alpha and a slight grow following the weight (colours from views/constants.py,
 * through the hg-config store). A head is used only on the text it was computed for: the running
 * text's data-text and the head's key are the same view key.
 */
(function () {
  "use strict";
  var hg = window.headgaze = window.headgaze || {};

  /* The selected head's T×T weights as rows of numbers, from the heatmap figure of the same head
   * (Plotly's typed-array spec {dtype: "f4", bdata, shape}, or arrays once Plotly has decoded them). */
  function matrixOf(fig, hd) {
    var tr = fig && fig.data && fig.data[0], meta = fig && fig.layout && fig.layout.meta;
    if (!tr || !meta || meta.key !== hd.key || meta.layer !== hd.layer || meta.head !== hd.head) { return null; }
    var z = tr.z, rows = [];
    if (z && z.bdata) {
      var bin = atob(z.bdata), bytes = new Uint8Array(bin.length);
      for (var b = 0; b < bin.length; b++) { bytes[b] = bin.charCodeAt(b); }
      var f = new Float32Array(bytes.buffer), T = parseInt(z.shape.split(",")[0], 10);
      for (var r = 0; r < T; r++) { rows.push(Array.from(f.subarray(r * T, (r + 1) * T))); }
      return rows;
    }
    if (!z || !z.length) { return null; }
    for (var i = 0; i < z.length; i++) { rows.push(Array.from(z[i])); }
    return rows;
  }

  function root() { return document.getElementById("hover-view"); }
  function detail(text) {
    var el = document.getElementById("hover-detail");
    if (el) { el.textContent = text; }
  }

  function reset() {
    var r = root();
    if (!r) { return; }
    r.querySelectorAll(".hg-token").forEach(function (el) {
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

  function hoverToken(el) {
    var hd = hg.head, r = root(), cfg = hg.config || {};
    if (!hd || !showsHead(r, hd)) { return; }
    var i = parseInt(el.getAttribute("data-index"), 10), row = hd.matrix[i];
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
    detail(max > 0
      ? "“" + hd.tokens[i].text + "” attends most to “" + hd.tokens[best].text + "” (" + row[best].toFixed(3) +
        ")  ·  layer " + hd.layer + " · head " + hd.head
      : "“" + hd.tokens[i].text + "” attended only to the first token, which is hidden: nothing left to show" +
        "  ·  layer " + hd.layer + " · head " + hd.head);
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    headData: function (hd, heatmap, config) {
      // The matrix travels once, as the heatmap's float32 z; the hover and head views read it here.
      var m = hd ? matrixOf(heatmap, hd) : null;
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

/* headgaze writes view — browser side (Python side: writes_view.py).
 * clientside callback `writesView`: the focused query (the focus store, set on hover by head_view.js)
 * redraws the two bar lists from writes-data (every query of the selected head, fetched once), as a
 * dash Patch of the figure: no request. Data of another text or head is never used (its key).
 */
(function () {
  "use strict";
  function esc(t) { return String(t).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;"); }
  function labels(texts) { return texts.map(function (t, i) { return (i + 1) + " “" + esc(t) + "”"; }); }  // as writes_view.py
  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    writesView: function (focus, wd) {
      var nu = window.dash_clientside.no_update;
      if (!wd || !wd.rows || !focus || focus.key !== wd.result) { return nu; }
      var row = wd.rows[String(focus.query)];
      if (!row) { return nu; }
      var tok = wd.tokens[focus.query];
      return new window.dash_clientside.Patch()
        .assign(["data", 0, "y"], labels(row[0])).assign(["data", 0, "x"], row[1])
        .assign(["data", 1, "y"], labels(row[2])).assign(["data", 1, "x"], row[3])
        .assign(["layout", "title", "text"], "layer " + wd.layer + " · head " + wd.head + " at “" + esc(tok) +
                "” (token " + focus.query + ")")
        .assign(["layout", "meta"], { key: wd.key, layer: wd.layer, head: wd.head, query: focus.query })
        .build();
    }
  });
})();

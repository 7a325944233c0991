/* headgaze answer view — browser side (Python side: answer_view.py).
 *
 * - clientside callback `generate` (Generate): posts the text box's text to the dashboard's generate
 *   stream (dashboard/generate_route.py) and reads its server-sent events as they arrive: each token
 *   is appended to the answer panel with a progress line; Stop, another Generate, Process or a model
 *   change abort the request (the service then stops generating). The finished answer goes to the
 *   `answer` store (set_props), from which the grid request draws template + prompt + answer.
 * - clientside callback `stopGenerate` (Stop), `templateClass` (show template tokens: a class on the
 *   hover view and the answer panel, no request).
 * The panel says what it is doing in data-state (streaming, done, stopped, error) and data-tokens.
 */
(function () {
  "use strict";
  var hg = window.headgaze = window.headgaze || {};
  var running = null;  // {controller, id} of the generation in flight
  var count = 0;

  function prefix() {
    var el = document.getElementById("_dash-config");
    var cfg = el ? JSON.parse(el.textContent) : {};
    return cfg.requests_pathname_prefix || "/";
  }
  function setProps(id, props) { window.dash_clientside.set_props(id, props); }
  function busy(on) {
    setProps("generate-button", { disabled: on, children: on ? "Generating…" : "Generate" });
    setProps("stop-button", { style: on ? {} : { display: "none" } });
  }

  /* The answer panel: a progress line and the transcript (template, prompt, answer). */
  function panel() { return document.getElementById("answer-view"); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function start(text) {
    var p = panel();
    p.textContent = "";
    p.dataset.state = "streaming";
    p.dataset.tokens = "0";
    p.appendChild(el("div", "hg-answer-progress hg-live", "Generating… reading the prompt"));
    var body = el("div", "hg-answer-text");
    body.appendChild(el("span", "hg-answer-prompt", text));
    body.appendChild(el("span", "hg-answer-new", ""));
    p.appendChild(body);
  }
  function progress(line, live) {
    var bar = panel().querySelector(".hg-answer-progress");
    bar.textContent = line;
    bar.classList.toggle("hg-live", !!live);
  }
  function finish(state, line) {
    var p = panel();
    p.dataset.state = state;
    progress(line, false);
  }
  function ms(x) { return x >= 1000 ? (x / 1000).toFixed(1) + " s" : Math.round(x) + " ms"; }

  /* The finished transcript from the answer's tokens: template tokens (hidden unless shown), the
   * prompt, the answer. */
  function transcript(answer) {
    var body = panel().querySelector(".hg-answer-text"), span = answer.prompt_span, pos = 0, text = answer.text;
    body.textContent = "";
    answer.tokens.forEach(function (t, i) {
      if (i === answer.answer_start) { body.appendChild(el("span", "hg-answer-sep", " → ")); }
      var cls = i >= answer.answer_start ? "hg-answer-new"
        : span && t.start >= span[0] && t.end <= span[1] && t.end > t.start ? "hg-answer-prompt" : "hg-answer-template hg-template";
      var piece = text.slice(Math.max(pos, t.start), t.end);
      if (piece) { body.appendChild(el("span", cls, piece)); }
      pos = Math.max(pos, t.end);
    });
  }

  function parseFrame(frame) {
    var kind = "message", data = [];
    frame.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) { kind = line.slice(6).trim(); }
      else if (line.indexOf("data:") === 0) { data.push(line.slice(5).replace(/^ /, "")); }
    });
    return data.length ? { kind: kind, data: JSON.parse(data.join("\n")) } : null;
  }

  function stop(reason) {
    if (!running) { return; }
    running.controller.abort();
    running.stopped = reason || "stopped";
    running = null;
  }
  hg.stopGeneration = stop;

  function run(text, model, chat) {
    stop("superseded");
    var me = { controller: new AbortController(), tokens: 0, t0: performance.now(), first: null };
    running = me;
    count += 1;
    start(text);
    busy(true);
    function mine() { return running === me; }
    fetch(prefix() + "_headgaze/generate", {
      method: "POST", signal: me.controller.signal,
      headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
      body: JSON.stringify({ text: text, model: model, chat: chat })
    }).then(function (resp) {
      if (!resp.ok) {
        return resp.json().then(function (body) {
          throw new Error((body && body.error && body.error.message) || ("HTTP " + resp.status));
        });
      }
      var reader = resp.body.getReader(), decoder = new TextDecoder(), buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (!mine()) { return null; }
          buffer += decoder.decode(chunk.value || new Uint8Array(), { stream: !chunk.done });
          var frames = buffer.split("\n\n");
          buffer = frames.pop();
          for (var f = 0; f < frames.length; f++) {
            var ev = parseFrame(frames[f]);
            if (ev) { handle(ev); }
            if (!mine()) { return null; }
          }
          if (chunk.done) { throw new Error("the stream ended before the answer was complete"); }
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      if (me.stopped === "stopped") {
        finish("stopped", "Stopped after " + me.tokens + " tokens; the views still show the previous text.");
      } else if (me.stopped === "process") {
        finish("stopped", "Stopped after " + me.tokens + " tokens: the views show the text processed instead.");
      } else if (!me.stopped && mine()) {
        finish("error", "Could not generate: " + err.message);
      }
    }).then(function () {
      // a Generate that superseded this one keeps the buttons busy
      if (running === me || (me.stopped && me.stopped !== "superseded")) { busy(false); }
      if (running === me) { running = null; }
    });

    function handle(ev) {
      var p = panel();
      if (ev.kind === "token") {
        me.tokens += 1;
        if (me.first === null) { me.first = performance.now(); }
        p.querySelector(".hg-answer-new").textContent += ev.data.text;
        p.dataset.tokens = String(me.tokens);
        var per = me.tokens > 1 ? (performance.now() - me.first) / (me.tokens - 1) : 0;
        progress("Generating… " + me.tokens + " token" + (me.tokens === 1 ? "" : "s") + " · first after " +
                 ms(me.first - me.t0) + (per ? " · " + ms(per) + " per token" : ""), true);
      } else if (ev.kind === "done") {
        var a = ev.data, n = a.tokens.length - a.answer_start;
        transcript(a);
        p.dataset.tokens = String(n);
        finish("done", "Answer: " + n + " token" + (n === 1 ? "" : "s") + " (" + a.stop_reason.replace(/_/g, " ") +
               ") in " + ms(a.timing_ms.total) + (a.cached ? ", cached" : "") + ". The views show " +
               (a.chat ? "template + prompt + answer" : "prompt + answer") + "; the answer starts at token " +
               a.answer_start + ".");
        running = null;
        busy(false);
        setProps("answer", { data: { n: count, text: a.text, model: a.model, answer_start: a.answer_start,
                                     prompt_span: a.prompt_span, chat: a.chat } });
      } else if (ev.kind === "error") {
        throw new Error(ev.data.error.message);
      }
    }
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside);
  window.dash_clientside.headgaze = Object.assign({}, window.dash_clientside.headgaze, {
    generate: function (clicks, text, model, chat, config) {
      if (!clicks) { return window.dash_clientside.no_update; }
      var max = (config || {}).maxChars;
      if (!text || !text.trim()) {
        start(""); finish("error", "Type a question or a text first.");
        return window.dash_clientside.no_update;
      }
      if (max && Array.from(text).length > max) {
        start(text); finish("error", "The text has " + Array.from(text).length + " characters; at most " + max + " are allowed.");
        return window.dash_clientside.no_update;
      }
      run(text, model, !!(chat && chat.indexOf("chat") >= 0));
      return window.dash_clientside.no_update;
    },
    stopGenerate: function (clicks) {
      if (clicks) { stop("stopped"); }
      return window.dash_clientside.no_update;
    },
    templateClass: function (show) {
      var on = !!(show && show.indexOf("show") >= 0), p = panel();
      if (p) { p.classList.toggle("hg-show-template", on); }
      return "hg-hover-view" + (on ? " hg-show-template" : "");
    }
  });
})();

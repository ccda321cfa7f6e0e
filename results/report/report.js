// The report's timeline: a canvas that draws, from the JSON embedded in
// the page, only the operations in the visible time window, merging those
// that fall on the same pixel. Values from the history are only ever drawn
// on the canvas or set as textContent: nothing from them becomes markup.
(function () {
  "use strict";
  var api = { ready: false, drawMs: 0, stats: {} };
  window.faultlineReport = api;
  var dataEl = document.getElementById("report-data");
  var data = dataEl ? JSON.parse(dataEl.textContent) : null;
  var tl = data && data.timeline;
  var canvas = document.getElementById("timeline-canvas");
  if (!tl || !canvas || !canvas.getContext) {
    api.ready = true;
    return;
  }
  var ctx = canvas.getContext("2d");
  var wrap = document.getElementById("timeline-wrap");
  var rangeEl = document.getElementById("timeline-range");
  var detailsEl = document.getElementById("op-details");
  var clearBtn = document.getElementById("tl-clear");

  var COLORS = ["#2da44e", "#cf222e", "#d4a72c"];
  var OUTCOMES = ["ok", "fail", "info"];
  var GUTTER = 92, AXIS = 20, BAND = 14, RIGHT = 8, MINSPAN = 10;

  // Decode the columns.
  var ops = tl.ops, n = ops.d.length;
  var start = new Float64Array(n), end = new Float64Array(n), inv = new Float64Array(n);
  var s = 0, ix = 0, i, l;
  var full = Math.max(tl.end, 1);
  for (i = 0; i < n; i++) {
    s += ops.s[i];
    ix += ops.i[i];
    start[i] = s;
    inv[i] = ix;
    end[i] = ops.d[i] < 0 ? Math.max(tl.end, s) : s + ops.d[i];
    if (end[i] > full) full = end[i];
  }
  var nLanes = tl.lanes.length;
  var lanes = [], laneMaxDur = [];
  for (l = 0; l < nLanes; l++) {
    lanes.push([]);
    laneMaxDur.push(0);
  }
  for (i = 0; i < n; i++) {
    l = ops.l[i];
    lanes[l].push(i);
    if (end[i] - start[i] > laneMaxDur[l]) laneMaxDur[l] = end[i] - start[i];
  }
  for (l = 0; l < nLanes; l++) {
    lanes[l].sort(function (a, b) { return start[a] - start[b] || a - b; });
    lanes[l] = Int32Array.from(lanes[l]);
  }

  var laneH = Math.max(5, Math.min(18, Math.floor(520 / Math.max(nLanes, 1))));
  var top = AXIS + BAND;
  var H = Math.max(top + nLanes * laneH + 6, 70);
  var W = 600, plotW = 500;
  var view = { a: 0, b: full };
  var hl = [], selected = -1, activeAnomaly = null;

  function X(t) { return GUTTER + (t - view.a) / (view.b - view.a) * plotW; }
  function T(x) { return view.a + (x - GUTTER) / plotW * (view.b - view.a); }

  function niceStep(raw) {
    var p = Math.pow(10, Math.floor(Math.log10(raw))), m = [1, 2, 5, 10];
    for (var k = 0; k < m.length; k++) if (m[k] * p >= raw) return m[k] * p;
    return 10 * p;
  }
  function fmtTime(us, step) {
    var decimals = 0;
    for (var st = step || 1; st < 1e6 && decimals < 6; st *= 10) decimals++;
    return (us / 1e6).toFixed(decimals) + "s";
  }
  function fmtDur(us) {
    if (us >= 1e6) return (us / 1e6).toPrecision(4) + "s";
    if (us >= 1e3) return (us / 1e3).toPrecision(4) + "ms";
    return us + "µs";
  }

  function clampView() {
    var span = view.b - view.a;
    var maxSpan = full * 1.2 + MINSPAN;
    if (span < MINSPAN) {
      var mid = (view.a + view.b) / 2;
      view.a = mid - MINSPAN / 2;
      view.b = mid + MINSPAN / 2;
      span = MINSPAN;
    }
    if (span > maxSpan) {
      view.a = -full * 0.1;
      view.b = view.a + maxSpan;
      return;
    }
    var lo = -full * 0.1, hi = full * 1.1;
    if (view.a < lo) { view.b += lo - view.a; view.a = lo; }
    if (view.b > hi) { view.a -= view.b - hi; view.b = hi; }
  }

  function resize() {
    W = Math.max(wrap.clientWidth, 320);
    plotW = W - GUTTER - RIGHT;
    var dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(W * dpr);
    canvas.height = Math.round(H * dpr);
    canvas.style.height = H + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  // firstVisible returns the first position in lane whose op may reach
  // into the view: ops starting before view.a - the lane's longest op
  // cannot.
  function firstVisible(lane, from) {
    var lo = 0, hi = lane.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (start[lane[mid]] < from) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  function opLabel(i) {
    var f = tl.fs[ops.f[i]], k = ops.k[i] >= 0 ? " " + tl.keys[ops.k[i]] : "";
    var v = ops.v.length ? " " + ops.v[i] : "";
    var o = ops.o.length && ops.o[i] !== 0 ? " → " + ops.o[i] : "";
    return f + k + v + o;
  }

  var pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; draw(); });
  }

  function draw() {
    var t0 = performance.now();
    var rects = 0, drawn = 0, windowsDrawn = 0;
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
    ctx.textBaseline = "middle";
    var lanesH = nLanes * laneH, x0, x1, k, w;

    // Lane stripes.
    ctx.fillStyle = "#f6f8fa";
    for (l = 1; l < nLanes; l += 2) ctx.fillRect(GUTTER, top + l * laneH, plotW, laneH);

    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, 0, plotW, H);
    ctx.clip();

    // Fault windows across every lane, labelled in the band above.
    for (k = 0; k < tl.windows.length; k++) {
      w = tl.windows[k];
      if (w.e < view.a || w.s > view.b) continue;
      windowsDrawn++;
      x0 = Math.max(X(w.s), GUTTER - 1);
      x1 = Math.min(X(w.e), W);
      var ww = Math.max(x1 - x0, 1);
      ctx.fillStyle = w.color;
      ctx.globalAlpha = 0.13;
      ctx.fillRect(x0, top, ww, lanesH);
      ctx.globalAlpha = 0.8;
      ctx.fillRect(x0, AXIS + 1, ww, BAND - 2);
      ctx.globalAlpha = 1;
      if (ww > 30) {
        ctx.fillStyle = "#fff";
        ctx.fillText(w.f + (w.open ? " (never stopped)" : ""), Math.max(x0, GUTTER) + 3, AXIS + BAND / 2);
      }
    }
    ctx.fillStyle = "#6e7781";
    for (k = 0; k < tl.marks.length; k++) {
      var m = tl.marks[k];
      if (m.t < view.a || m.t > view.b) continue;
      ctx.fillRect(Math.round(X(m.t)), AXIS, 1, BAND + lanesH);
    }

    // Operations, lane by lane; those narrower than a pixel are merged
    // into one pixel column per outcome.
    if (hl.length) ctx.globalAlpha = 0.35;
    var pxPerUs = plotW / (view.b - view.a);
    var fill = -1;
    for (l = 0; l < nLanes; l++) {
      var lane = lanes[l], y = top + l * laneH + 1, h = laneH - 2;
      var last = [-1e9, -1e9, -1e9];
      for (var p = firstVisible(lane, view.a - laneMaxDur[l]); p < lane.length; p++) {
        i = lane[p];
        if (start[i] > view.b) break;
        if (end[i] < view.a) continue;
        drawn++;
        var t = ops.t[i];
        x0 = X(start[i]);
        x1 = X(end[i]);
        if (t !== fill) { ctx.fillStyle = COLORS[t]; fill = t; }
        if (x1 - x0 < 1) {
          var px = Math.floor(x0);
          if (last[t] === px) continue;
          last[t] = px;
          ctx.fillRect(px, y, 1, h);
        } else {
          ctx.fillRect(x0, y, x1 - x0 > 3 ? x1 - x0 - 0.5 : x1 - x0, h);
          if (x1 - x0 > 70 && laneH >= 12) {
            ctx.save();
            ctx.beginPath();
            ctx.rect(x0, y, x1 - x0 - 2, h);
            ctx.clip();
            ctx.fillStyle = "#fff";
            ctx.fillText(opLabel(i), Math.max(x0, GUTTER) + 3, y + h / 2);
            ctx.restore();
            fill = -1;
          }
        }
        rects++;
      }
    }
    ctx.globalAlpha = 1;

    // The fault windows again, over the operations, so that they show
    // however dense the lanes are: a light veil and solid edges.
    for (k = 0; k < tl.windows.length; k++) {
      w = tl.windows[k];
      if (w.e < view.a || w.s > view.b) continue;
      x0 = X(w.s);
      x1 = X(w.e);
      ctx.fillStyle = w.color;
      ctx.globalAlpha = 0.12;
      ctx.fillRect(x0, top, Math.max(x1 - x0, 1), lanesH);
      ctx.globalAlpha = 1;
      ctx.fillRect(Math.round(x0), top, 1, lanesH);
      if (!w.open) ctx.fillRect(Math.round(x1), top, 1, lanesH);
    }

    // Highlighted operations on top, at least a few pixels wide.
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#1f2328";
    for (k = 0; k < hl.length; k++) {
      i = hl[k];
      if (end[i] < view.a || start[i] > view.b) continue;
      var yy = top + ops.l[i] * laneH + 1;
      x0 = X(start[i]);
      x1 = X(end[i]);
      if (x1 - x0 < 4) { var c = (x0 + x1) / 2; x0 = c - 2; x1 = c + 2; }
      ctx.fillStyle = COLORS[ops.t[i]];
      ctx.fillRect(x0, yy, x1 - x0, laneH - 2);
      ctx.strokeRect(x0, yy, x1 - x0, laneH - 2);
      ctx.fillStyle = "#1f2328";
      ctx.beginPath();
      ctx.moveTo((x0 + x1) / 2 - 5, AXIS + 1);
      ctx.lineTo((x0 + x1) / 2 + 5, AXIS + 1);
      ctx.lineTo((x0 + x1) / 2, AXIS + BAND - 2);
      ctx.fill();
    }
    if (selected >= 0 && end[selected] >= view.a && start[selected] <= view.b) {
      ctx.strokeStyle = "#0969da";
      x0 = X(start[selected]);
      x1 = Math.max(X(end[selected]), x0 + 3);
      ctx.strokeRect(x0 - 1, top + ops.l[selected] * laneH, x1 - x0 + 2, laneH);
    }
    ctx.restore();

    // Lane labels.
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, GUTTER, H);
    ctx.fillStyle = "#656d76";
    var every = Math.ceil(12 / laneH);
    for (l = 0; l < nLanes; l += every) ctx.fillText(tl.lanes[l], 4, top + l * laneH + laneH / 2, GUTTER - 8);
    ctx.fillText("faults", 4, AXIS + BAND / 2);

    // Time axis.
    var step = niceStep((view.b - view.a) / Math.max(plotW / 90, 1));
    ctx.fillStyle = "#656d76";
    ctx.textAlign = "center";
    for (var tt = Math.ceil(view.a / step) * step; tt <= view.b; tt += step) {
      var x = X(tt);
      if (x < GUTTER + 10 || x > W - 20) continue;
      ctx.fillRect(Math.round(x), AXIS - 5, 1, 5);
      ctx.fillText(fmtTime(tt, step), x, AXIS / 2 - 1);
    }
    ctx.textAlign = "start";
    ctx.fillStyle = "#d0d7de";
    ctx.fillRect(GUTTER, AXIS - 1, plotW, 1);

    rangeEl.textContent = fmtTime(Math.max(view.a, 0), step / 10) + " – " + fmtTime(Math.min(view.b, full), step / 10) +
      " (" + fmtDur(Math.round(view.b - view.a)) + " shown, " + n + " operations)";
    canvas.setAttribute("data-view-start", String(view.a));
    canvas.setAttribute("data-view-end", String(view.b));
    api.drawMs = performance.now() - t0;
    api.stats = { ops: drawn, rects: rects, windows: windowsDrawn, pxPerUs: pxPerUs };
  }

  function zoomAt(t, factor) {
    view.a = t - (t - view.a) * factor;
    view.b = t + (view.b - t) * factor;
    clampView();
    redraw();
  }
  function pan(frac) {
    var d = (view.b - view.a) * frac;
    view.a += d;
    view.b += d;
    clampView();
    redraw();
  }

  // Details of one operation, as text.
  function row(table, name, value) {
    var tr = document.createElement("tr");
    var th = document.createElement("td");
    var td = document.createElement("td");
    th.textContent = name;
    td.textContent = value;
    tr.appendChild(th);
    tr.appendChild(td);
    table.appendChild(tr);
  }
  function describe(i, table) {
    var done = ops.d[i] >= 0;
    row(table, "events", "#" + inv[i] + (done ? " → #" + (inv[i] + ops.c[i]) : " (never completed: counts as info)"));
    row(table, "process", "p" + ops.p[i]);
    row(table, "outcome", OUTCOMES[ops.t[i]]);
    row(table, "operation", opLabel(i));
    if (ops.n[i] >= 0) row(table, "node", tl.nodes[ops.n[i]]);
    if (ops.e[i] >= 0) row(table, "error", tl.errors[ops.e[i]]);
    row(table, "time", fmtTime(start[i], 1) + " – " + (done ? fmtTime(end[i], 1) + " (" + fmtDur(end[i] - start[i]) + ")" : "end of the run"));
  }
  function showDetails(i) {
    detailsEl.textContent = "";
    detailsEl.className = "";
    var table = document.createElement("table");
    describe(i, table);
    detailsEl.appendChild(table);
  }
  function showHighlighted() {
    detailsEl.textContent = "";
    detailsEl.className = "";
    var p = document.createElement("p");
    p.textContent = hl.length + " highlighted operation" + (hl.length === 1 ? "" : "s") + ":";
    detailsEl.appendChild(p);
    var table = document.createElement("table");
    for (var k = 0; k < hl.length && k < 50; k++) {
      var j = hl[k];
      row(table, "#" + inv[j], "p" + ops.p[j] + " " + OUTCOMES[ops.t[j]] + " " + opLabel(j) + "  " +
        fmtTime(start[j], 1) + " – " + (ops.d[j] >= 0 ? fmtTime(end[j], 1) : "end"));
    }
    detailsEl.appendChild(table);
  }

  function select(x, y) {
    var lane = Math.floor((y - top) / laneH);
    if (lane < 0 || lane >= nLanes || x < GUTTER) return;
    var t = T(x), tol = 3 * (view.b - view.a) / plotW, best = -1, bestD = Infinity;
    var ls = lanes[lane];
    for (var p = firstVisible(ls, t - tol - laneMaxDur[lane]); p < ls.length; p++) {
      var j = ls[p];
      if (start[j] > t + tol) break;
      var d = t < start[j] ? start[j] - t : t > end[j] ? t - end[j] : 0;
      if (d <= tol && d < bestD) { best = j; bestD = d; }
    }
    selected = best;
    if (best >= 0) showDetails(best);
    redraw();
  }

  function highlight(list) {
    hl = list.slice();
    clearBtn.hidden = hl.length === 0;
  }

  function showAnomaly(id) {
    var list = tl.anomalies[id] || [];
    highlight(list);
    if (activeAnomaly) activeAnomaly.classList.remove("active");
    activeAnomaly = document.getElementById("anomaly-" + id);
    if (activeAnomaly) activeAnomaly.classList.add("active");
    if (list.length) {
      var a = Infinity, b = -Infinity;
      for (var k = 0; k < list.length; k++) {
        a = Math.min(a, start[list[k]]);
        b = Math.max(b, end[list[k]]);
      }
      var pad = Math.max((b - a) * 0.3, 500);
      view.a = a - pad;
      view.b = b + pad;
      clampView();
      showHighlighted();
    }
    wrap.scrollIntoView({ block: "center" });
    redraw();
  }

  // Input.
  var drag = null;
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var dy = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
    var x = e.offsetX;
    zoomAt(x >= GUTTER ? T(x) : (view.a + view.b) / 2, Math.exp(dy * 0.0015));
  }, { passive: false });
  canvas.addEventListener("pointerdown", function (e) {
    drag = { x: e.clientX, a: view.a, b: view.b, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!drag) return;
    var dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) { drag.moved = true; canvas.classList.add("dragging"); }
    if (!drag.moved) return;
    var d = dx / plotW * (drag.b - drag.a);
    view.a = drag.a - d;
    view.b = drag.b - d;
    clampView();
    redraw();
  });
  canvas.addEventListener("pointerup", function (e) {
    if (drag && !drag.moved) select(e.offsetX, e.offsetY);
    drag = null;
    canvas.classList.remove("dragging");
  });
  function on(id, fn) {
    var b = document.getElementById(id);
    if (b) b.addEventListener("click", fn);
  }
  on("tl-zoom-in", function () { zoomAt((view.a + view.b) / 2, 0.5); });
  on("tl-zoom-out", function () { zoomAt((view.a + view.b) / 2, 2); });
  on("tl-left", function () { pan(-0.5); });
  on("tl-right", function () { pan(0.5); });
  on("tl-reset", function () { view.a = 0; view.b = full; redraw(); });
  on("tl-clear", function () {
    highlight([]);
    if (activeAnomaly) activeAnomaly.classList.remove("active");
    activeAnomaly = null;
    detailsEl.textContent = "No operation selected.";
    detailsEl.className = "muted";
    redraw();
  });
  var links = document.querySelectorAll("a.show-ops");
  for (var k = 0; k < links.length; k++) {
    links[k].addEventListener("click", function (e) {
      e.preventDefault();
      showAnomaly(Number(this.getAttribute("data-anomaly")));
    });
  }
  window.addEventListener("resize", function () { resize(); redraw(); });

  // What a test or a curious reader can ask the page.
  api.view = function () { return { start: view.a, end: view.b }; };
  api.highlighted = function () {
    return hl.map(function (j) { return { op: j, index: inv[j], start: start[j], end: end[j] }; });
  };
  api.showAnomaly = showAnomaly;
  // opPoint returns where operation i is drawn, in the window's client
  // coordinates.
  api.opPoint = function (i) {
    var r = canvas.getBoundingClientRect();
    var x0 = Math.max(X(start[i]), GUTTER), x1 = Math.min(X(end[i]), W - RIGHT);
    return { x: r.left + (x0 + x1) / 2, y: r.top + top + ops.l[i] * laneH + laneH / 2 };
  };
  api.selected = function () { return selected; };
  api.zoom = function (a, b) { view.a = a; view.b = b; clampView(); draw(); return api.drawMs; };
  api.operations = n;

  resize();
  draw();
  api.ready = true;
  api.readyMs = performance.now();
  canvas.setAttribute("data-ready", "true");
})();

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
    if (lk) lockResize();
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

  // windowsUnder shades the fault windows on the context c across lanes
  // of height lanesH below the band, labels them in the band and draws the
  // nemesis's other events as lines. It returns how many windows it drew.
  function windowsUnder(c, lanesH) {
    var drawn = 0, k, w, x0, x1;
    for (k = 0; k < tl.windows.length; k++) {
      w = tl.windows[k];
      if (w.e < view.a || w.s > view.b) continue;
      drawn++;
      x0 = Math.max(X(w.s), GUTTER - 1);
      x1 = Math.min(X(w.e), W);
      var ww = Math.max(x1 - x0, 1);
      c.fillStyle = w.color;
      c.globalAlpha = 0.13;
      c.fillRect(x0, top, ww, lanesH);
      c.globalAlpha = 0.8;
      c.fillRect(x0, AXIS + 1, ww, BAND - 2);
      c.globalAlpha = 1;
      if (ww > 30) {
        c.fillStyle = "#fff";
        c.fillText(w.f + (w.open ? " (never stopped)" : ""), Math.max(x0, GUTTER) + 3, AXIS + BAND / 2);
      }
    }
    c.fillStyle = "#6e7781";
    for (k = 0; k < tl.marks.length; k++) {
      var m = tl.marks[k];
      if (m.t < view.a || m.t > view.b) continue;
      c.fillRect(Math.round(X(m.t)), AXIS, 1, BAND + lanesH);
    }
    return drawn;
  }

  // windowsOver draws the fault windows again, over what the lanes hold,
  // so that they show however dense the lanes are: a light veil and solid
  // edges.
  function windowsOver(c, lanesH) {
    for (var k = 0; k < tl.windows.length; k++) {
      var w = tl.windows[k];
      if (w.e < view.a || w.s > view.b) continue;
      var x0 = X(w.s), x1 = X(w.e);
      c.fillStyle = w.color;
      c.globalAlpha = 0.12;
      c.fillRect(x0, top, Math.max(x1 - x0, 1), lanesH);
      c.globalAlpha = 1;
      c.fillRect(Math.round(x0), top, 1, lanesH);
      if (!w.open) c.fillRect(Math.round(x1), top, 1, lanesH);
    }
  }

  // axis draws the time axis on the context c and returns its step.
  function axis(c) {
    var step = niceStep((view.b - view.a) / Math.max(plotW / 90, 1));
    c.fillStyle = "#656d76";
    c.textAlign = "center";
    for (var tt = Math.ceil(view.a / step) * step; tt <= view.b; tt += step) {
      var x = X(tt);
      if (x < GUTTER + 10 || x > W - 20) continue;
      c.fillRect(Math.round(x), AXIS - 5, 1, 5);
      c.fillText(fmtTime(tt, step), x, AXIS / 2 - 1);
    }
    c.textAlign = "start";
    c.fillStyle = "#d0d7de";
    c.fillRect(GUTTER, AXIS - 1, plotW, 1);
    return step;
  }

  // rangeText says which part of the run is shown.
  function rangeText(step, what) {
    return fmtTime(Math.max(view.a, 0), step / 10) + " – " + fmtTime(Math.min(view.b, full), step / 10) +
      " (" + fmtDur(Math.round(view.b - view.a)) + " shown, " + what + ")";
  }

  function draw() {
    drawTimeline();
    if (lk) drawLocks();
  }

  function drawTimeline() {
    var t0 = performance.now();
    var rects = 0, drawn = 0, windowsDrawn = 0;
    ctx.clearRect(0, 0, W, H);
    ctx.font = "11px -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
    ctx.textBaseline = "middle";
    var lanesH = nLanes * laneH, x0, x1, k;

    // Lane stripes.
    ctx.fillStyle = "#f6f8fa";
    for (l = 1; l < nLanes; l += 2) ctx.fillRect(GUTTER, top + l * laneH, plotW, laneH);

    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, 0, plotW, H);
    ctx.clip();

    // Fault windows across every lane, labelled in the band above.
    windowsDrawn = windowsUnder(ctx, lanesH);

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

    // The fault windows again, over the operations.
    windowsOver(ctx, lanesH);

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
    var step = axis(ctx);
    rangeEl.textContent = rangeText(step, n + " operations");
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

  function markAnomaly(id) {
    if (activeAnomaly) activeAnomaly.classList.remove("active");
    activeAnomaly = document.getElementById("anomaly-" + id);
    if (activeAnomaly) activeAnomaly.classList.add("active");
  }

  function showAnomaly(id) {
    var list = tl.anomalies[id] || [];
    highlight(list);
    markAnomaly(id);
    selectLockAnomaly(id);
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

  // The lock lanes: each lock's critical sections on the timeline's time
  // axis (they share its view: zooming or panning either moves both).
  // Sections narrower than a pixel are merged into one pixel column per
  // kind, as the operations are.
  var lk = data.locks || null;
  var lkCanvas = document.getElementById("locks-canvas");
  if (!lkCanvas || !lkCanvas.getContext) lk = null;
  var lkCtx, lkWrap, lkRangeEl, lkDetailsEl, lkClearBtn;
  var sec, ns = 0, lStart, lEnd, lInv, nLocks = 0, laneFrom, laneTo, laneMaxD, laneY, laneHt, spanFrom, spanTo, laneHit;
  var rowH = 16, lkH = 70, LPAD = 2;
  var lkSel = [], lkSpan = null, lkClicked = -1;
  var HOLDER_COLORS = ["#0969da", "#1b7c83", "#0550ae", "#3192aa"];
  var RED = "#cf222e", SPAN_FILL = "#ffd8d3", SPAN_EDGE = "#a40e26";
  if (lk) {
    lkCtx = lkCanvas.getContext("2d");
    lkWrap = document.getElementById("locks-wrap");
    lkRangeEl = document.getElementById("locks-range");
    lkDetailsEl = document.getElementById("lock-details");
    lkClearBtn = document.getElementById("lk-clear");
    sec = lk.sections;
    ns = sec.d.length;
    nLocks = lk.locks.length;
    lStart = new Float64Array(ns);
    lEnd = new Float64Array(ns);
    lInv = new Float64Array(ns);
    s = 0;
    ix = 0;
    for (i = 0; i < ns; i++) {
      s += sec.s[i];
      ix += sec.i[i];
      lStart[i] = s;
      lEnd[i] = s + sec.d[i];
      lInv[i] = ix;
    }
    // Sections come lane by lane, each lane by start.
    laneFrom = new Int32Array(nLocks);
    laneTo = new Int32Array(nLocks);
    laneMaxD = new Float64Array(nLocks);
    for (i = ns - 1; i >= 0; i--) laneFrom[sec.l[i]] = i;
    for (i = 0; i < ns; i++) {
      l = sec.l[i];
      laneTo[l] = i + 1;
      if (sec.d[i] > laneMaxD[l]) laneMaxD[l] = sec.d[i];
    }
    spanFrom = new Int32Array(nLocks);
    spanTo = new Int32Array(nLocks);
    laneHit = [];
    for (l = 0; l < nLocks; l++) laneHit.push(false);
    for (i = lk.spans.l.length - 1; i >= 0; i--) spanFrom[lk.spans.l[i]] = i;
    for (i = 0; i < lk.spans.l.length; i++) {
      spanTo[lk.spans.l[i]] = i + 1;
      laneHit[lk.spans.l[i]] = true;
    }
    var totalRows = 0;
    for (l = 0; l < nLocks; l++) totalRows += lk.rows[l];
    rowH = Math.max(4, Math.min(18, Math.floor(420 / Math.max(totalRows, 1))));
    laneY = new Float64Array(nLocks);
    laneHt = new Float64Array(nLocks);
    var y0 = top;
    for (l = 0; l < nLocks; l++) {
      laneY[l] = y0;
      laneHt[l] = lk.rows[l] * rowH + 2 * LPAD;
      y0 += laneHt[l];
    }
    lkH = Math.max(y0 + 6, 70);
  }

  function lockResize() {
    var dpr = window.devicePixelRatio || 1;
    lkCanvas.width = Math.round(W * dpr);
    lkCanvas.height = Math.round(lkH * dpr);
    lkCanvas.style.height = lkH + "px";
    lkCtx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  // lockFirst returns the first position in lane l whose section may
  // reach time t or later.
  function lockFirst(l, t) {
    var lo = laneFrom[l], hi = laneTo[l];
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (lStart[mid] < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }
  function rowY(j) { return laneY[sec.l[j]] + LPAD + sec.r[j] * rowH; }
  function sectionColor(j) {
    return sec.x[j] & 1 ? RED : HOLDER_COLORS[sec.h[j] % HOLDER_COLORS.length];
  }
  function tokenText(j) { return sec.k[j] ? "token " + sec.k[j] : "no token"; }

  function drawLocks() {
    var t0 = performance.now();
    var c = lkCtx, drawn = 0, rects = 0, spans = 0, windowsDrawn, x0, x1, j, k;
    c.clearRect(0, 0, W, lkH);
    c.font = "11px -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
    c.textBaseline = "middle";
    var lanesH = lkH - 6 - top;

    c.fillStyle = "#f6f8fa";
    for (l = 1; l < nLocks; l += 2) c.fillRect(GUTTER, laneY[l], plotW, laneHt[l]);

    c.save();
    c.beginPath();
    c.rect(GUTTER, 0, plotW, lkH);
    c.clip();
    windowsDrawn = windowsUnder(c, lanesH);

    // The time two holders held a lock, under its sections.
    c.fillStyle = SPAN_FILL;
    for (k = 0; k < lk.spans.l.length; k++) {
      if (lk.spans.e[k] < view.a || lk.spans.s[k] > view.b) continue;
      l = lk.spans.l[k];
      x0 = X(lk.spans.s[k]);
      x1 = Math.max(X(lk.spans.e[k]), x0 + 3);
      c.fillRect(x0, laneY[l], x1 - x0, laneHt[l]);
    }

    // The sections, lane by lane; their labels come last.
    var labels = [];
    for (l = 0; l < nLocks; l++) {
      var last = {};
      for (j = lockFirst(l, view.a - laneMaxD[l]); j < laneTo[l]; j++) {
        if (lStart[j] > view.b) break;
        if (lEnd[j] < view.a) continue;
        drawn++;
        var y = rowY(j), h = rowH - 1;
        x0 = X(lStart[j]);
        x1 = X(lEnd[j]);
        c.fillStyle = sectionColor(j);
        c.globalAlpha = sec.x[j] & 2 ? 0.5 : 1;
        if (x1 - x0 < 1) {
          var px = Math.floor(x0), key = sec.r[j] * 4 + (sec.x[j] & 3);
          if (last[key] === px) continue;
          last[key] = px;
          c.fillRect(px, y, 1, h);
        } else {
          c.fillRect(x0, y, x1 - x0 > 3 ? x1 - x0 - 0.5 : x1 - x0, h);
          if (x1 - x0 > 60 && rowH >= 12) labels.push(j);
        }
        rects++;
      }
    }
    c.globalAlpha = 1;
    windowsOver(c, lanesH);

    // The overlapping time again, on top: hatched, with edges and a strip
    // along the lane's top, at least a few pixels wide however far out
    // the view is.
    for (k = 0; k < lk.spans.l.length; k++) {
      if (lk.spans.e[k] < view.a || lk.spans.s[k] > view.b) continue;
      spans++;
      l = lk.spans.l[k];
      x0 = X(lk.spans.s[k]);
      x1 = Math.max(X(lk.spans.e[k]), x0 + 3);
      if (x1 - x0 > 6) {
        c.save();
        c.beginPath();
        c.rect(x0, laneY[l], x1 - x0, laneHt[l]);
        c.clip();
        c.strokeStyle = "rgba(255, 255, 255, 0.4)";
        c.lineWidth = 1.5;
        c.beginPath();
        for (var hx = Math.max(x0, GUTTER) - laneHt[l]; hx < Math.min(x1, W); hx += 6) {
          c.moveTo(hx, laneY[l] + laneHt[l]);
          c.lineTo(hx + laneHt[l], laneY[l]);
        }
        c.stroke();
        c.restore();
      }
      c.fillStyle = SPAN_EDGE;
      c.fillRect(x0, laneY[l], x1 - x0, 3);
      c.fillRect(x0, laneY[l] + laneHt[l] - 2, x1 - x0, 2);
      c.fillRect(Math.round(x0), laneY[l], 1, laneHt[l]);
      c.fillRect(Math.round(x1), laneY[l], 1, laneHt[l]);
    }

    // Holder and token on the sections wide enough to hold them.
    c.fillStyle = "#fff";
    for (k = 0; k < labels.length; k++) {
      j = labels[k];
      x0 = X(lStart[j]);
      x1 = X(lEnd[j]);
      c.save();
      c.beginPath();
      c.rect(x0, rowY(j), x1 - x0 - 2, rowH - 1);
      c.clip();
      c.fillText(lk.holders[sec.h[j]] + (sec.k[j] ? " · token " + sec.k[j] : ""), Math.max(x0, GUTTER) + 3, rowY(j) + (rowH - 1) / 2);
      c.restore();
    }

    // The selected sections, and the overlap they share.
    c.lineWidth = 2;
    c.strokeStyle = "#1f2328";
    for (k = 0; k < lkSel.length; k++) {
      j = lkSel[k];
      if (lEnd[j] < view.a || lStart[j] > view.b) continue;
      x0 = X(lStart[j]);
      x1 = Math.max(X(lEnd[j]), x0 + 4);
      c.strokeRect(x0, rowY(j), x1 - x0, rowH - 1);
    }
    if (lkSpan && lkSpan.b >= view.a && lkSpan.a <= view.b) {
      l = lkSpan.lane;
      x0 = X(lkSpan.a);
      x1 = Math.max(X(lkSpan.b), x0 + 4);
      c.setLineDash([4, 3]);
      c.strokeRect(x0, laneY[l] + 1, x1 - x0, laneHt[l] - 2);
      c.setLineDash([]);
      c.fillStyle = "#1f2328";
      c.beginPath();
      c.moveTo((x0 + x1) / 2 - 5, AXIS + 1);
      c.lineTo((x0 + x1) / 2 + 5, AXIS + 1);
      c.lineTo((x0 + x1) / 2, AXIS + BAND - 2);
      c.fill();
    }
    if (lkClicked >= 0 && lEnd[lkClicked] >= view.a && lStart[lkClicked] <= view.b) {
      c.strokeStyle = "#0969da";
      x0 = X(lStart[lkClicked]);
      x1 = Math.max(X(lEnd[lkClicked]), x0 + 3);
      c.strokeRect(x0 - 1, rowY(lkClicked) - 1, x1 - x0 + 2, rowH + 1);
    }
    c.restore();

    // Lane labels: a lock whose holders overlapped in red.
    c.fillStyle = "#fff";
    c.fillRect(0, 0, GUTTER, lkH);
    for (l = 0; l < nLocks; l++) {
      if (laneHt[l] < 10 && l % Math.ceil(10 / laneHt[l])) continue;
      c.fillStyle = laneHit[l] ? RED : "#656d76";
      c.font = (laneHit[l] ? "600 " : "") + "11px -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
      c.fillText(lk.locks[l] + (laneHit[l] ? "  overlap" : ""), 4, laneY[l] + laneHt[l] / 2, GUTTER - 8);
    }
    c.font = "11px -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";
    c.fillStyle = "#656d76";
    c.fillText("faults", 4, AXIS + BAND / 2);
    var step = axis(c);
    lkRangeEl.textContent = rangeText(step, ns + " critical sections on " + nLocks + " lock" + (nLocks === 1 ? "" : "s"));
    lkCanvas.setAttribute("data-view-start", String(view.a));
    lkCanvas.setAttribute("data-view-end", String(view.b));
    api.lockDrawMs = performance.now() - t0;
    api.lockStats = { sections: drawn, rects: rects, spans: spans, windows: windowsDrawn };
  }

  // lockAt returns the section drawn at (x, y) on the lock canvas, or -1.
  function lockAt(x, y) {
    if (x < GUTTER) return -1;
    var lane = -1;
    for (l = 0; l < nLocks; l++) {
      if (y >= laneY[l] && y < laneY[l] + laneHt[l]) { lane = l; break; }
    }
    if (lane < 0) return -1;
    var row = Math.max(0, Math.min(lk.rows[lane] - 1, Math.floor((y - laneY[lane] - LPAD) / rowH)));
    var t = T(x), tol = 3 * (view.b - view.a) / plotW, best = -1, bestD = Infinity;
    for (var j = lockFirst(lane, t - tol - laneMaxD[lane]); j < laneTo[lane]; j++) {
      if (lStart[j] > t + tol) break;
      var d = t < lStart[j] ? lStart[j] - t : t > lEnd[j] ? t - lEnd[j] : 0;
      if (sec.r[j] !== row) d += tol + 1; // another row: only when nothing in this one is near
      if (d <= 2 * tol + 1 && d < bestD) { best = j; bestD = d; }
    }
    return best;
  }

  function sectionTitle(j) {
    var t = lk.locks[sec.l[j]] + ": " + lk.holders[sec.h[j]] + ", " + tokenText(j) + "\n" +
      fmtTime(lStart[j], 1) + " – " + fmtTime(lEnd[j], 1) + " (" + fmtDur(lEnd[j] - lStart[j]) + ")";
    if (sec.x[j] & 2) t += "\nnever released: held until its cycle ended";
    if (sec.x[j] & 1) t += "\noverlaps another holder's section";
    return t;
  }

  // overlapsOf lists the sections of other holders that overlap j.
  function overlapsOf(j) {
    var out = [], lane = sec.l[j];
    for (var o = lockFirst(lane, lStart[j] - laneMaxD[lane]); o < laneTo[lane] && out.length < 20; o++) {
      if (lStart[o] >= lEnd[j]) break;
      if (o !== j && sec.h[o] !== sec.h[j] && Math.min(lEnd[o], lEnd[j]) > Math.max(lStart[o], lStart[j])) out.push(o);
    }
    return out;
  }

  function describeSection(j, table) {
    row(table, "lock", lk.locks[sec.l[j]]);
    row(table, "holder", lk.holders[sec.h[j]] + " (process p" + sec.p[j] + "), " + tokenText(j));
    row(table, "held", fmtTime(lStart[j], 1) + " – " + fmtTime(lEnd[j], 1) + " (" + fmtDur(lEnd[j] - lStart[j]) + ")" +
      (sec.x[j] & 2 ? ", never released: held until its cycle ended" : ""));
    row(table, "cycle", "events #" + lInv[j] + " → #" + (lInv[j] + sec.c[j]));
    var ov = overlapsOf(j);
    for (var k = 0; k < ov.length; k++) {
      var o = ov[k];
      row(table, "overlaps", lk.holders[sec.h[o]] + ", " + tokenText(o) + " (" + fmtTime(lStart[o], 1) + " – " + fmtTime(lEnd[o], 1) +
        "), both held it for " + fmtDur(Math.min(lEnd[o], lEnd[j]) - Math.max(lStart[o], lStart[j])));
    }
  }

  function showLockDetails(list) {
    lkDetailsEl.textContent = "";
    lkDetailsEl.className = "";
    if (lkSpan) {
      var p = document.createElement("p");
      p.textContent = "Both held " + lk.locks[lkSpan.lane] + " from " + fmtTime(lkSpan.a, 1) + " to " + fmtTime(lkSpan.b, 1) +
        " (" + fmtDur(lkSpan.b - lkSpan.a) + "):";
      lkDetailsEl.appendChild(p);
    }
    for (var k = 0; k < list.length; k++) {
      var table = document.createElement("table");
      describeSection(list[k], table);
      lkDetailsEl.appendChild(table);
    }
  }

  function lockSelect(x, y) {
    lkClicked = lockAt(x, y);
    if (lkClicked >= 0) {
      lkSpan = null;
      lkSel = [];
      showLockDetails([lkClicked]);
    }
    lkClearBtn.hidden = lkClicked < 0 && !lkSel.length;
    redraw();
  }

  // selectLockAnomaly selects the sections anomaly id names and the time
  // they overlapped; it returns false when it names none.
  function selectLockAnomaly(id) {
    if (!lk) return false;
    var list = lk.anomalies[id] || [];
    lkSel = list.slice();
    lkSpan = null;
    lkClicked = -1;
    lkClearBtn.hidden = lkSel.length === 0;
    if (!list.length) {
      lkDetailsEl.textContent = "No critical section selected.";
      lkDetailsEl.className = "muted";
      return false;
    }
    var a = -Infinity, b = Infinity;
    for (var k = 0; k < list.length; k++) {
      a = Math.max(a, lStart[list[k]]);
      b = Math.min(b, lEnd[list[k]]);
    }
    if (b >= a) lkSpan = { lane: sec.l[list[0]], a: a, b: b };
    showLockDetails(list);
    return true;
  }

  // showLockAnomaly zooms the lock lanes to the overlap anomaly id names,
  // with as much of both sections around it as keeps the overlap legible,
  // and selects them (and their operations in the timeline).
  function showLockAnomaly(id) {
    highlight(tl.anomalies[id] || []);
    if (hl.length) showHighlighted();
    markAnomaly(id);
    if (selectLockAnomaly(id)) {
      var ua = Infinity, ub = -Infinity;
      for (var k = 0; k < lkSel.length; k++) {
        ua = Math.min(ua, lStart[lkSel[k]]);
        ub = Math.max(ub, lEnd[lkSel[k]]);
      }
      var a = lkSpan ? lkSpan.a : ua, b = lkSpan ? lkSpan.b : ub, ov = Math.max(b - a, MINSPAN);
      var va = Math.max(ua, a - 2 * ov), vb = Math.min(ub, b + 2 * ov);
      var pad = Math.max((vb - va) * 0.15, 200);
      view.a = va - pad;
      view.b = vb + pad;
      clampView();
    }
    lkWrap.scrollIntoView({ block: "center" });
    redraw();
  }

  // Input: wheel zooms, drag pans, a click selects; on either canvas,
  // moving the one view both draw. hover, when given, is called as the
  // pointer moves without dragging.
  function bindCanvas(cv, click, hover) {
    var drag = null;
    cv.addEventListener("wheel", function (e) {
      e.preventDefault();
      var dy = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
      var x = e.offsetX;
      zoomAt(x >= GUTTER ? T(x) : (view.a + view.b) / 2, Math.exp(dy * 0.0015));
    }, { passive: false });
    cv.addEventListener("pointerdown", function (e) {
      drag = { x: e.clientX, a: view.a, b: view.b, moved: false };
      cv.setPointerCapture(e.pointerId);
    });
    cv.addEventListener("pointermove", function (e) {
      if (!drag) {
        if (hover) hover(e.offsetX, e.offsetY);
        return;
      }
      var dx = e.clientX - drag.x;
      if (Math.abs(dx) > 3) { drag.moved = true; cv.classList.add("dragging"); }
      if (!drag.moved) return;
      var d = dx / plotW * (drag.b - drag.a);
      view.a = drag.a - d;
      view.b = drag.b - d;
      clampView();
      redraw();
    });
    cv.addEventListener("pointerup", function (e) {
      if (drag && !drag.moved) click(e.offsetX, e.offsetY);
      drag = null;
      cv.classList.remove("dragging");
    });
  }
  bindCanvas(canvas, select);
  if (lk) {
    bindCanvas(lkCanvas, lockSelect, function (x, y) {
      var j = lockAt(x, y);
      lkCanvas.title = j >= 0 ? sectionTitle(j) : "";
    });
  }
  function on(id, fn) {
    var b = document.getElementById(id);
    if (b) b.addEventListener("click", fn);
  }
  function clearAll() {
    highlight([]);
    if (activeAnomaly) activeAnomaly.classList.remove("active");
    activeAnomaly = null;
    detailsEl.textContent = "No operation selected.";
    detailsEl.className = "muted";
    if (lk) {
      lkSel = [];
      lkSpan = null;
      lkClicked = -1;
      lkClearBtn.hidden = true;
      lkDetailsEl.textContent = "No critical section selected.";
      lkDetailsEl.className = "muted";
    }
    redraw();
  }
  ["tl", "lk"].forEach(function (p) {
    on(p + "-zoom-in", function () { zoomAt((view.a + view.b) / 2, 0.5); });
    on(p + "-zoom-out", function () { zoomAt((view.a + view.b) / 2, 2); });
    on(p + "-left", function () { pan(-0.5); });
    on(p + "-right", function () { pan(0.5); });
    on(p + "-reset", function () { view.a = 0; view.b = full; redraw(); });
    on(p + "-clear", clearAll);
  });
  function onLinks(selector, attr, fn) {
    var links = document.querySelectorAll(selector);
    for (var k = 0; k < links.length; k++) {
      links[k].addEventListener("click", function (e) {
        e.preventDefault();
        fn(Number(this.getAttribute(attr)));
      });
    }
  }
  onLinks("a.show-ops", "data-anomaly", showAnomaly);
  if (lk) onLinks("a.show-lock", "data-lock-anomaly", showLockAnomaly);
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
  if (lk) {
    api.locks = { lanes: nLocks, sections: ns, overlapping: lk.overlapping, spans: lk.spans.l.length };
    api.showLockAnomaly = showLockAnomaly;
    var secInfo = function (j) {
      return { pos: j, lock: lk.locks[sec.l[j]], holder: lk.holders[sec.h[j]], token: sec.k[j], start: lStart[j], end: lEnd[j],
        index: lInv[j], overlaps: (sec.x[j] & 1) === 1 };
    };
    api.lockSelected = function () { return lkSel.map(secInfo); };
    api.lockSpan = function () { return lkSpan && { lock: lk.locks[lkSpan.lane], start: lkSpan.a, end: lkSpan.b }; };
    api.lockClicked = function () { return lkClicked >= 0 ? secInfo(lkClicked) : null; };
    api.sections = function () { var out = []; for (var j = 0; j < ns; j++) out.push(secInfo(j)); return out; };
    // lockPoint returns where section j is drawn, in the window's client
    // coordinates.
    api.lockPoint = function (j) {
      var r = lkCanvas.getBoundingClientRect();
      var x0 = Math.max(X(lStart[j]), GUTTER), x1 = Math.min(X(lEnd[j]), W - RIGHT);
      return { x: r.left + (x0 + x1) / 2, y: r.top + rowY(j) + rowH / 2 };
    };
    // lockBox and spanBox return where section j and overlap span k are
    // drawn, in the window's client coordinates.
    api.lockBox = function (j) {
      var r = lkCanvas.getBoundingClientRect();
      return { left: r.left + X(lStart[j]), right: r.left + X(lEnd[j]), top: r.top + rowY(j), bottom: r.top + rowY(j) + rowH - 1 };
    };
    api.spanBox = function (k) {
      var r = lkCanvas.getBoundingClientRect(), l = lk.spans.l[k];
      return { left: r.left + X(lk.spans.s[k]), right: r.left + X(lk.spans.e[k]), top: r.top + laneY[l], bottom: r.top + laneY[l] + laneHt[l] };
    };
  }

  resize();
  draw();
  api.ready = true;
  api.readyMs = performance.now();
  canvas.setAttribute("data-ready", "true");
  if (lk) lkCanvas.setAttribute("data-ready", "true");
})();

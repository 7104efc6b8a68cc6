// The Moonwire dashboard example: live charts of the hub's numbers, drawn on <canvas>, fed over SSE by the
// dashboard plugin's `stats` events (one per tick, stored, so the page gets the recent ones when it opens).
//
// Query parameters: ?room=ROOM (default "dashboard"), ?window=SECONDS shown (default 300),
// ?transport=sse|websocket|longpoll (default sse).
import { Moonwire } from "/moonwire.js";

const params = new URLSearchParams(location.search);
const ROOM = params.get("room") || "dashboard";
const WINDOW = Math.min(3600, Math.max(30, Number(params.get("window")) || 300)); // seconds shown
const TRANSPORT = ["websocket", "sse", "longpoll"].includes(params.get("transport")) ? params.get("transport") : "sse";
const REPLAY = 600; // ticks asked for when the page opens (the hub sends at most what it retains)
const KEEP = WINDOW * 2; // seconds of samples kept in memory

const $ = (id) => document.getElementById(id);

// MARK: samples

/** Samples in time order: {id, at, websocket, sse, longpoll, rooms, published, delivered, ...}. */
const samples = [];
const seen = new Set();
let received = 0;

function toSample(event) {
  const data = event.data || {};
  const connections = data.connections || {};
  const number = (value) => (typeof value === "number" && isFinite(value) ? value : 0);
  return {
    id: event.event_id,
    at: number(data.at) || number(event.timestamp),
    websocket: number(connections.websocket),
    sse: number(connections.sse),
    longpoll: number(connections.longpoll),
    rooms: number(data.rooms),
    published: number(data.events_published),
    delivered: number(data.events_delivered),
    messagesSent: number(data.messages_sent),
    pollRequests: number(data.poll_requests),
    errorsSent: number(data.errors_sent),
  };
}

function addSample(event) {
  if (seen.has(event.event_id)) return;
  seen.add(event.event_id);
  received += 1;
  const sample = toSample(event);
  const last = samples[samples.length - 1];
  samples.push(sample);
  if (last && sample.at < last.at) samples.sort((a, b) => a.at - b.at);
  const newest = samples[samples.length - 1].at;
  while (samples.length && samples[0].at < newest - KEEP) seen.delete(samples.shift().id);
  scheduleRender();
}

/** The typical gap between ticks (the plugin's interval). */
function typicalStep() {
  const steps = [];
  for (let i = Math.max(1, samples.length - 20); i < samples.length; i++) steps.push(samples[i].at - samples[i - 1].at);
  steps.sort((a, b) => a - b);
  return steps.length ? Math.max(0.1, steps[Math.floor(steps.length / 2)]) : 1;
}

/** Per-second rate of a counter between two samples; null across a break (missed ticks, a hub restart). */
function rate(i, key, step) {
  if (i === 0) return null;
  const a = samples[i - 1], b = samples[i];
  const dt = b.at - a.at;
  const delta = b[key] - a[key];
  if (dt <= 0 || dt > step * 4 || delta < 0) return null;
  return delta / dt;
}

// MARK: rendering

let pending = false;
let hoverAt = null; // the time under the pointer, shared by every chart

function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    render();
  });
}

const integer = new Intl.NumberFormat();
function formatRate(value) {
  if (value == null) return "–";
  if (value === 0) return "0";
  return value < 10 ? value.toFixed(1) : integer.format(Math.round(value));
}
function clock(seconds, withSeconds = true) {
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (withSeconds) options.second = "2-digit";
  return new Date(seconds * 1000).toLocaleTimeString([], options);
}

function setMetric(name, text) {
  for (const node of document.querySelectorAll(`[data-metric="${name}"]`)) node.textContent = text;
}

function color(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

function render() {
  const count = $("samples");
  count.dataset.count = String(received);
  if (!samples.length) {
    count.textContent = "Waiting for the first sample…";
    return;
  }
  const latest = samples[samples.length - 1];
  count.textContent = `${integer.format(received)} samples · last at ${clock(latest.at)}`;

  const step = typicalStep();
  const last = samples.length - 1;
  setMetric("connections", integer.format(latest.websocket + latest.sse + latest.longpoll));
  setMetric("connections.websocket", integer.format(latest.websocket));
  setMetric("connections.sse", integer.format(latest.sse));
  setMetric("connections.longpoll", integer.format(latest.longpoll));
  setMetric("rooms", integer.format(latest.rooms));
  setMetric("events_published", integer.format(latest.published));
  setMetric("events_delivered", integer.format(latest.delivered));
  setMetric("messages_sent", integer.format(latest.messagesSent));
  setMetric("poll_requests", integer.format(latest.pollRequests));
  setMetric("errors_sent", integer.format(latest.errorsSent));
  setMetric("delivered_per_second", formatRate(rate(last, "delivered", step)));
  setMetric("published_per_second", formatRate(rate(last, "published", step)));

  const end = latest.at;
  const start = Math.max(samples[0].at, end - WINDOW);
  const span = { start: Math.min(start, end - 60), end };
  const visible = samples.map((sample, index) => ({ sample, index })).filter(({ sample }) => sample.at >= span.start - step);
  const points = (value) => visible.map(({ sample, index }) => [sample.at, value(sample, index)]);

  drawChart($("chart-connections"), $("legend-connections"), span, step, [
    { label: "WebSocket", color: color("--ws"), points: points((s) => s.websocket) },
    { label: "SSE", color: color("--sse"), points: points((s) => s.sse) },
    { label: "Long-poll", color: color("--poll"), points: points((s) => s.longpoll) },
  ], { integer: true });
  drawChart($("chart-events"), $("legend-events"), span, step, [
    { label: "Delivered", color: color("--delivered"), points: points((s, i) => rate(i, "delivered", step)), fill: true },
    { label: "Published", color: color("--published"), points: points((s, i) => rate(i, "published", step)) },
  ], { format: formatRate });
  drawChart($("chart-rooms"), $("legend-rooms"), span, step, [
    { label: "Rooms", color: color("--rooms"), points: points((s) => s.rooms), fill: true, stepped: true },
  ], { integer: true });
}

/** A y-axis top that reads well, split in 4 steps of 1, 2, 2.5 or 5 × 10^n (whole steps for counts). */
function niceMax(value, integerOnly) {
  const quarter = value > 0 ? value / 4 : 0.25;
  const exponent = Math.floor(Math.log10(quarter));
  for (const factor of integerOnly ? [1, 2, 3, 5, 10] : [1, 2, 2.5, 5, 10]) {
    const step = factor * 10 ** exponent;
    if (step >= quarter && (!integerOnly || Number.isInteger(step))) return step * 4;
  }
  return integerOnly ? Math.max(4, Math.ceil(quarter) * 4) : 10 ** (exponent + 1) * 4;
}

function drawChart(canvas, legend, span, step, series, { integer: integerOnly = false, format } = {}) {
  const show = format || ((value) => (value == null ? "–" : integer.format(value)));
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (!width || !height) return;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);

  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => v != null);
  const top = niceMax(Math.max(0, ...values) * (integerOnly ? 1 : 1.05), integerOnly);
  ctx.font = "11px system-ui, sans-serif";
  const labelWidth = Math.max(...[0, 1, 2, 3, 4].map((i) => ctx.measureText(show((top * i) / 4)).width));
  const box = { left: Math.ceil(labelWidth) + 12, right: width - 8, top: 8, bottom: height - 22 };
  const x = (t) => box.left + ((t - span.start) / (span.end - span.start || 1)) * (box.right - box.left);
  const y = (v) => box.bottom - (v / top) * (box.bottom - box.top);
  canvas.plot = { left: box.left, right: box.right, span }; // for the pointer

  // Grid and axes.
  ctx.strokeStyle = color("--grid");
  ctx.fillStyle = color("--muted");
  ctx.lineWidth = 1;
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const value = (top * i) / 4;
    const py = Math.round(y(value)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(box.left, py);
    ctx.lineTo(box.right, py);
    ctx.stroke();
    ctx.fillText(show(integerOnly ? Math.round(value) : value), box.left - 6, py);
  }
  const seconds = span.end - span.start;
  // Time labels: hh:mm:ss below a minute apart, hh:mm from a minute on; as many as fit.
  const fits = (t) => seconds / t <= (box.right - box.left) / (ctx.measureText(t < 60 ? "00:00:00" : "00:00").width + 28);
  const tick = [10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].find(fits) || 3600;
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (let t = Math.ceil(span.start / tick) * tick; t <= span.end; t += tick) {
    const px = x(t);
    if (px < box.left + 16 || px > box.right - 16) continue;
    ctx.fillText(clock(t, tick < 60), px, box.bottom + 6);
  }

  // Series: lines broken where a value is missing; optional fill under single series.
  ctx.save();
  ctx.beginPath();
  ctx.rect(box.left, box.top - 2, box.right - box.left, box.bottom - box.top + 4);
  ctx.clip();
  for (const s of series) {
    const runs = [];
    let run = [];
    let previousAt = null;
    for (const [t, v] of s.points) {
      const broken = previousAt != null && t - previousAt > step * 4;
      if (v == null || broken) {
        if (run.length) runs.push(run);
        run = [];
      }
      if (v != null) run.push([t, v]);
      previousAt = t;
    }
    if (run.length) runs.push(run);
    for (const points of runs) {
      ctx.beginPath();
      points.forEach(([t, v], i) => {
        if (i === 0) ctx.moveTo(x(t), y(v));
        else {
          if (s.stepped) ctx.lineTo(x(t), y(points[i - 1][1]));
          ctx.lineTo(x(t), y(v));
        }
      });
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.lineJoin = "round";
      ctx.stroke();
      if (s.fill && points.length > 1) {
        ctx.lineTo(x(points[points.length - 1][0]), box.bottom);
        ctx.lineTo(x(points[0][0]), box.bottom);
        ctx.closePath();
        ctx.globalAlpha = 0.14;
        ctx.fillStyle = s.color;
        ctx.fill();
        ctx.globalAlpha = 1;
      }
    }
  }
  ctx.restore();

  // The pointer's time: a guide line, a dot per series, the values in the legend.
  let at = null;
  if (hoverAt != null && series[0].points.length) {
    let best = null;
    for (const [t] of series[0].points) if (best == null || Math.abs(t - hoverAt) < Math.abs(best - hoverAt)) best = t;
    at = best;
  }
  if (at != null) {
    const px = Math.round(x(at)) + 0.5;
    ctx.strokeStyle = color("--muted");
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(px, box.top);
    ctx.lineTo(px, box.bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    for (const s of series) {
      const point = s.points.find(([t]) => t === at);
      if (!point || point[1] == null) continue;
      ctx.fillStyle = s.color;
      ctx.beginPath();
      ctx.arc(px, y(point[1]), 3.5, 0, Math.PI * 2);
      ctx.fill();
    }
  }

  legend.replaceChildren();
  if (at != null) legend.append(Object.assign(document.createElement("span"), { className: "when", textContent: clock(at) }));
  for (const s of series) {
    const point = at != null ? s.points.find(([t]) => t === at) : s.points[s.points.length - 1];
    const item = document.createElement("span");
    item.className = "item";
    const swatch = document.createElement("i");
    swatch.style.background = s.color;
    const value = document.createElement("strong");
    value.textContent = show(point ? point[1] : null);
    item.append(swatch, `${s.label} `, value);
    legend.append(item);
  }
}

for (const canvas of document.querySelectorAll(".chart canvas")) {
  canvas.addEventListener("pointermove", (event) => {
    const plot = canvas.plot;
    if (!plot) return;
    const px = event.clientX - canvas.getBoundingClientRect().left;
    const fraction = Math.min(1, Math.max(0, (px - plot.left) / Math.max(1, plot.right - plot.left)));
    hoverAt = plot.span.start + fraction * (plot.span.end - plot.span.start);
    scheduleRender();
  });
  canvas.addEventListener("pointerleave", () => {
    hoverAt = null;
    scheduleRender();
  });
}
new ResizeObserver(scheduleRender).observe(document.querySelector(".charts"));

// MARK: connection

$("window").textContent = WINDOW % 60 === 0 ? `${WINDOW / 60} minute${WINDOW === 60 ? "" : "s"}` : `${WINDOW} seconds`;

// No user id: moonwire.js connects as a guest (guest- and random hex digits).
const hub = new Moonwire({ rooms: [ROOM], transport: TRANSPORT, replay: REPLAY });
hub.on("stats", addSample);
hub.on("status", (status) => {
  const node = $("status");
  node.dataset.state = status.state;
  node.dataset.transport = status.transport || "";
  const label = node.querySelector(".label");
  if (status.state === "open") label.textContent = `Live · ${status.transport}`;
  else if (status.state === "connecting") label.textContent = "Connecting…";
  else if (status.state === "reconnecting") {
    const seconds = status.delay ? Math.max(1, Math.round(status.delay / 1000)) : null;
    label.textContent = seconds ? `Reconnecting in ${seconds} s…` : "Reconnecting…";
  } else if (status.state === "closed") label.textContent = "Disconnected";
  node.title = status.reason || "";
});
hub.connect().catch((error) => {
  const label = $("status").querySelector(".label");
  label.textContent = `Disconnected: ${error.message}`;
});
render();

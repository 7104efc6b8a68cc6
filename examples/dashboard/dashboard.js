// The Moonwire dashboard example: live numbers, charts, a log of published events and the busiest rooms,
// fed over SSE by the dashboard plugin's `stats` events (one per tick, stored, so the page gets the recent
// ones when it opens). Charts are drawn on <canvas>; everything from the hub goes into the page as text.
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
const LOG_CAP = 200; // rows in the event log
const TOP_ROOMS = 10;

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const finite = (value) => typeof value === "number" && isFinite(value);
const number = (value) => (finite(value) ? value : 0);

// MARK: samples

/** Samples in time order: {id, at, websocket, sse, longpoll, rooms, published, delivered, rss, latency, ...}. */
const samples = [];
const seen = new Set();
let received = 0;
let roomStats = null; // the newest sample's room_stats: {at, rooms: {id: users}} (only the newest is kept)
let lastArrival = 0; // performance.now() of the last sample that arrived
let hasRecentField = false; // the hub reports the events it publishes (stats.recent)

function toSample(event) {
  const data = event.data || {};
  const connections = data.connections || {};
  const latency = data.latency && typeof data.latency === "object" ? data.latency : null;
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
    // Newer hubs only: null when the field is absent.
    rss: finite(data.memory?.rss_bytes) ? data.memory.rss_bytes : null,
    latency: latency
      ? {
          samples: number(latency.samples),
          p50: finite(latency.p50_ms) ? latency.p50_ms : null,
          p99: finite(latency.p99_ms) ? latency.p99_ms : null,
          max: finite(latency.max_ms) ? latency.max_ms : null,
        }
      : null,
  };
}

function addSample(event) {
  if (seen.has(event.event_id)) return;
  seen.add(event.event_id);
  received += 1;
  lastArrival = performance.now();
  const sample = toSample(event);
  const last = samples[samples.length - 1];
  samples.push(sample);
  if (last && sample.at < last.at) samples.sort((a, b) => a.at - b.at);
  const newest = samples[samples.length - 1].at;
  while (samples.length && samples[0].at < newest - KEEP) seen.delete(samples.shift().id);

  const data = event.data || {};
  if (data.room_stats && typeof data.room_stats === "object" && (!roomStats || sample.at >= roomStats.at)) {
    roomStats = { at: sample.at, rooms: data.room_stats };
  }
  if (Array.isArray(data.recent)) {
    hasRecentField = true;
    addToLog(data.recent, sample.at);
  }
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

// MARK: formatting

const integer = new Intl.NumberFormat();
const byName = new Intl.Collator(undefined, { numeric: true });
function formatRate(value) {
  if (value == null) return "–";
  if (value === 0) return "0";
  return value < 10 ? value.toFixed(1) : integer.format(Math.round(value));
}
function formatMiB(bytes) {
  if (bytes == null) return "—";
  const mib = bytes / 1048576;
  return mib < 100 ? mib.toFixed(1) : integer.format(Math.round(mib));
}
function formatMs(ms) {
  if (ms == null) return "—";
  if (ms === 0) return "0";
  if (ms < 1) return ms.toFixed(2);
  return ms < 10 ? ms.toFixed(1) : integer.format(Math.round(ms));
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

function render() {
  renderFreshness();
  renderLog();
  if (!samples.length) return;
  const latest = samples[samples.length - 1];
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

  // Sparklines span the samples at hand (within the window), so they are full from the first minute.
  const sparkSpan = { start: Math.min(start, end - 10), end };
  renderMemory(latest, sparkSpan, step, points);
  renderLatency(latest, sparkSpan, step, points);
  renderRooms();

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

function setUnit(metric, shown) {
  const node = document.querySelector(`[data-metric="${metric}"]`);
  node.parentElement.classList.toggle("no-unit", !shown);
}

function renderMemory(latest, span, step, points) {
  const card = $("card-memory");
  const available = samples.some((s) => s.rss != null);
  card.dataset.available = String(available);
  setMetric("memory.rss", formatMiB(latest.rss));
  setUnit("memory.rss", latest.rss != null);
  $("memory-note").textContent = available ? "resident (RSS)" : "not reported by this hub";
  const canvas = $("spark-memory");
  canvas.hidden = !available;
  if (available) drawSparkline(canvas, span, step, [{ color: color("--memory"), points: points((s) => (s.rss == null ? null : s.rss / 1048576)), fill: true }], { fromZero: false });
}

function renderLatency(latest, span, step, points) {
  const card = $("card-latency");
  const available = samples.some((s) => s.latency != null);
  card.dataset.available = String(available);
  // samples 0: nothing was published lately, so there is no latency to show ("—", not 0 ms).
  const value = latest.latency && latest.latency.samples > 0 ? latest.latency : null;
  setMetric("latency.p99", formatMs(value?.p99 ?? null));
  setMetric("latency.p50", formatMs(value?.p50 ?? null));
  setMetric("latency.max", formatMs(value?.max ?? null));
  setUnit("latency.p99", value?.p99 != null);
  $("latency-values").hidden = !available || (latest.latency != null && !value);
  $("latency-idle").hidden = !available || latest.latency == null || Boolean(value);
  $("latency-absent").hidden = available;
  card.title = value
    ? `Publish → fan-out latency of ${integer.format(value.samples)} recent events`
    : "Publish → fan-out latency: from an event's arrival at the hub to its fan-out";
  const canvas = $("spark-latency");
  canvas.hidden = !available;
  if (!available) return;
  const measured = (s) => s.latency && s.latency.samples > 0;
  drawSparkline(canvas, span, step, [
    { color: color("--p50"), points: points((s) => (measured(s) ? s.latency.p50 : null)) },
    { color: color("--p99"), points: points((s) => (measured(s) ? s.latency.p99 : null)) },
  ], { fromZero: true });
}

function renderRooms() {
  const table = $("rooms-table");
  const body = table.querySelector("tbody");
  const more = $("rooms-more");
  const empty = $("rooms-empty");
  if (!roomStats) {
    table.hidden = true;
    more.hidden = true;
    empty.hidden = false;
    empty.textContent = samples.length ? "This hub does not report rooms with their users (room_stats)." : "Waiting for the first sample…";
    return;
  }
  const entries = Object.entries(roomStats.rooms)
    .map(([room, users]) => [room, number(users)])
    .sort((a, b) => b[1] - a[1] || byName.compare(a[0], b[0]));
  const top = entries.slice(0, TOP_ROOMS);
  const most = Math.max(1, ...top.map(([, users]) => users));
  table.dataset.count = String(top.length);
  table.dataset.total = String(entries.length);
  table.hidden = entries.length === 0;
  empty.hidden = entries.length > 0;
  empty.textContent = "No rooms right now.";
  const rows = top.map(([room, users]) => {
    const row = el("tr");
    row.dataset.room = room;
    row.dataset.users = String(users);
    const name = el("th", "room", room);
    name.scope = "row";
    name.title = room;
    const count = el("td", "num");
    const cell = el("div", "cell");
    const bar = el("span", "bar");
    bar.style.setProperty("--share", String(users / most));
    cell.append(bar, el("span", "n", integer.format(users)));
    count.append(cell);
    row.append(name, count);
    return row;
  });
  body.replaceChildren(...rows);
  // room_stats may list only the busiest rooms (the shipped plugin sends 10): the rest is counted from `rooms`.
  const latestRooms = samples.length ? samples[samples.length - 1].rooms : 0;
  const totalRooms = Math.max(entries.length, latestRooms);
  const rest = totalRooms - top.length;
  more.hidden = rest <= 0;
  more.dataset.count = String(Math.max(0, rest));
  if (rest > 0) {
    let text = `and ${integer.format(rest)} more room${rest === 1 ? "" : "s"}`;
    if (entries.length === totalRooms) {
      const users = entries.slice(TOP_ROOMS).reduce((sum, [, n]) => sum + n, 0);
      text += ` (${integer.format(users)} user${users === 1 ? "" : "s"})`;
    }
    more.textContent = text;
  }
}

// MARK: the event log

/** Rows shown, oldest first (at most LOG_CAP), and rows that arrived while the log was paused. */
const logShown = [];
const logPending = [];
let logPendingCount = 0;
let logSeq = 0;
let logFilter = "";
let logDirty = false; // the whole list must be rebuilt (filter changed)
const pause = { hover: false, button: false, scrolled: false };
const logPaused = () => pause.hover || pause.button || pause.scrolled;

function text(value, fallback = "") {
  return typeof value === "string" ? value : value == null ? fallback : String(value);
}

function addToLog(recent, sampleAt) {
  for (const item of recent) {
    if (!item || typeof item !== "object") continue;
    let at = finite(item.at) ? item.at : sampleAt;
    if (at > 1e11) at /= 1000; // milliseconds
    logPending.push({ seq: ++logSeq, type: text(item.event_type, "?"), room: text(item.room_id), user: text(item.user_id), at });
    logPendingCount += 1;
  }
  if (logPending.length > LOG_CAP) logPending.splice(0, logPending.length - LOG_CAP);
}

function matches(entry) {
  if (!logFilter) return true;
  return `${entry.type} ${entry.room} ${entry.user}`.toLowerCase().includes(logFilter);
}

function logRow(entry) {
  const row = el("li");
  row.dataset.seq = String(entry.seq);
  row.dataset.type = entry.type;
  const time = el("time", "at", clock(entry.at));
  time.dateTime = new Date(entry.at * 1000).toISOString();
  time.title = new Date(entry.at * 1000).toLocaleString();
  const type = el("span", "type", entry.type);
  type.dataset.kind = ["message", "notification", "user_joined", "user_left", "typing", "presence_diff", "stats"].includes(entry.type) ? entry.type : "other";
  const room = el("span", entry.room ? "room" : "room none", entry.room || "—");
  room.title = entry.room;
  const user = el("span", "user", entry.user || "—");
  user.title = entry.user;
  row.append(time, type, room, user);
  return row;
}

function renderLog() {
  const list = $("event-log");
  let fresh = [];
  if (!logPaused() && logPending.length) {
    fresh = logPending.splice(0);
    logPendingCount = 0;
    logShown.push(...fresh);
    if (logShown.length > LOG_CAP) logShown.splice(0, logShown.length - LOG_CAP);
  }
  const oldest = logShown[0]?.seq ?? 0;
  if (logDirty) {
    // The filter changed: rebuild from what is shown (rows that arrived while paused stay pending).
    logDirty = false;
    list.replaceChildren(...logShown.filter(matches).reverse().map(logRow));
  } else if (fresh.length) {
    const fragment = document.createDocumentFragment();
    for (let i = fresh.length - 1; i >= 0; i--) if (fresh[i].seq >= oldest && matches(fresh[i])) fragment.append(logRow(fresh[i]));
    list.prepend(fragment);
    while (list.lastElementChild && Number(list.lastElementChild.dataset.seq) < oldest) list.lastElementChild.remove();
  }
  list.dataset.count = String(list.children.length);
  list.dataset.paused = String(logPaused());
  const empty = $("log-empty");
  empty.hidden = list.children.length > 0;
  if (!list.children.length) {
    if (logShown.length && logFilter) empty.textContent = "No event matches the filter.";
    else if (!samples.length) empty.textContent = "Waiting for events…";
    else if (!hasRecentField) empty.textContent = "This hub does not report the events it publishes (its stats have no recent field).";
    else empty.textContent = "No events published in this window yet. Open the chat example and say something.";
  }
  const state = $("log-state");
  state.dataset.pending = String(logPendingCount);
  state.textContent = logPaused() ? (logPendingCount ? `Paused · ${integer.format(logPendingCount)} new` : "Paused") : "";
  const button = $("log-pause");
  button.textContent = pause.button ? "Resume" : "Pause";
  button.setAttribute("aria-pressed", String(pause.button));
}

const logWrap = $("log-wrap");
logWrap.addEventListener("pointerenter", (event) => {
  if (event.pointerType === "mouse") {
    pause.hover = true;
    scheduleRender();
  }
});
logWrap.addEventListener("pointerleave", () => {
  pause.hover = false;
  scheduleRender();
});
logWrap.addEventListener("scroll", () => {
  const scrolled = logWrap.scrollTop > 4;
  if (scrolled !== pause.scrolled) {
    pause.scrolled = scrolled;
    scheduleRender();
  }
}, { passive: true });
$("log-pause").addEventListener("click", () => {
  pause.button = !pause.button;
  scheduleRender();
});
$("log-filter").addEventListener("input", (event) => {
  logFilter = event.target.value.trim().toLowerCase();
  logDirty = true;
  scheduleRender();
});

// MARK: connection state: live, or offline with the numbers marked stale

const connection = { state: "idle", deadline: null, reason: "", everOpen: false };
let hub = null;

/** The client's reason, with the browser's word for "no answer" said plainly. */
function friendly(reason) {
  return reason.replace(/\.$/, "").replace(/Failed to fetch|NetworkError[^:]*|Load failed/i, "the hub could not be reached");
}

function isOffline() {
  const { state, everOpen } = connection;
  return state === "reconnecting" || state === "closed" || (state === "connecting" && everOpen);
}

/** Stale: offline, or connected but no sample for a while (the plugin stopped, or its room is wrong). */
function isStale() {
  if (!samples.length) return false;
  if (isOffline()) return true;
  const quiet = (performance.now() - lastArrival) / 1000;
  return connection.state === "open" && quiet > Math.max(5, typicalStep() * 5);
}

function renderFreshness() {
  const count = $("samples");
  count.dataset.count = String(received);
  const stale = isStale();
  count.dataset.stale = String(stale);
  $("main").dataset.stale = String(stale);
  if (!samples.length) {
    count.textContent = connection.state === "open" ? "Waiting for the first sample…" : "No samples yet";
  } else {
    const latest = samples[samples.length - 1];
    count.textContent = stale
      ? `Stale · last sample at ${clock(latest.at)}`
      : `${integer.format(received)} samples · last at ${clock(latest.at)}`;
    count.title = `${integer.format(received)} samples received`;
  }
}

function renderOffline() {
  const banner = $("offline");
  const offline = isOffline();
  banner.hidden = !offline;
  banner.dataset.state = offline ? connection.state : "";
  const retry = $("retry");
  if (!offline) {
    banner.dataset.seconds = "";
    retry.hidden = true;
    return;
  }
  let title;
  let seconds = "";
  if (connection.state === "closed") {
    title = "Offline — disconnected";
  } else if (connection.deadline != null) {
    const left = Math.max(0, Math.ceil((connection.deadline - performance.now()) / 1000));
    seconds = String(left);
    title = left > 0 ? `Offline — reconnecting in ${left} s` : "Offline — reconnecting now…";
  } else {
    seconds = "0";
    title = "Offline — reconnecting now…";
  }
  banner.dataset.seconds = seconds;
  $("offline-title").textContent = title;
  const parts = [];
  if (typeof navigator !== "undefined" && navigator.onLine === false) parts.push("This browser is offline.");
  else if (connection.reason) parts.push(`${connection.state === "closed" ? "Reason" : "Last error"}: ${friendly(connection.reason)}.`);
  parts.push(samples.length ? `The numbers below are stale: the last sample is from ${clock(samples[samples.length - 1].at)}.` : "No sample received yet.");
  $("offline-detail").textContent = parts.join(" ");
  // "Retry now" when the client can cut the wait short; after a final close, connect again.
  if (connection.state === "closed") {
    retry.hidden = false;
    retry.textContent = "Reconnect";
  } else {
    retry.hidden = !(hub && typeof hub.reconnectNow === "function") || seconds === "0";
    retry.textContent = "Retry now";
  }
}

function onStatus(status) {
  const before = isOffline();
  connection.state = status.state;
  connection.reason = status.reason || (status.state === "reconnecting" ? connection.reason : "");
  connection.deadline = status.state === "reconnecting" && finite(status.delay) ? performance.now() + status.delay : null;
  if (status.state === "open") connection.everOpen = true;

  const node = $("status");
  node.dataset.state = status.state;
  node.dataset.transport = status.transport || "";
  const label = node.querySelector(".label");
  if (status.state === "open") label.textContent = `Live · ${status.transport}`;
  else if (status.state === "connecting") label.textContent = "Connecting…";
  else if (status.state === "reconnecting") label.textContent = "Offline";
  else if (status.state === "closed") label.textContent = "Disconnected";
  else if (status.state === "suspended") label.textContent = "Paused";
  node.title = status.reason || "";

  const after = isOffline();
  if (after !== before) $("announce").textContent = after ? "Connection lost. The numbers are stale; reconnecting automatically." : "Back online.";
  renderOffline();
  scheduleRender();
}

// The countdown, and staleness while connected: checked every second (and more often while counting down).
setInterval(() => {
  if (isOffline()) renderOffline();
  const stale = isStale();
  if (String(stale) !== $("main").dataset.stale) scheduleRender();
}, 250);
addEventListener("online", renderOffline);
addEventListener("offline", renderOffline);

$("retry").addEventListener("click", () => {
  if (!hub) return;
  if (connection.state === "closed") hub.connect().catch(() => {});
  else if (typeof hub.reconnectNow === "function") hub.reconnectNow();
});

// MARK: charts

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

function prepare(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (!width || !height) return null;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  return { ctx, width, height };
}

/** Splits a series into runs without missing values or missed ticks. */
function runsOf(points, step) {
  const runs = [];
  let run = [];
  let previousAt = null;
  for (const [t, v] of points) {
    const broken = previousAt != null && t - previousAt > step * 4;
    if (v == null || broken) {
      if (run.length) runs.push(run);
      run = [];
    }
    if (v != null) run.push([t, v]);
    previousAt = t;
  }
  if (run.length) runs.push(run);
  return runs;
}

function drawSparkline(canvas, span, step, series, { fromZero }) {
  const prepared = prepare(canvas);
  if (!prepared) return;
  const { ctx, width, height } = prepared;
  const values = series.flatMap((s) => s.points.map(([, v]) => v)).filter((v) => v != null);
  if (!values.length) return;
  let low = fromZero ? 0 : Math.min(...values), high = Math.max(...values);
  if (high - low < (fromZero ? 1 : high * 0.02 || 1)) {
    const middle = (high + low) / 2, half = fromZero ? 0.5 : Math.max(high * 0.01, 0.5);
    high = fromZero ? Math.max(1, high) : middle + half;
    low = fromZero ? 0 : middle - half;
  }
  const pad = 3;
  const x = (t) => ((t - span.start) / (span.end - span.start || 1)) * (width - 2) + 1;
  const y = (v) => height - pad - ((v - low) / (high - low || 1)) * (height - pad * 2);
  for (const s of series) {
    for (const points of runsOf(s.points, step)) {
      ctx.beginPath();
      points.forEach(([t, v], i) => (i ? ctx.lineTo(x(t), y(v)) : ctx.moveTo(x(t), y(v))));
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 1.5;
      ctx.lineJoin = "round";
      ctx.stroke();
      if (s.fill && points.length > 1) {
        ctx.lineTo(x(points[points.length - 1][0]), height);
        ctx.lineTo(x(points[0][0]), height);
        ctx.closePath();
        ctx.globalAlpha = 0.15;
        ctx.fillStyle = s.color;
        ctx.fill();
        ctx.globalAlpha = 1;
      }
      if (points.length === 1) {
        ctx.fillStyle = s.color;
        ctx.fillRect(x(points[0][0]) - 1, y(points[0][1]) - 1, 2, 2);
      }
    }
  }
}

function drawChart(canvas, legend, span, step, series, { integer: integerOnly = false, format } = {}) {
  const show = format || ((value) => (value == null ? "–" : integer.format(value)));
  const prepared = prepare(canvas);
  if (!prepared) return;
  const { ctx, width, height } = prepared;

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
    for (const points of runsOf(s.points, step)) {
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
  if (at != null) legend.append(el("span", "when", clock(at)));
  for (const s of series) {
    const point = at != null ? s.points.find(([t]) => t === at) : s.points[s.points.length - 1];
    const item = el("span", "item");
    const swatch = el("i");
    swatch.style.background = s.color;
    item.append(swatch, `${s.label} `, el("strong", "", show(point ? point[1] : null)));
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
new ResizeObserver(scheduleRender).observe($("main"));
matchMedia("(prefers-color-scheme: dark)").addEventListener?.("change", scheduleRender);

// MARK: connecting

$("window").textContent = WINDOW % 60 === 0 ? `${WINDOW / 60} minute${WINDOW === 60 ? "" : "s"}` : `${WINDOW} seconds`;

// No user id: moonwire.js connects as a guest (guest- and random hex digits).
hub = new Moonwire({ rooms: [ROOM], transport: TRANSPORT, replay: REPLAY });
hub.on("stats", addSample);
hub.on("status", onStatus);
hub.connect().catch((error) => {
  onStatus({ state: "closed", transport: null, reason: error.message });
});
render();

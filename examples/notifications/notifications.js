// The Moonwire notifications example: per-user notifications in the private room user-<id>, with the auth
// plugin's tokens, delivered over long-polling. Plain ES module; the client is the hub's own /moonwire.js.
//
// Query parameters: ?token=TOKEN signs in at once; ?transport=websocket|sse|longpoll (default longpoll).
import { Moonwire } from "/moonwire.js";

const params = new URLSearchParams(location.search);
const TRANSPORTS = ["websocket", "sse", "longpoll"];
const TRANSPORT = TRANSPORTS.includes(params.get("transport")) ? params.get("transport") : "longpoll";
const TOKEN_KEY = "moonwire-notifications:token";
const KEY_KEY = "moonwire-notifications:api-key";
const readKey = (user) => `moonwire-notifications:read:${user}`;
const HISTORY_SIZE = 200; // rooms.history_size in this example's moonwire.toml: notifications kept per user

const $ = (id) => document.getElementById(id);

function el(tag, { className, text, data, attrs } = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(data || {})) node.dataset[key] = value;
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

function compareIds(a, b) {
  try {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  } catch (_) {
    return String(a).localeCompare(String(b));
  }
}

const state = {
  hub: null,
  me: null,
  items: new Map(), // event_id -> notification event
  read: new Set(),
  loaded: false, // past the first answer: what arrives now is new
  fresh: new Set(), // ids that arrived while the page was open, highlighted once
  clock: null,
  connection: { state: "idle", deadline: null, reason: "", everOpen: false, lastLive: null },
};

// MARK: signing in

/** Who the token belongs to: the hub's `GET /whoami` authenticates it as it would a connection, so a refused
 * token comes back with the hub's reason. */
async function whoAmI(token) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 6000);
  try {
    const response = await fetch("/whoami", { headers: { Authorization: `Bearer ${token}` }, signal: controller.signal, cache: "no-store" });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body?.error?.message || `the hub answered ${response.status}`);
    if (typeof body?.user_id !== "string") throw new Error("the hub did not say who you are");
    return body.user_id;
  } catch (error) {
    if (error.name === "AbortError") throw new Error("the hub did not answer in time");
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function signIn(token) {
  token = token.trim();
  if (!token) return;
  const button = $("signin-button");
  button.disabled = true;
  button.textContent = "Signing in…";
  showSigninError("");
  let user;
  try {
    user = await whoAmI(token);
  } catch (error) {
    showSigninError(`Sign-in failed: ${error.message}`);
    button.disabled = false;
    button.textContent = "Sign in";
    $("token").focus();
    return;
  }
  button.disabled = false;
  button.textContent = "Sign in";
  sessionStorage.setItem(TOKEN_KEY, token);
  start(user, token);
}

function start(user, token) {
  state.me = user;
  state.items.clear();
  state.fresh.clear();
  state.loaded = false;
  try {
    state.read = new Set(JSON.parse(localStorage.getItem(readKey(user)) || "[]"));
  } catch (_) {
    state.read = new Set();
  }

  state.connection = { state: "idle", deadline: null, reason: "", everOpen: false, lastLive: null };
  const hub = new Moonwire({ token, rooms: [`user-${user}`], transport: TRANSPORT });
  state.hub = hub;
  hub.on("notification", onNotification);
  hub.on("status", onStatus);

  $("me").textContent = user;
  $("avatar").textContent = [...user][0]?.toUpperCase() || "?";
  if (!$("send-to").value) $("send-to").value = user;
  $("api-key").value = sessionStorage.getItem(KEY_KEY) || "";
  $("signin").hidden = true;
  $("app").hidden = false;
  render();
  clearInterval(state.clock);
  state.clock = setInterval(updateTimes, 30000);

  hub.connect().catch((error) => {
    if (error.code === "closed") return; // signed out meanwhile
    signOut();
    showSigninError(`Could not connect: ${error.message}`);
  });
}

function signOut() {
  const hub = state.hub;
  state.hub = null; // first: the "closed" status that close() reports is ours
  hub?.close();
  renderOffline();
  clearInterval(state.clock);
  sessionStorage.removeItem(TOKEN_KEY);
  $("app").hidden = true;
  $("signin").hidden = false;
  $("token").value = "";
  document.title = "Notifications · Moonwire";
  history.replaceState(null, "", location.pathname);
}

function showSigninError(text) {
  const node = $("signin-error");
  node.textContent = text;
  node.hidden = !text;
}

function onStatus(status) {
  const before = isOffline();
  if (state.connection.state === "open" && status.state !== "open") state.connection.lastLive = Date.now();
  state.connection.state = status.state;
  state.connection.reason = status.reason || (status.state === "reconnecting" ? state.connection.reason : "");
  state.connection.deadline = status.state === "reconnecting" && Number.isFinite(status.delay) ? performance.now() + status.delay : null;
  if (status.state === "open") state.connection.everOpen = true;

  const node = $("status");
  node.dataset.state = status.state;
  node.dataset.transport = status.transport || "";
  const label = node.querySelector(".label");
  if (status.state === "open") {
    label.textContent = `Live · ${status.transport}`;
    if (!state.loaded) {
      state.loaded = true;
      render();
    }
  } else if (status.state === "connecting") label.textContent = "Connecting…";
  else if (status.state === "reconnecting") label.textContent = "Offline";
  else if (status.state === "suspended") label.textContent = "Paused";
  else if (status.state === "closed") {
    label.textContent = "Disconnected";
    // Refused (a revoked token, a private room that is not ours): back to the sign-in form with the reason.
    if (status.reason && status.reason !== "closed by the client") {
      signOut();
      showSigninError(`Disconnected: ${status.reason}`);
    }
  }
  node.title = status.reason || "";

  const after = isOffline();
  if (after !== before) {
    $("announce").textContent = after
      ? "Connection lost. New notifications will appear when the page reconnects; reconnecting automatically."
      : "Back online.";
  }
  renderOffline();
}

// MARK: offline: a banner with the countdown, the list dimmed and marked with the time it was last live

/** The client's reason, with the browser's word for "no answer" said plainly. */
function friendly(reason) {
  return reason.replace(/\.$/, "").replace(/Failed to fetch|NetworkError[^:]*|Load failed/i, "the hub could not be reached");
}

function isOffline() {
  const { state: current, everOpen } = state.connection;
  return Boolean(state.hub) && (current === "reconnecting" || (current === "connecting" && everOpen));
}

function renderOffline() {
  const offline = isOffline();
  const banner = $("offline");
  const retry = $("retry");
  banner.hidden = !offline;
  banner.dataset.state = offline ? state.connection.state : "";
  $("inbox").dataset.stale = String(offline);
  const note = $("stale-note");
  const since = state.connection.lastLive ? clockTime(state.connection.lastLive) : null;
  note.hidden = !offline;
  note.textContent = since ? `As of ${since}` : "";
  if (!offline) {
    banner.dataset.seconds = "";
    retry.hidden = true;
    return;
  }
  let seconds = "0";
  let title = "Offline — reconnecting now…";
  if (state.connection.deadline != null) {
    const left = Math.max(0, Math.ceil((state.connection.deadline - performance.now()) / 1000));
    seconds = String(left);
    if (left > 0) title = `Offline — reconnecting in ${left} s`;
  }
  banner.dataset.seconds = seconds;
  $("offline-title").textContent = title;
  const parts = [];
  if (navigator.onLine === false) parts.push("This browser is offline.");
  else if (state.connection.reason) parts.push(`Last error: ${friendly(state.connection.reason)}.`);
  parts.push(since
    ? `This list is as of ${since}; notifications sent meanwhile appear when the page reconnects.`
    : "Notifications sent meanwhile appear when the page reconnects.");
  $("offline-detail").textContent = parts.join(" ");
  retry.hidden = !(state.hub && typeof state.hub.reconnectNow === "function") || seconds === "0";
}

function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

setInterval(() => {
  if (isOffline()) renderOffline();
}, 250);
addEventListener("online", renderOffline);
addEventListener("offline", renderOffline);

// MARK: notifications

function onNotification(event) {
  if (event.room_id !== `user-${state.me}`) return; // (the welcome is a notification too, without a room)
  if (state.items.has(event.event_id)) return;
  state.items.set(event.event_id, event);
  if (state.loaded) {
    // Arrived while the page was open: highlighted for a few seconds.
    state.fresh.add(event.event_id);
    setTimeout(() => {
      state.fresh.delete(event.event_id);
      render();
    }, 5000);
  }
  render();
}

function markRead(ids) {
  for (const id of ids) state.read.add(id);
  // Keep what is still shown (the room's history is bounded).
  const kept = [...state.read].filter((id) => state.items.has(id));
  localStorage.setItem(readKey(state.me), JSON.stringify(kept));
  render();
}

function timeAgo(seconds) {
  const delta = Date.now() / 1000 - seconds;
  if (delta < 45) return "just now";
  if (delta < 3600) return `${Math.round(delta / 60)} min ago`;
  if (delta < 86400) return `${Math.round(delta / 3600)} h ago`;
  return new Date(seconds * 1000).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

function updateTimes() {
  for (const node of document.querySelectorAll("#notifications time[data-at]")) {
    node.textContent = timeAgo(Number(node.dataset.at));
  }
}

function textOf(data, ...keys) {
  for (const key of keys) if (typeof data?.[key] === "string" && data[key].trim()) return data[key];
  return "";
}

function render() {
  const list = $("notifications");
  list.replaceChildren();
  const items = [...state.items.values()].sort((a, b) => compareIds(b.event_id, a.event_id)); // newest first
  const unread = items.filter((event) => !state.read.has(event.event_id)).length;

  const badge = $("unread");
  badge.textContent = String(unread);
  badge.dataset.count = String(unread);
  badge.classList.toggle("zero", unread === 0);
  $("mark-all").disabled = unread === 0;
  document.title = (unread ? `(${unread}) ` : "") + "Notifications · Moonwire";

  if (!items.length) {
    const empty = el("li", { className: "empty" },
      el("strong", { text: state.loaded ? "No notifications yet" : "Loading…" }));
    if (state.loaded) {
      empty.append(el("p", { text: "They appear here the moment they are sent. Try:" }),
        el("code", { text: `examples/notifications/notify.sh ${state.me} "Hello ${state.me}"` }));
    }
    list.append(empty);
    return;
  }

  for (const event of items) {
    const data = event.data && typeof event.data === "object" ? event.data : { body: String(event.data) };
    const read = state.read.has(event.event_id);
    const title = textOf(data, "title", "message", "text") || "Notification";
    const body = data.title ? textOf(data, "body", "message", "text") : textOf(data, "body");
    const item = el("li", {
      className: "notification" + (read ? "" : " unread") + (state.fresh.has(event.event_id) ? " fresh" : ""),
      data: { id: event.event_id, read: String(read) },
    });
    const content = el("div", { className: "content" },
      el("div", { className: "head" },
        el("strong", { className: "title", text: title }),
        el("time", { text: timeAgo(event.timestamp), data: { at: String(event.timestamp) },
          attrs: { datetime: new Date(event.timestamp * 1000).toISOString(), title: new Date(event.timestamp * 1000).toLocaleString() } })));
    if (body) content.append(el("p", { className: "body", text: body }));
    if (event.user_id && event.user_id !== "system") content.append(el("p", { className: "from", text: `from ${event.user_id}` }));
    item.append(el("span", { className: "marker", attrs: { "aria-hidden": "true" } }), content);
    if (!read) {
      const mark = el("button", { className: "mark-read", text: "Mark read", attrs: { type: "button" } });
      mark.addEventListener("click", (click) => {
        click.stopPropagation();
        markRead([event.event_id]);
      });
      item.append(mark);
      item.addEventListener("click", () => markRead([event.event_id]));
    }
    list.append(item);
  }
}

// MARK: sending (what a backend does, with the API key)

async function sendNotification(submit) {
  submit.preventDefault();
  const to = $("send-to").value.trim();
  const title = $("send-title").value.trim();
  const body = $("send-body").value.trim();
  const key = $("api-key").value.trim();
  const result = $("send-result");
  if (!to || !title || !key) return;
  sessionStorage.setItem(KEY_KEY, key);
  result.className = "send-result";
  result.dataset.recipients = "";
  result.textContent = "Sending…";
  const button = $("send-notification");
  button.disabled = true;
  try {
    const response = await fetch("/api/publish", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${key}` },
      body: JSON.stringify({ room: `user-${to}`, event_type: "notification", data: { title, body } }),
    });
    const answer = await response.json().catch(() => null);
    if (!response.ok) throw new Error(answer?.error?.message || `the hub answered ${response.status}`);
    showSent(to, answer);
    $("send-title").value = "";
    $("send-body").value = "";
  } catch (error) {
    result.classList.add("failed");
    result.dataset.recipients = "";
    result.textContent = `Not sent: ${error instanceof TypeError ? "the hub could not be reached" : error.message}.`.replace(/\.\.$/, ".");
  } finally {
    button.disabled = false;
  }
}

/** What the hub did with it: `recipients` (newer hubs) counts the connections in the room that got it live. */
function showSent(to, answer) {
  const result = $("send-result");
  const recipients = answer?.recipients;
  if (typeof recipients !== "number") {
    result.classList.add("ok");
    result.dataset.recipients = "";
    result.textContent = `Published to user-${to}.`;
  } else if (recipients > 0) {
    result.classList.add("ok");
    result.dataset.recipients = String(recipients);
    result.textContent = `Delivered to ${to} (${recipients} open connection${recipients === 1 ? "" : "s"}).`;
  } else {
    result.classList.add("kept");
    result.dataset.recipients = "0";
    result.textContent = `Nobody is signed in as ${to} right now. The notification is kept in their room’s history ` +
      `(the last ${HISTORY_SIZE} in this example) and shows when they sign in.`;
  }
}

// MARK: wiring

$("signin-form").addEventListener("submit", (submit) => {
  submit.preventDefault();
  signIn($("token").value);
});
for (const chip of document.querySelectorAll(".demo [data-token]")) {
  chip.addEventListener("click", () => {
    $("token").value = chip.dataset.token;
    signIn(chip.dataset.token);
  });
}
$("signout").addEventListener("click", signOut);
$("mark-all").addEventListener("click", () => markRead([...state.items.keys()]));
$("send-form").addEventListener("submit", sendNotification);
$("retry").addEventListener("click", () => state.hub?.reconnectNow?.());

const preset = params.get("token") || sessionStorage.getItem(TOKEN_KEY);
if (preset) {
  $("token").value = preset;
  signIn(preset);
} else {
  $("token").focus();
}

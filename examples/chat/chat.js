// The Moonwire chat example: rooms, presence, typing indicators, history on join and on demand, reactions,
// edits and deletes, an offline queue, moderation errors. Plain ES module, no build step; the client is the
// hub's own /moonwire.js.
//
// Query parameters (handy for tests and demos):
//   ?user=NAME                         join at once under that name
//   ?room=ROOM                         also join ROOM and open it
//   ?transport=websocket|sse|longpoll  force a transport (default: WebSocket, falling back to SSE, then long-poll)
import { Moonwire } from "/moonwire.js";

const params = new URLSearchParams(location.search);
const TRANSPORTS = ["websocket", "sse", "longpoll"];
const FORCED_TRANSPORT = TRANSPORTS.includes(params.get("transport")) ? params.get("transport") : "auto";
// Rooms the shipped plugins use for other things (dashboard stats, role-only and private rooms): not offered here.
const HIDDEN_ROOM = /^(dashboard|admin|staff-.*|user-.*)$/;
const ROOM_PATTERN = /^[A-Za-z0-9_.@/~+-]{1,64}$/;
const HISTORY = 50; // events replayed when joining a room (the hub's rooms.replay_on_join for WebSocket)
const MAX_LENGTH = 1000; // plugins.moderation.max_length in moonwire.toml: longer messages are refused
const COUNTER_FROM = 800; // the length counter shows from this many characters on
const REACTIONS = ["👍", "❤️", "😂", "🎉", "😮"];
const TYPING_RESEND_MS = 3000; // while typing, tell the room again at most this often
const TYPING_IDLE_MS = 4000; // stop "typing" after this long without a key press
const TYPING_SHOW_MS = 6000; // someone else's "typing" fades after this long without news
const GROUP_MS = 5 * 60 * 1000; // consecutive messages of one person within this are grouped
const PRESENCE_MERGE_MS = 2 * 60 * 1000; // joins and leaves this close together share one line
const NAME_KEY = "moonwire-chat:name"; // the last name used (localStorage: pre-fills the sign-in form)
const SESSION_KEY = "moonwire-chat:session"; // who is signed in, rooms, open room (sessionStorage: this tab)

const $ = (id) => document.getElementById(id);

/** Builds an element. Text is always set with textContent: user data never goes through innerHTML. */
function el(tag, { className, text, data, attrs } = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [key, value] of Object.entries(data || {})) node.dataset[key] = value;
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) if (child) node.append(child);
  return node;
}

function button(className, text, attrs = {}, onClick) {
  const node = el("button", { className, text, attrs: { type: "button", ...attrs } });
  if (onClick) node.addEventListener("click", onClick);
  return node;
}

// MARK: names, avatars, text

/** FNV-1a over the UTF-8 bytes, then a final mix so that names differing in one letter land far apart. */
function hash(text) {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function colorFor(name) {
  const h = hash(name);
  const hue = h % 360;
  const lightness = 0.5 + ((h >>> 9) % 11) / 100; // 0.50–0.60: white initials stay readable
  const chroma = 0.11 + ((h >>> 17) % 6) / 100; // 0.11–0.16
  return { hsl: `hsl(${hue} 55% ${40 + ((h >>> 9) % 11)}%)`, oklch: `oklch(${lightness} ${chroma} ${hue})` };
}

/** Two characters: the first letters of the first and last words ("Ada Lovelace": AL), else the first and
 * the last letter or digit ("flood4": F4, "alice": AE). */
function initials(name) {
  const words = name.trim().split(/[\s._\-@/~+]+|(?<=\p{Ll})(?=\p{Lu})/u).filter(Boolean);
  if (!words.length) return "?";
  const first = [...words[0]][0];
  let second;
  if (words.length > 1) second = [...words[words.length - 1]][0];
  else second = [...words[0]].slice(1).reverse().find((char) => /[\p{L}\p{N}]/u.test(char));
  return (first + (second || "")).toUpperCase();
}

function avatar(name, extraClass = "") {
  const node = el("span", { className: "avatar" + extraClass, text: initials(name), attrs: { "aria-hidden": "true" } });
  const color = colorFor(name);
  node.style.background = color.hsl;
  node.style.background = color.oklch; // kept only where oklch() is understood
  return node;
}

function timeOf(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function dayKey(seconds) {
  const date = new Date(seconds * 1000);
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

function dayLabel(seconds) {
  const date = new Date(seconds * 1000);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(seconds) === dayKey(today / 1000)) return "Today";
  if (dayKey(seconds) === dayKey(yesterday / 1000)) return "Yesterday";
  const options = { weekday: "long", month: "long", day: "numeric" };
  if (date.getFullYear() !== today.getFullYear()) options.year = "numeric";
  return date.toLocaleDateString([], options);
}

function compareIds(a, b) {
  try {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  } catch (_) {
    return 0;
  }
}

function isStoredId(id) {
  return typeof id === "string" && /^[0-9]{1,18}$/.test(id);
}

function lengthOf(text) {
  return [...text].length; // characters (code points), as the moderation plugin counts them
}

function newNonce() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function names(list) {
  if (list.length <= 3) return list.length === 1 ? list[0] : list.slice(0, -1).join(", ") + " and " + list[list.length - 1];
  return `${list.slice(0, 2).join(", ")} and ${list.length - 2} others`;
}

const LINK = /\bhttps?:\/\/[^\s<>"'`]+/gi;

/** Appends `text` to `node`, http(s) links as <a> elements, everything else as text nodes. */
function appendLinkified(node, text) {
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    let url = match[0];
    // Trailing punctuation belongs to the sentence, and a closing bracket only when it has no opening one.
    while (/[.,;:!?'")\]}>]$/.test(url)) {
      const end = url[url.length - 1];
      const open = { ")": "(", "]": "[", "}": "{" }[end];
      if (open && url.split(open).length > url.split(end).length - 1) break;
      url = url.slice(0, -1);
    }
    let href;
    try {
      href = new URL(url);
    } catch (_) {
      continue;
    }
    if (href.protocol !== "http:" && href.protocol !== "https:") continue;
    if (match.index > last) node.append(text.slice(last, match.index));
    node.append(el("a", { text: url, attrs: { href: href.href, target: "_blank", rel: "noopener noreferrer nofollow" } }));
    last = match.index + url.length;
  }
  if (last < text.length) node.append(text.slice(last));
}

// MARK: state

const state = {
  hub: null,
  me: null,
  current: null,
  joined: [], // rooms followed, in the order they were joined
  known: new Set(), // rooms the hub told us about (welcome, room_opened) or that we joined once
  rooms: new Map(), // joined room -> room state (see roomState)
  online: false,
  everOpen: false,
  retryAt: null,
  countdownTimer: null,
  typing: { active: false, room: null, lastSent: 0, idleTimer: null },
  editing: null, // { room, target } while the composer edits a message
  presenceTimer: null,
  noticeTimer: null,
  activeMessage: null, // the event id of the message that takes the tab stop in the list
};

function roomState(name) {
  if (!state.rooms.has(name)) {
    state.rooms.set(name, {
      items: [], // the timeline: { kind: "message", event } | { kind: "presence", joined, left, time } | { kind: "gap", ... }
      byId: new Map(), // event id -> message item
      nonces: new Set(), // user + nonce of the messages shown: a message sent twice is shown once
      reactions: new Map(), // target id -> emoji -> { countId, count, myId, mine }
      edits: new Map(), // target id -> { id, message, user }
      deletes: new Map(), // target id -> { id, user }
      localEdits: new Map(), // target id -> { nonce, message }: sent, not confirmed yet
      localDeletes: new Map(), // target id -> nonce
      pending: [], // { nonce, text, time }: sent (or queued), not confirmed yet
      unread: 0,
      presence: new Map(),
      presenceAt: null, // when the presence list was last known to be current
      typing: new Map(),
      since: Date.now(), // only messages after this count as unread
      storedCount: 0,
      oldestId: null, // the oldest stored event seen: where "Load older messages" continues
      hasMore: null, // more history before oldestId: unknown (null), true, false
      loadingOlder: false,
    });
  }
  return state.rooms.get(name);
}

function saveSession() {
  try {
    if (!state.me) sessionStorage.removeItem(SESSION_KEY);
    else sessionStorage.setItem(SESSION_KEY, JSON.stringify({ user: state.me, rooms: state.joined, current: state.current }));
  } catch (_) {
    // storage off (private mode, quota): a reload asks again
  }
}

function readSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    if (saved && typeof saved.user === "string" && Array.isArray(saved.rooms)) return saved;
  } catch (_) {}
  return null;
}

// MARK: connecting

function start(name) {
  state.me = name;
  try {
    localStorage.setItem(NAME_KEY, name);
  } catch (_) {}
  const saved = readSession();
  const restored = saved && saved.user === name;
  const wanted = params.get("room");
  const first = wanted && ROOM_PATTERN.test(wanted) ? wanted : null;
  state.joined = restored ? saved.rooms.filter((room) => typeof room === "string" && ROOM_PATTERN.test(room)) : ["general"];
  if (first && !state.joined.includes(first)) state.joined.push(first);
  state.current = first || (restored && state.joined.includes(saved.current) ? saved.current : state.joined[0] || null);
  state.known = new Set(state.joined);
  state.rooms.clear();
  saveSession();

  const hub = new Moonwire({ userId: name, rooms: [...state.joined], transport: FORCED_TRANSPORT, replay: HISTORY });
  state.hub = hub;
  hub.on("status", onStatus);
  hub.on("*", onEvent);
  hub.on("gap", onGap);
  hub.on("error", onHubError);

  $("signin").hidden = true;
  $("chat").hidden = false;
  $("me").textContent = name;
  $("me").title = name;
  renderAll();
  $("text").focus();

  hub.connect().catch((error) => {
    if (error.code !== "closed") showNotice(`Could not connect: ${error.message}`, error.code); // not: signed out meanwhile
  });
}

function signOut() {
  state.hub?.close(); // over long-poll this ends the session on the hub at once: others see you leave
  clearInterval(state.presenceTimer);
  clearInterval(state.countdownTimer);
  stopEditing();
  state.hub = null;
  state.me = null;
  state.rooms.clear();
  state.known.clear();
  state.joined = [];
  state.current = null;
  state.online = state.everOpen = false;
  saveSession();
  $("offline").hidden = true;
  $("chat").hidden = true;
  $("signin").hidden = false;
  $("text").value = "";
  history.replaceState(null, "", location.pathname);
  $("name").focus();
}

function onStatus(status) {
  const node = $("status");
  node.dataset.state = status.state;
  node.dataset.transport = status.transport || "";
  const label = node.querySelector(".label");
  node.querySelector(".via").textContent = status.state === "open" ? `· ${status.transport}` : "";
  const wasOnline = state.online;
  state.online = status.state === "open";
  $("chat").dataset.online = String(state.online);
  clearInterval(state.countdownTimer);
  if (status.state === "open") {
    state.everOpen = true;
    label.textContent = "Live";
    node.title = `Connected over ${status.transport}`;
    // (Re)connected: ask who is here, and over long-poll (which carries no presence events) keep asking.
    for (const room of state.joined) refreshPresence(room);
    clearInterval(state.presenceTimer);
    if (status.transport === "longpoll") state.presenceTimer = setInterval(() => state.current && refreshPresence(state.current), 10000);
    if ($("notice").dataset.kind === "connection") hideNotice(); // a disconnect notice is over
    $("offline").hidden = true;
  } else {
    clearInterval(state.presenceTimer);
    if (status.state === "connecting") {
      label.textContent = "Connecting…";
      if (!$("offline").hidden) {
        state.retryAt = null;
        showOffline("reconnecting");
      }
    } else if (status.state === "reconnecting") {
      // A wait before the next attempt (the connection is lost): say so. An attempt that starts at once
      // (the page is back from the back/forward cache) shows no banner unless one is up already.
      const waiting = !!status.delay;
      label.textContent = waiting || !$("offline").hidden ? "Offline" : "Reconnecting…";
      node.title = status.reason || "";
      state.retryAt = waiting ? status.retryAt || Date.now() + status.delay : null;
      if (waiting || !$("offline").hidden) showOffline("reconnecting", status.reason);
      if (state.retryAt) state.countdownTimer = setInterval(renderOffline, 1000);
    } else if (status.state === "suspended") {
      label.textContent = "Paused";
    } else if (status.state === "closed") {
      label.textContent = "Disconnected";
      node.title = status.reason || "";
      if (status.reason && status.reason !== "closed by the client") {
        showOffline("closed", status.reason);
        showNotice(`Disconnected: ${status.reason}`, status.code, "connection");
      }
    }
  }
  if (wasOnline !== state.online) {
    renderPresence();
    renderTitle();
  }
}

// MARK: the offline banner

function showOffline(kind, reason) {
  const banner = $("offline");
  banner.dataset.state = kind;
  banner.dataset.reason = reason || "";
  banner.hidden = false;
  renderOffline();
}

function renderOffline() {
  const banner = $("offline");
  if (banner.hidden) return;
  const kind = banner.dataset.state;
  const waiting = state.hub ? state.hub.queued().filter((item) => item.type === "message").length : 0;
  if (kind === "closed") {
    banner.dataset.seconds = "";
    $("offline-title").textContent = "Disconnected";
    $("offline-detail").textContent = banner.dataset.reason ? ` — ${banner.dataset.reason}` : "";
    $("retry").textContent = "Reconnect";
  } else {
    const seconds = state.retryAt ? Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000)) : 0;
    banner.dataset.seconds = String(seconds);
    $("offline-title").textContent = "Offline";
    $("offline-detail").textContent = seconds > 0 ? ` — reconnecting in ${seconds} s` : " — reconnecting…";
    $("retry").textContent = "Retry now";
    $("retry").disabled = seconds === 0;
  }
  if (kind === "closed") $("retry").disabled = false;
  $("offline-queue").hidden = !waiting;
  $("offline-queue").textContent = waiting === 1 ? "1 message will be sent when you are back" : `${waiting} messages will be sent when you are back`;
}

function retryNow() {
  const hub = state.hub;
  if (!hub) return;
  if ($("offline").dataset.state === "closed") {
    hub.connect().catch((error) => {
      if (error.code !== "closed") showNotice(`Could not connect: ${error.message}`, error.code);
    });
  } else if (hub.reconnectNow()) {
    state.retryAt = null;
    renderOffline();
  }
}

// MARK: rooms

async function joinRoom(name) {
  name = name.trim().replace(/^#/, "");
  if (!name) return;
  if (!ROOM_PATTERN.test(name)) {
    showNotice("A room name may only hold letters, digits and _ - . @ / ~ + (at most 64).", "invalid_room");
    return;
  }
  if (state.joined.includes(name)) {
    switchTo(name);
    return;
  }
  // Shown at once; the history the hub replays on the join fills it in (our own messages included).
  state.joined.push(name);
  switchTo(name, false); // who is here: asked once the hub has us in the room
  try {
    await state.hub.join(name);
    state.known.add(name);
    refreshPresence(name);
  } catch (error) {
    // Refused (e.g. the private_rooms plugin: `admin`, `staff-*`, other people's `user-*` rooms), with the
    // hub's reason; moonwire.js does not follow the room.
    if (!state.joined.includes(name)) return; // left meanwhile
    forgetRoom(name);
    showNotice(`Could not join #${name}: ${error.message}`, error.code);
    if (state.current === name) switchTo(state.joined[0] || null);
    else renderRooms();
  }
}

function forgetRoom(name) {
  state.joined = state.joined.filter((r) => r !== name);
  state.rooms.get(name)?.typing.forEach((timer) => clearTimeout(timer));
  state.rooms.delete(name);
  if (state.editing?.room === name) stopEditing();
  saveSession();
}

async function leaveRoom(name) {
  forgetRoom(name); // a later rejoin starts afresh from the hub's replay
  if (state.current === name) switchTo(state.joined[0] || null);
  else renderRooms();
  try {
    await state.hub.leave(name);
  } catch (error) {
    showNotice(`Could not leave #${name}: ${error.message}`, error.code);
  }
}

function switchTo(name, askPresence = true) {
  if (state.typing.active) stopTyping();
  if (state.editing && state.editing.room !== name) stopEditing();
  state.current = name;
  state.activeMessage = null;
  if (name) roomState(name).unread = 0;
  saveSession();
  renderAll();
  if (name && askPresence && state.online) refreshPresence(name);
}

async function refreshPresence(name) {
  if (!state.hub || !state.joined.includes(name)) return;
  let users;
  try {
    users = await state.hub.presence(name);
  } catch (_) {
    return; // e.g. the connection dropped: asked again when it is back
  }
  if (!state.joined.includes(name)) return;
  const room = roomState(name);
  room.presence = new Map(users.map((user) => [user.user_id, user]));
  if (state.online) room.presence.set(state.me, room.presence.get(state.me) || { user_id: state.me });
  room.presenceAt = Date.now();
  if (name === state.current) renderPresence();
}

// MARK: incoming events

function onEvent(event) {
  switch (event.event_type) {
    case "message": return ingest(event);
    case "reaction": return ingest(event);
    case "edit": return ingest(event);
    case "delete": return ingest(event);
    case "typing": return onTyping(event);
    case "user_joined": return onUserJoined(event);
    case "user_left": return onUserLeft(event);
    case "presence_diff": return onPresenceDiff(event);
    case "notification": return onNotification(event);
    case "room_opened": return onRoomOpened(event);
  }
}

/** A stored event of a room (live, replayed, or from "Load older messages"). */
function ingest(event, { older = false } = {}) {
  const name = event.room_id;
  if (!name || !state.joined.includes(name)) return;
  const room = roomState(name);
  if (isStoredId(event.event_id)) {
    room.storedCount += 1;
    if (!room.oldestId || compareIds(event.event_id, room.oldestId) < 0) room.oldestId = event.event_id;
  }
  if (event.event_type === "message") addMessage(name, room, event, older);
  else if (event.event_type === "reaction") applyReaction(name, room, event);
  else if (event.event_type === "edit") applyEdit(name, room, event);
  else if (event.event_type === "delete") applyDelete(name, room, event);
}

function messageText(event) {
  const data = event.data || {};
  return typeof data.message === "string" ? data.message : typeof data.content === "string" ? data.content : JSON.stringify(data);
}

function addMessage(name, room, event, older) {
  const id = event.event_id;
  if (room.byId.has(id)) return;
  const nonce = typeof event.data?.nonce === "string" ? event.data.nonce : null;
  const nonceKey = nonce && `${event.user_id}\n${nonce}`;
  // Ours, confirmed: the pending copy goes.
  if (nonce && event.user_id === state.me) {
    const index = room.pending.findIndex((pending) => pending.nonce === nonce);
    if (index >= 0) {
      room.pending.splice(index, 1);
      if (name === state.current) document.querySelector(`#messages .pending[data-nonce="${CSS.escape(nonce)}"]`)?.remove();
    }
  }
  if (nonceKey && room.nonces.has(nonceKey)) return; // the same message sent twice (a retry the hub had stored)
  if (nonceKey) room.nonces.add(nonceKey);
  const item = { kind: "message", event };
  room.byId.set(id, item);
  // Messages are kept in id order; other lines (joins, gaps) stay where they were put.
  let index;
  if (older) {
    index = room.items.findIndex((other) => other.kind === "message" && compareIds(other.event.event_id, id) > 0);
    if (index < 0) index = room.items.length;
  } else {
    index = room.items.length;
    while (index > 0 && room.items[index - 1].kind === "message" && compareIds(room.items[index - 1].event.event_id, id) > 0) index -= 1;
  }
  const atEnd = index === room.items.length;
  room.items.splice(index, 0, item);
  if (event.user_id !== state.me) clearTyping(room, event.user_id);
  if (name === state.current) {
    if (older) return; // rendered once the whole page of history is in
    if (atEnd) appendItem(room, index);
    else renderMessages({ keep: true });
    renderTyping();
  } else if (!event.local && !older && event.user_id !== state.me && event.timestamp * 1000 > room.since) {
    // Only what arrived after we joined counts as unread, not the history replayed on join.
    room.unread += 1;
    renderRooms();
  }
}

function applyReaction(name, room, event) {
  const target = event.data?.target;
  const emoji = event.data?.emoji;
  if (typeof target !== "string" || typeof emoji !== "string") return;
  if (!room.reactions.has(target)) room.reactions.set(target, new Map());
  const perEmoji = room.reactions.get(target);
  const entry = perEmoji.get(emoji) || { countId: null, hubCount: 0, users: new Map(), count: 0, mine: false };
  const id = event.event_id;
  // Each user's latest reaction says whether they have it on; the latest event's count is the hub's
  // tally since it started. Both can fall short (the tally restarts with the hub, the events loaded may
  // not reach back to the first reactions): the count shown is the larger.
  const before = entry.users.get(event.user_id);
  if (!before || compareIds(id, before.id) > 0) entry.users.set(event.user_id, { id, on: !event.data.removed });
  if (!entry.countId || compareIds(id, entry.countId) > 0) {
    entry.countId = id;
    if (typeof event.data.count === "number") entry.hubCount = event.data.count;
  }
  const on = [...entry.users.values()].filter((user) => user.on).length;
  entry.count = Math.max(on, entry.hubCount);
  entry.mine = entry.users.get(state.me)?.on === true;
  perEmoji.set(emoji, entry);
  refreshMessage(name, target);
}

function applyEdit(name, room, event) {
  const target = event.data?.target;
  if (typeof target !== "string" || typeof event.data.message !== "string") return;
  const known = room.edits.get(target);
  if (!known || compareIds(event.event_id, known.id) > 0) {
    room.edits.set(target, { id: event.event_id, message: event.data.message, user: event.user_id, time: event.timestamp });
  }
  if (room.localEdits.get(target)?.nonce === event.data.nonce) room.localEdits.delete(target);
  refreshMessage(name, target);
}

function applyDelete(name, room, event) {
  const target = event.data?.target;
  if (typeof target !== "string") return;
  if (!room.deletes.has(target)) room.deletes.set(target, { id: event.event_id, user: event.user_id });
  room.localDeletes.delete(target);
  if (state.editing?.target === target) stopEditing();
  refreshMessage(name, target);
}

function onTyping(event) {
  const name = event.room_id;
  if (!name || event.user_id === state.me || !state.joined.includes(name)) return;
  const room = roomState(name);
  clearTyping(room, event.user_id);
  if (event.data?.is_typing) {
    room.typing.set(event.user_id, setTimeout(() => {
      room.typing.delete(event.user_id);
      if (name === state.current) renderTyping();
    }, TYPING_SHOW_MS));
  }
  if (name === state.current) renderTyping();
}

function clearTyping(room, user) {
  clearTimeout(room.typing.get(user));
  room.typing.delete(user);
}

function onUserJoined(event) {
  const name = event.room_id;
  const user = event.data?.user_id || event.user_id;
  if (!name || !user || !state.joined.includes(name)) return;
  const room = roomState(name);
  if (user !== state.me) {
    if (!room.presence.has(user)) note(name, room, "joined", user);
    room.presence.set(user, room.presence.get(user) || { user_id: user });
    room.presenceAt = Date.now();
  }
  if (name === state.current) renderPresence();
}

function onUserLeft(event) {
  const name = event.room_id;
  const user = event.data?.user_id || event.user_id;
  if (!name || !user || user === state.me || !state.joined.includes(name)) return;
  const room = roomState(name);
  if (room.presence.has(user)) note(name, room, "left", user);
  room.presence.delete(user);
  room.presenceAt = Date.now();
  clearTyping(room, user);
  if (name === state.current) {
    renderPresence();
    renderTyping();
  }
}

// A large room's joins and leaves come batched; when the lists were cut, ask for the room's presence.
function onPresenceDiff(event) {
  const name = event.room_id;
  if (!name || !state.joined.includes(name)) return;
  const room = roomState(name);
  for (const user of event.data?.joins || []) {
    if (user === state.me) continue;
    if (!room.presence.has(user)) note(name, room, "joined", user);
    room.presence.set(user, room.presence.get(user) || { user_id: user });
  }
  for (const user of event.data?.leaves || []) {
    if (user === state.me) continue;
    if (room.presence.has(user)) note(name, room, "left", user);
    room.presence.delete(user);
    clearTyping(room, user);
  }
  room.presenceAt = Date.now();
  if (event.data?.truncated) refreshPresence(name);
  else if (name === state.current) {
    renderPresence();
    renderTyping();
  }
}

/** "alice joined" / "bob left" in the conversation; joins and leaves in a row share one line, and someone
 * who leaves and comes back (a reload) is not mentioned at all. */
function note(name, room, kind, user) {
  const now = Date.now();
  const last = room.items[room.items.length - 1];
  let item = last && last.kind === "presence" && now - last.time < PRESENCE_MERGE_MS ? last : null;
  const fresh = !item;
  if (!item) item = { kind: "presence", joined: [], left: [], time: now };
  const other = kind === "joined" ? item.left : item.joined;
  if (other.includes(user)) other.splice(other.indexOf(user), 1);
  else if (!item[kind].includes(user)) item[kind].push(user);
  item.time = now;
  const empty = !item.joined.length && !item.left.length;
  if (fresh && !empty) room.items.push(item);
  if (!fresh && empty) room.items.pop();
  if (name !== state.current) return;
  const list = $("messages");
  const node = lastTimelineNode(list);
  if (!fresh && node?.classList.contains("presence")) {
    if (empty) node.remove();
    else node.replaceWith(presenceNode(item));
  } else if (fresh && !empty) {
    appendItem(room, room.items.length - 1);
  }
}

function onNotification(event) {
  // The welcome lists the rooms that exist on the hub.
  if (event.room_id || !Array.isArray(event.data?.rooms)) return;
  for (const name of event.data.rooms) if (typeof name === "string") state.known.add(name);
  renderRooms();
}

// A plugin tells every connection when a public room is first used.
function onRoomOpened(event) {
  const name = event.data?.room;
  if (typeof name !== "string" || !ROOM_PATTERN.test(name) || state.known.has(name)) return;
  state.known.add(name);
  renderRooms();
}

function onGap(gap) {
  const name = gap.room;
  if (!name || !state.joined.includes(name) || !state.hub) return;
  // During the first replay of a room (no position in it yet) a gap says nothing the user could miss.
  if (!state.hub.cursor(name)) return;
  const room = roomState(name);
  const item = { kind: "gap", time: Date.now(), skipped: gap.skipped ?? null, firstReplayed: gap.first_replayed_id ?? null };
  if (typeof gap.skipped === "number") {
    item.text = gap.skipped === 1
      ? "1 message sent while you were away was not replayed."
      : `${gap.skipped} messages sent while you were away were not replayed.`;
  } else if (isStoredId(gap.oldest_retained_id)) {
    // Ids are publish times in microseconds: what the hub still has starts then.
    const seconds = Number(gap.oldest_retained_id) / 1e6;
    const since = dayKey(seconds) === dayKey(Date.now() / 1000) ? timeOf(seconds) : new Date(seconds * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
    item.text = `Messages sent while you were away before ${since} may be missing: the hub no longer has them.`;
  } else {
    item.text = "The hub has no history from while you were away (it may have restarted): messages sent meanwhile, if any, cannot be shown.";
  }
  room.items.push(item);
  if (name === state.current) appendItem(room, room.items.length - 1);
}

function onHubError(event) {
  const code = event.data?.code;
  const name = event.room_id;
  // A room of the saved set that the hub refuses now: drop it.
  if (name && state.joined.includes(name) && ["join_refused", "invalid_room", "room_limit"].includes(code)) {
    forgetRoom(name);
    state.hub?.leave(name).catch(() => {});
    if (state.current === name) switchTo(state.joined[0] || null);
    else renderRooms();
    showNotice(`Could not join #${name}: ${event.data?.message || code}`, code);
    return;
  }
  showNotice(event.data?.message || "the hub reported an error", code);
}

// MARK: history

async function loadOlder(name) {
  const room = roomState(name);
  if (room.loadingOlder || !room.oldestId || !state.hub) return;
  room.loadingOlder = true;
  if (name === state.current) renderLoadOlder(room);
  try {
    const answer = await state.hub.history(name, { before: room.oldestId, limit: HISTORY });
    if (!state.joined.includes(name)) return;
    room.hasMore = !!answer?.has_more;
    for (const event of answer?.events || []) ingest({ ...event, room_id: event.room_id || name }, { older: true });
    // The next page starts where the hub stopped reading, even when its filters withheld every event of this one.
    if (answer?.next_before && (!room.oldestId || compareIds(answer.next_before, room.oldestId) < 0)) room.oldestId = answer.next_before;
  } catch (error) {
    if (error.details?.status === 404) {
      room.hasMore = false;
      showNotice("This hub keeps no older messages for the page to load.", error.code);
    } else {
      showNotice(`Could not load older messages: ${error.message}`, error.code);
    }
  } finally {
    room.loadingOlder = false;
    if (name === state.current) renderMessages({ anchorTop: true });
  }
}

/** A gap of replayed events that did not fit: they are still kept, so fetch them. */
async function loadMissed(name, item) {
  if (!state.hub || item.loading || !item.firstReplayed) return;
  item.loading = true;
  try {
    const answer = await state.hub.history(name, { before: item.firstReplayed, limit: Math.min(item.skipped || HISTORY, 100) });
    const room = roomState(name);
    for (const event of answer?.events || []) ingest({ ...event, room_id: event.room_id || name }, { older: true });
    room.items.splice(room.items.indexOf(item), 1);
  } catch (error) {
    showNotice(`Could not load the missed messages: ${error.message}`, error.code);
  } finally {
    item.loading = false;
    if (name === state.current) renderMessages({ keep: true });
  }
}

function canLoadOlder(room) {
  if (!room.oldestId) return false;
  if (room.hasMore !== null) return room.hasMore;
  return room.storedCount >= HISTORY; // a join replays up to HISTORY events: fewer means that was all
}

// MARK: sending

async function send(event) {
  event.preventDefault();
  const input = $("text");
  const text = input.value.trim();
  const name = state.current;
  if (!name || !state.hub) return;
  if (state.editing) {
    saveEdit(text);
    return;
  }
  if (!text) return;
  const length = lengthOf(text);
  if (length > MAX_LENGTH) {
    showNotice(`Not sent: your message is ${length} characters long; the limit is ${MAX_LENGTH}. Shorten it by ${length - MAX_LENGTH}.`, "too_long");
    renderCounter();
    input.focus();
    return;
  }
  input.value = "";
  growComposer();
  renderCounter();
  stopTyping(false);
  const room = roomState(name);
  const nonce = newNonce();
  const pending = { nonce, text, time: Date.now() / 1000 };
  room.pending.push(pending);
  if (name === state.current) appendPending(pending);
  renderOffline();
  try {
    // Queued: sent now when connected, else once the connection is back, in order and once.
    await state.hub.publish(name, "message", { message: text, nonce }, { queue: true });
  } catch (error) {
    // e.g. the moderation plugin: "message contains a banned word", or a rate limit.
    if (error.code !== "closed") showNotice(`Not sent: ${error.message}`, error.code);
    if (!input.value && state.current === name && !state.editing) {
      input.value = text;
      growComposer();
      renderCounter();
    }
  } finally {
    dropPending(name, nonce);
    renderOffline();
  }
}

function dropPending(name, nonce) {
  const room = state.rooms.get(name);
  if (!room) return;
  const index = room.pending.findIndex((pending) => pending.nonce === nonce);
  if (index < 0) return;
  room.pending.splice(index, 1);
  if (name === state.current) document.querySelector(`#messages .pending[data-nonce="${CSS.escape(nonce)}"]`)?.remove();
}

async function react(name, target, emoji) {
  if (!state.online) {
    showNotice("Reactions need a connection: try again once you are back online.", "not_connected");
    return;
  }
  try {
    // Say which way: after a hub restart its own record of who reacted is gone, the events are not.
    const mine = roomState(name).reactions.get(target)?.get(emoji)?.mine === true;
    await state.hub.publish(name, "reaction", { target, emoji, remove: mine });
  } catch (error) {
    showNotice(`Reaction not sent: ${error.message}`, error.code);
  }
}

function startEditing(name, target) {
  const room = roomState(name);
  const item = room.byId.get(target);
  if (!item || item.event.user_id !== state.me || isDeleted(room, target)) return;
  state.editing = { room: name, target };
  const input = $("text");
  input.value = currentText(room, item.event);
  $("editing").hidden = false;
  $("composer").classList.add("is-editing");
  $("send").textContent = "Save";
  growComposer();
  renderCounter();
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
  document.querySelectorAll("#messages .message.editing").forEach((node) => node.classList.remove("editing"));
  document.querySelector(`#messages .message[data-id="${target}"]`)?.classList.add("editing");
}

function stopEditing(clear = true) {
  if (!state.editing) return;
  state.editing = null;
  $("editing").hidden = true;
  $("composer").classList.remove("is-editing");
  $("send").textContent = "Send";
  document.querySelectorAll("#messages .message.editing").forEach((node) => node.classList.remove("editing"));
  if (clear) {
    $("text").value = "";
    growComposer();
    renderCounter();
  }
}

async function saveEdit(text) {
  const { room: name, target } = state.editing;
  const room = roomState(name);
  const item = room.byId.get(target);
  if (!text || !item || text === currentText(room, item.event)) {
    stopEditing();
    return;
  }
  const length = lengthOf(text);
  if (length > MAX_LENGTH) {
    showNotice(`Not saved: the message is ${length} characters long; the limit is ${MAX_LENGTH}. Shorten it by ${length - MAX_LENGTH}.`, "too_long");
    return;
  }
  stopEditing();
  const nonce = newNonce();
  room.localEdits.set(target, { nonce, message: text });
  refreshMessage(name, target);
  try {
    await state.hub.publish(name, "edit", { target, message: text, nonce }, { queue: true });
  } catch (error) {
    if (error.code !== "closed") showNotice(`Not edited: ${error.message}`, error.code);
  } finally {
    if (room.localEdits.get(target)?.nonce === nonce) room.localEdits.delete(target);
    refreshMessage(name, target);
  }
}

async function deleteMessage(name, target) {
  const room = roomState(name);
  const nonce = newNonce();
  room.localDeletes.set(target, nonce);
  if (state.editing?.target === target) stopEditing();
  refreshMessage(name, target);
  try {
    await state.hub.publish(name, "delete", { target, nonce }, { queue: true });
  } catch (error) {
    if (error.code !== "closed") showNotice(`Not deleted: ${error.message}`, error.code);
  } finally {
    if (room.localDeletes.get(target) === nonce) room.localDeletes.delete(target);
    refreshMessage(name, target);
  }
}

function lastOwnMessage(name) {
  const room = roomState(name);
  for (let i = room.items.length - 1; i >= 0; i -= 1) {
    const item = room.items[i];
    if (item.kind === "message" && item.event.user_id === state.me && !isDeleted(room, item.event.event_id)) return item.event.event_id;
  }
  return null;
}

function onInput() {
  growComposer();
  renderCounter();
  if (state.editing) return;
  const value = $("text").value;
  const typing = state.typing;
  clearTimeout(typing.idleTimer);
  if (!value.trim()) {
    stopTyping();
    return;
  }
  if (!state.online) return;
  const now = Date.now();
  if (!typing.active || typing.room !== state.current || now - typing.lastSent > TYPING_RESEND_MS) {
    if (typing.active && typing.room !== state.current) stopTyping();
    typing.active = true;
    typing.room = state.current;
    typing.lastSent = now;
    state.hub?.typing(state.current, true);
  }
  typing.idleTimer = setTimeout(() => stopTyping(), TYPING_IDLE_MS);
}

function onComposerKey(event) {
  if (event.isComposing || event.keyCode === 229) return; // an input method is composing
  const input = $("text");
  if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  } else if (event.key === "Escape" && state.editing) {
    event.preventDefault();
    stopEditing();
  } else if (event.key === "ArrowUp" && !input.value && !state.editing && state.current) {
    const target = lastOwnMessage(state.current);
    if (target) {
      event.preventDefault();
      startEditing(state.current, target);
    }
  }
}

/** The message box grows with its text (up to a third of the window) and shrinks back when sent. */
function growComposer() {
  const input = $("text");
  input.style.height = "";
  input.style.overflowY = "";
  if (!input.value) return; // one line (a long placeholder would make it taller)
  const most = Math.round(window.innerHeight * 0.35);
  input.style.height = Math.min(input.scrollHeight + 2, most) + "px";
  if (input.scrollHeight + 2 > most) input.style.overflowY = "auto";
}

function renderCounter() {
  const counter = $("counter");
  const length = lengthOf($("text").value.trim());
  counter.hidden = length < COUNTER_FROM;
  counter.dataset.state = length > MAX_LENGTH ? "over" : length >= COUNTER_FROM ? "near" : "";
  counter.textContent = `${length} / ${MAX_LENGTH}`;
  counter.title = length > MAX_LENGTH ? `${length - MAX_LENGTH} characters over the limit` : `${MAX_LENGTH - length} characters left`;
  $("composer").classList.toggle("over", length > MAX_LENGTH);
}

/** Stops our typing indicator; `tell` false when a message is about to clear it anyway. */
function stopTyping(tell = true) {
  const typing = state.typing;
  clearTimeout(typing.idleTimer);
  if (typing.active && tell && typing.room && state.joined.includes(typing.room) && state.online) state.hub?.typing(typing.room, false);
  typing.active = false;
  typing.lastSent = 0;
}

// MARK: notices

function showNotice(text, code, kind = "error") {
  const node = $("notice");
  node.textContent = text;
  node.dataset.code = code || "";
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(state.noticeTimer);
  state.noticeTimer = setTimeout(hideNotice, 8000);
}

function hideNotice() {
  $("notice").hidden = true;
}

// MARK: rendering

function renderAll() {
  renderRooms();
  renderTitle();
  renderMessages();
  renderPresence();
  renderTyping();
  renderCounter();
}

function renderTitle() {
  const name = state.current;
  $("room-title").textContent = name || "no room";
  $("room-title").title = name || "";
  $("text").placeholder = name ? `Message #${name}` : "Join a room to chat";
  $("text").disabled = $("send").disabled = !name;
  const unread = [...state.rooms.values()].reduce((sum, room) => sum + room.unread, 0);
  document.title = (unread ? `(${unread}) ` : "") + (name ? `#${name} · Moonwire chat` : "Moonwire chat");
}

function renderRooms() {
  const list = $("rooms");
  list.replaceChildren();
  for (const name of state.joined) {
    const room = roomState(name);
    const current = name === state.current;
    const item = el("li", { className: "room" + (current ? " current" : ""), data: { room: name, joined: "true" } });
    const open = el("button", { className: "room-name", attrs: { type: "button", title: `#${name}` } },
      el("span", { className: "hash", text: "#", attrs: { "aria-hidden": "true" } }), el("span", { className: "label", text: name, attrs: { dir: "auto" } }));
    if (current) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => switchTo(name));
    item.append(open);
    if (room.unread) item.append(el("span", { className: "unread", text: String(room.unread), attrs: { title: `${room.unread} unread` } }));
    item.append(button("leave", "×", { title: `Leave #${name}`, "aria-label": `Leave #${name}` }, () => leaveRoom(name)));
    list.append(item);
  }
  const others = [...state.known].filter((name) => !state.joined.includes(name) && !HIDDEN_ROOM.test(name)).sort();
  for (const name of others) {
    const item = el("li", { className: "room other", data: { room: name, joined: "false" } });
    const join = el("button", { className: "room-name", attrs: { type: "button", title: `Join #${name}` } },
      el("span", { className: "hash", text: "+", attrs: { "aria-hidden": "true" } }), el("span", { className: "label", text: name, attrs: { dir: "auto" } }));
    join.setAttribute("aria-label", `Join #${name}`);
    join.addEventListener("click", () => joinRoom(name));
    item.append(join);
    list.append(item);
  }
  renderTitle();
}

/** Whether a message was deleted: by its author or a moderator (the hub's edits plugin authorised it). */
function isDeleted(room, id) {
  return room.deletes.has(id) || room.localDeletes.has(id);
}

function currentText(room, event) {
  const local = room.localEdits.get(event.event_id);
  if (local) return local.message;
  const edit = room.edits.get(event.event_id);
  return edit && edit.user === event.user_id ? edit.message : messageText(event);
}

function groupedWith(previous, event) {
  return previous && previous.kind === "message" && previous.event.user_id === event.user_id &&
    dayKey(previous.event.timestamp) === dayKey(event.timestamp) && (event.timestamp - previous.event.timestamp) * 1000 < GROUP_MS;
}

function messageNode(room, event, previous) {
  const id = event.event_id;
  const own = event.user_id === state.me;
  const deleted = isDeleted(room, id);
  const grouped = groupedWith(previous, event);
  const edit = room.edits.get(id);
  const edited = !deleted && ((edit && edit.user === event.user_id) || room.localEdits.has(id));
  const saving = room.localEdits.has(id) || room.localDeletes.has(id);
  const item = el("li", {
    className: "message" + (own ? " own" : "") + (grouped ? " grouped" : "") + (deleted ? " deleted" : "") + (edited ? " edited" : "") +
      (state.editing?.target === id ? " editing" : ""),
    data: { id, user: event.user_id, room: event.room_id },
    attrs: { tabindex: state.activeMessage === id ? "0" : "-1" },
  });
  if (!own) item.append(grouped ? el("span", { className: "avatar spacer", attrs: { "aria-hidden": "true" } }) : avatar(event.user_id));
  const body = el("div", { className: "body" });
  const time = el("time", { text: timeOf(event.timestamp), attrs: { datetime: new Date(event.timestamp * 1000).toISOString(), title: new Date(event.timestamp * 1000).toLocaleString() } });
  if (!grouped) {
    body.append(el("div", { className: "meta" },
      el("span", { className: "author", text: own ? "You" : event.user_id, attrs: { dir: "auto", title: event.user_id } }), time));
  } else {
    body.append(el("span", { className: "visually-hidden", text: `${own ? "You" : event.user_id}, ${timeOf(event.timestamp)}:` }));
  }
  const bubble = el("div", { className: "bubble", attrs: { dir: "auto" } });
  const text = el("div", { className: "text" + (deleted ? " deleted-text" : ""), attrs: { dir: "auto" } });
  if (deleted) text.textContent = "message deleted";
  else appendLinkified(text, currentText(room, event));
  bubble.append(text);
  if (edited) bubble.append(el("span", { className: "edited-mark", text: saving ? "(edited · saving…)" : "(edited)", attrs: edit ? { title: `edited ${timeOf(edit.time)}` } : {} }));
  else if (deleted && saving) bubble.append(el("span", { className: "edited-mark", text: "(deleting…)" }));
  body.append(bubble);
  if (!deleted) {
    const counts = room.reactions.get(id);
    const shown = REACTIONS.concat([...(counts?.keys() || [])].filter((emoji) => !REACTIONS.includes(emoji)))
      .filter((emoji) => counts?.get(emoji)?.count > 0);
    if (shown.length) {
      const bar = el("div", { className: "reactions", attrs: { role: "group", "aria-label": "Reactions" } });
      for (const emoji of shown) {
        const entry = counts.get(emoji);
        const chip = button("reaction" + (entry.mine ? " mine" : ""), "", {
          "aria-pressed": String(!!entry.mine),
          "aria-label": `${emoji} ${entry.count}${entry.mine ? ", including you" : ""}`,
          title: entry.mine ? "Click to remove your reaction" : `React with ${emoji}`,
        }, () => react(event.room_id, id, emoji));
        chip.dataset.emoji = emoji;
        chip.dataset.count = String(entry.count);
        chip.append(el("span", { className: "emoji", text: emoji, attrs: { "aria-hidden": "true" } }), el("span", { className: "count", text: String(entry.count), attrs: { "aria-hidden": "true" } }));
        bar.append(chip);
      }
      body.append(bar);
    }
    const actions = el("div", { className: "actions", attrs: { role: "toolbar", "aria-label": "Message actions" } });
    for (const emoji of REACTIONS) {
      const add = button("reaction-add" + (counts?.get(emoji)?.mine ? " mine" : ""), emoji, { title: `React with ${emoji}`, "aria-label": `React with ${emoji}` }, () => react(event.room_id, id, emoji));
      add.dataset.emoji = emoji;
      actions.append(add);
    }
    if (own) {
      actions.append(button("msg-edit", "Edit", { title: "Edit (Up arrow in an empty box edits your last message)" }, () => startEditing(event.room_id, id)));
      const remove = button("msg-delete", "Delete", { title: "Delete this message" });
      remove.addEventListener("click", () => {
        if (remove.dataset.confirm === "true") {
          deleteMessage(event.room_id, id);
          return;
        }
        remove.dataset.confirm = "true";
        remove.textContent = "Delete?";
        remove.title = "Click again to delete";
        setTimeout(() => {
          remove.dataset.confirm = "false";
          remove.textContent = "Delete";
        }, 4000);
      });
      actions.append(remove);
    }
    body.append(actions);
  }
  if (grouped) body.append(el("span", { className: "hover-time", text: timeOf(event.timestamp), attrs: { "aria-hidden": "true" } }));
  item.append(body);
  return item;
}

function pendingNode(pending) {
  const item = el("li", {
    className: "message own pending",
    data: { nonce: pending.nonce, user: state.me, room: state.current },
  });
  const body = el("div", { className: "body" });
  const text = el("div", { className: "text", attrs: { dir: "auto" } });
  appendLinkified(text, pending.text);
  body.append(el("div", { className: "bubble", attrs: { dir: "auto" } }, text));
  body.append(el("span", { className: "pending-status", text: "" }));
  item.append(body);
  return item;
}

function presenceNode(item) {
  const parts = [];
  if (item.joined.length) parts.push(`${names(item.joined)} joined`);
  if (item.left.length) parts.push(`${names(item.left)} left`);
  const node = el("li", {
    className: "system presence" + (item.joined.length ? " joined" : "") + (item.left.length ? " left" : ""),
    data: { joined: item.joined.join(","), left: item.left.join(",") },
  }, el("span", { text: parts.join(" · "), attrs: { dir: "auto" } }), el("time", { text: timeOf(item.time / 1000) }));
  return node;
}

function gapNode(name, item) {
  const node = el("li", { className: "system gap", data: { skipped: item.skipped ?? "" } }, el("span", { text: item.text }));
  if (item.firstReplayed && item.skipped) {
    node.append(button("link load-missed", item.loading ? "Loading…" : "Load them", {}, () => loadMissed(name, item)));
  }
  return node;
}

function separatorNode(seconds) {
  return el("li", { className: "date-separator", data: { date: dayKey(seconds) }, attrs: { role: "separator" } }, el("span", { text: dayLabel(seconds) }));
}

function itemTime(item) {
  return item.kind === "message" ? item.event.timestamp : item.time / 1000;
}

function itemNode(name, room, item, previous) {
  if (item.kind === "message") return messageNode(room, item.event, previous);
  if (item.kind === "presence") return presenceNode(item);
  return gapNode(name, item);
}

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
}

function lastTimelineNode(list) {
  const children = [...list.children].filter((node) => !node.classList.contains("pending"));
  return children[children.length - 1] || null;
}

function renderLoadOlder(room) {
  const list = $("messages");
  list.querySelector(".load-older")?.remove();
  if (!canLoadOlder(room)) return;
  const more = button("load-older-button", room.loadingOlder ? "Loading…" : "Load older messages", { "aria-busy": String(room.loadingOlder) }, () => loadOlder(state.current));
  more.disabled = room.loadingOlder;
  list.prepend(el("li", { className: "load-older" }, more));
}

/** Renders the open room's timeline. `keep`: keep the scroll position; `anchorTop`: keep the first message
 * where it was (older messages were added above it). */
function renderMessages({ keep = false, anchorTop = false } = {}) {
  const list = $("messages");
  const stick = nearBottom(list);
  const anchor = anchorTop ? list.querySelector(".message[data-id]") : null;
  const anchorId = anchor?.dataset.id;
  const anchorOffset = anchor ? anchor.getBoundingClientRect().top : 0;
  const focused = list.contains(document.activeElement) ? focusKey(document.activeElement) : null;
  const scrollTop = list.scrollTop;
  list.replaceChildren();
  const name = state.current;
  if (!name) {
    list.append(el("li", { className: "system empty", text: "You are in no room. Join one from the list of rooms." }));
    return;
  }
  const room = roomState(name);
  renderLoadOlder(room);
  if (!room.items.some((item) => item.kind === "message") && !room.pending.length) {
    list.append(el("li", { className: "system empty", text: `This is the start of #${name}. Say hello!`, attrs: { dir: "auto" } }));
  }
  let previous = null;
  let day = null;
  const fragment = document.createDocumentFragment();
  for (const item of room.items) {
    const key = dayKey(itemTime(item));
    if (key !== day) {
      fragment.append(separatorNode(itemTime(item)));
      day = key;
      previous = null;
    }
    fragment.append(itemNode(name, room, item, previous));
    previous = item;
  }
  for (const pending of room.pending) fragment.append(pendingNode(pending));
  list.append(fragment);
  ensureTabStop();
  if (anchorId) {
    const again = list.querySelector(`.message[data-id="${anchorId}"]`);
    if (again) list.scrollTop += again.getBoundingClientRect().top - anchorOffset;
  } else if (keep && !stick) {
    list.scrollTop = scrollTop;
  } else {
    list.scrollTop = list.scrollHeight;
  }
  if (focused) restoreFocus(focused);
}

/** Appends room.items[index] (the newest) to the open room's list. */
function appendItem(room, index) {
  const list = $("messages");
  const item = room.items[index];
  const previous = room.items[index - 1] || null;
  const stick = nearBottom(list) || (item.kind === "message" && item.event.user_id === state.me);
  list.querySelector(".empty")?.remove();
  const before = list.querySelector(".pending");
  const insert = (node) => (before ? list.insertBefore(node, before) : list.append(node));
  const sameDay = previous && dayKey(itemTime(previous)) === dayKey(itemTime(item));
  if (!sameDay) insert(separatorNode(itemTime(item)));
  insert(itemNode(state.current, room, item, sameDay ? previous : null));
  if (item.kind === "message") ensureTabStop(); // the newest message takes the tab stop unless one was chosen
  if (!room.oldestId || canLoadOlder(room) !== !!list.querySelector(".load-older")) renderLoadOlder(room);
  if (stick) list.scrollTop = list.scrollHeight;
}

function appendPending(pending) {
  const list = $("messages");
  list.querySelector(".empty")?.remove();
  list.append(pendingNode(pending));
  list.scrollTop = list.scrollHeight;
}

/** Redraws one message in place (a reaction, an edit, a delete). */
function refreshMessage(name, id) {
  if (name !== state.current) return;
  const list = $("messages");
  const node = list.querySelector(`.message[data-id="${id}"]`);
  const room = roomState(name);
  const item = room.byId.get(id);
  if (!node || !item) return;
  const index = room.items.indexOf(item);
  const previous = index > 0 && node.previousElementSibling?.classList.contains("date-separator") === false ? room.items[index - 1] : null;
  const focused = node.contains(document.activeElement) ? focusKey(document.activeElement) : null;
  const stick = nearBottom(list);
  node.replaceWith(messageNode(room, item.event, previous));
  if (focused) restoreFocus(focused);
  if (stick) list.scrollTop = list.scrollHeight;
}

/** Where the focus was inside the list, as a selector that finds the same control after a redraw. */
function focusKey(element) {
  const message = element.closest(".message[data-id]");
  if (!message) return null;
  const id = message.dataset.id;
  if (element === message) return `.message[data-id="${id}"]`;
  for (const name of ["reaction-add", "reaction", "msg-edit", "msg-delete"]) {
    if (element.classList.contains(name)) {
      return `.message[data-id="${id}"] .${name}` + (element.dataset.emoji ? `[data-emoji="${element.dataset.emoji}"]` : "");
    }
  }
  return `.message[data-id="${id}"]`;
}

function restoreFocus(selector) {
  const target = $("messages").querySelector(selector) || $("messages").querySelector(selector.split(" ")[0]);
  target?.focus({ preventScroll: true });
}

/** One message of the list takes the tab stop (the last one unless the user moved it); arrows move it. */
function ensureTabStop() {
  const list = $("messages");
  const messages = list.querySelectorAll(".message[data-id]");
  if (!messages.length) return;
  let active = state.activeMessage && list.querySelector(`.message[data-id="${state.activeMessage}"]`);
  if (!active) active = messages[messages.length - 1];
  for (const node of list.querySelectorAll(".message[tabindex='0']")) if (node !== active) node.tabIndex = -1;
  active.tabIndex = 0;
}

function onListKey(event) {
  const current = event.target.closest?.(".message[data-id]");
  if (!current || event.target !== current) return;
  const messages = [...$("messages").querySelectorAll(".message[data-id]")];
  let index = messages.indexOf(current);
  if (event.key === "ArrowUp") index -= 1;
  else if (event.key === "ArrowDown") index += 1;
  else if (event.key === "Home") index = 0;
  else if (event.key === "End") index = messages.length - 1;
  else if (event.key === "e" && current.classList.contains("own") && !current.classList.contains("deleted")) {
    event.preventDefault();
    startEditing(state.current, current.dataset.id);
    return;
  } else return;
  event.preventDefault();
  const next = messages[Math.max(0, Math.min(messages.length - 1, index))];
  current.tabIndex = -1;
  next.tabIndex = 0;
  state.activeMessage = next.dataset.id;
  next.focus();
}

function renderPresence() {
  const list = $("presence");
  list.replaceChildren();
  const name = state.current;
  const room = name ? roomState(name) : null;
  const users = room ? [...room.presence.values()] : [];
  users.sort((a, b) => (a.user_id === state.me ? -1 : b.user_id === state.me ? 1 : a.user_id.localeCompare(b.user_id)));
  const stale = !state.online;
  const seen = room?.presenceAt ? timeOf(room.presenceAt / 1000) : null;
  for (const user of users) {
    const me = user.user_id === state.me;
    const item = el("li", { className: "user" + (me ? " me" : "") + (stale ? " stale" : ""), data: { user: user.user_id } },
      avatar(user.user_id), el("span", { className: "name", text: user.user_id, attrs: { dir: "auto" } }));
    if (me) item.append(el("span", { className: "tag", text: "you" }));
    const transports = (user.transports || []).join(", ");
    item.title = stale ? `${user.user_id} · last seen ${seen || "earlier"}` : transports ? `${user.user_id} · ${transports}` : user.user_id;
    list.append(item);
  }
  $("people-note").hidden = !(stale && users.length && seen);
  $("people-note").textContent = seen ? `Last seen at ${seen}` : "";
  $("presence").dataset.stale = String(stale);
  const count = $("room-count");
  if (!name) count.textContent = "";
  else if (stale) count.textContent = state.everOpen ? (seen ? `offline · last seen ${seen}` : "offline") : "connecting…";
  else count.textContent = users.length === 1 ? "1 person here" : `${users.length} people here`;
  count.dataset.stale = String(stale);
}

function renderTyping() {
  const node = $("typing");
  const name = state.current;
  const users = name ? [...roomState(name).typing.keys()].sort() : [];
  node.dataset.users = users.join(",");
  if (!users.length) node.textContent = "";
  else if (users.length === 1) node.textContent = `${users[0]} is typing…`;
  else if (users.length === 2) node.textContent = `${users[0]} and ${users[1]} are typing…`;
  else node.textContent = `${users.length} people are typing…`;
}

// MARK: wiring

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  if (!name) return;
  if (name.toLowerCase() === "system") {
    $("name").setCustomValidity("“system” is the hub's own name: pick another.");
    $("name").reportValidity();
    return;
  }
  start(name);
});
$("name").addEventListener("input", () => $("name").setCustomValidity(""));
$("composer").addEventListener("submit", send);
$("text").addEventListener("input", onInput);
$("text").addEventListener("keydown", onComposerKey);
$("cancel-edit").addEventListener("click", () => {
  stopEditing();
  $("text").focus();
});
$("messages").addEventListener("keydown", onListKey);
$("messages").addEventListener("focusin", (event) => {
  const message = event.target.closest?.(".message[data-id]");
  if (message && state.activeMessage !== message.dataset.id) {
    state.activeMessage = message.dataset.id;
    ensureTabStop();
  }
});
$("new-room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("new-room").value;
  $("new-room").value = "";
  joinRoom(value);
});
$("signout").addEventListener("click", signOut);
$("retry").addEventListener("click", retryNow);
window.addEventListener("resize", growComposer);

const preset = (params.get("user") || "").trim().slice(0, 32);
const session = readSession();
if (preset && preset.toLowerCase() !== "system") {
  start(preset);
} else if (session?.user && session.user.toLowerCase() !== "system") {
  start(session.user); // a reload: still signed in, same rooms
} else {
  $("signin").hidden = false;
  try {
    $("name").value = localStorage.getItem(NAME_KEY) || "";
  } catch (_) {}
  $("name").focus();
}

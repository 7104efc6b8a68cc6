// The Moonwire chat example: rooms, presence, typing indicators, history on join, moderation errors.
// Plain ES module, no build step; the client is the hub's own /moonwire.js.
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
const TYPING_RESEND_MS = 3000; // while typing, tell the room again at most this often
const TYPING_IDLE_MS = 4000; // stop "typing" after this long without a key press
const TYPING_SHOW_MS = 6000; // someone else's "typing" fades after this long without news
const GROUP_MS = 5 * 60 * 1000; // consecutive messages of one person within this are grouped
const NAME_KEY = "moonwire-chat:name";

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

function colorFor(name) {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 55% 45%)`;
}

function avatar(name) {
  const node = el("span", { className: "avatar", text: [...name][0]?.toUpperCase() || "?", attrs: { "aria-hidden": "true" } });
  node.style.background = colorFor(name);
  return node;
}

function timeOf(event) {
  const date = new Date((event.timestamp || Date.now() / 1000) * 1000);
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function compareIds(a, b) {
  try {
    const x = BigInt(a), y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  } catch (_) {
    return 0;
  }
}

// MARK: state

const state = {
  hub: null,
  me: null,
  current: null,
  joined: [], // rooms followed, in the order they were joined
  known: new Set(), // rooms the hub told us about (welcome) or that we joined once
  rooms: new Map(), // joined room -> { messages, unread, presence, typing, since }
  typing: { active: false, room: null, lastSent: 0, idleTimer: null },
  presenceTimer: null,
  noticeTimer: null,
};

function roomState(name) {
  if (!state.rooms.has(name)) {
    state.rooms.set(name, { messages: [], unread: 0, presence: new Map(), typing: new Map(), since: Date.now() });
  }
  return state.rooms.get(name);
}

// MARK: connecting

function start(name) {
  state.me = name;
  localStorage.setItem(NAME_KEY, name);
  const wanted = params.get("room");
  const first = wanted && ROOM_PATTERN.test(wanted) ? wanted : null;
  state.joined = ["general"];
  if (first && first !== "general") state.joined.push(first);
  state.current = first || "general";
  for (const room of state.joined) state.known.add(room);

  const hub = new Moonwire({ userId: name, rooms: [...state.joined], transport: FORCED_TRANSPORT, replay: HISTORY });
  state.hub = hub;
  hub.on("status", onStatus);
  hub.on("message", onMessage);
  hub.on("typing", onTyping);
  hub.on("user_joined", onUserJoined);
  hub.on("user_left", onUserLeft);
  hub.on("presence_diff", onPresenceDiff);
  hub.on("notification", onNotification);
  hub.on("gap", onGap);
  hub.on("error", (event) => showNotice(event.data?.message || "the hub reported an error", event.data?.code));

  $("signin").hidden = true;
  $("chat").hidden = false;
  $("me").textContent = name;
  renderAll();
  $("text").focus();

  hub.connect().catch((error) => {
    if (error.code !== "closed") showNotice(`Could not connect: ${error.message}`, error.code); // not: signed out meanwhile
  });
}

function signOut() {
  state.hub?.close();
  clearInterval(state.presenceTimer);
  state.hub = null;
  state.rooms.clear();
  state.joined = [];
  state.current = null;
  $("chat").hidden = true;
  $("signin").hidden = false;
  history.replaceState(null, "", location.pathname);
  $("name").focus();
}

function onStatus(status) {
  const node = $("status");
  node.dataset.state = status.state;
  node.dataset.transport = status.transport || "";
  const label = node.querySelector(".label");
  if (status.state === "open") {
    label.textContent = `Connected · ${status.transport}`;
    node.title = `Connected over ${status.transport}`;
    // (Re)connected: ask who is here, and over long-poll (which carries no presence events) keep asking.
    for (const room of state.joined) refreshPresence(room);
    clearInterval(state.presenceTimer);
    if (status.transport === "longpoll") state.presenceTimer = setInterval(() => state.current && refreshPresence(state.current), 10000);
    if ($("notice").dataset.kind === "connection") hideNotice(); // a disconnect notice is over
  } else if (status.state === "reconnecting") {
    const seconds = status.delay ? Math.max(1, Math.round(status.delay / 1000)) : null;
    label.textContent = seconds ? `Reconnecting in ${seconds} s…` : "Reconnecting…";
    node.title = status.reason || "";
  } else if (status.state === "connecting") {
    label.textContent = "Connecting…";
  } else if (status.state === "closed") {
    label.textContent = "Disconnected";
    node.title = status.reason || "";
    if (status.reason && status.reason !== "closed by the client") showNotice(`Disconnected: ${status.reason}`, status.code, "connection");
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
  state.current = name;
  if (name) roomState(name).unread = 0;
  renderAll();
  if (name && askPresence && state.hub?.state === "open") refreshPresence(name);
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
  if (state.hub?.state === "open") room.presence.set(state.me, room.presence.get(state.me) || { user_id: state.me });
  if (name === state.current) renderPresence();
}

// MARK: incoming events

function onMessage(event) {
  const name = event.room_id;
  if (!name || !state.joined.includes(name)) return;
  const room = roomState(name);
  const last = room.messages[room.messages.length - 1];
  const inOrder = !last || compareIds(last.event_id, event.event_id) < 0;
  room.messages.push(event);
  if (!inOrder) room.messages.sort((a, b) => compareIds(a.event_id, b.event_id));
  clearTyping(room, event.user_id);
  if (name === state.current) {
    if (inOrder) appendMessage(event, last);
    else renderMessages();
    renderTyping();
  } else if (!event.local && event.timestamp * 1000 > room.since) {
    // Only what arrived after we joined counts as unread, not the history replayed on join.
    room.unread += 1;
    renderRooms();
  }
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
  if (!room.presence.has(user)) room.presence.set(user, { user_id: user });
  if (name === state.current) renderPresence();
}

function onUserLeft(event) {
  const name = event.room_id;
  const user = event.data?.user_id || event.user_id;
  if (!name || !user || user === state.me || !state.joined.includes(name)) return;
  const room = roomState(name);
  room.presence.delete(user);
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
  for (const user of event.data?.joins || []) if (!room.presence.has(user)) room.presence.set(user, { user_id: user });
  for (const user of event.data?.leaves || []) {
    if (user === state.me) continue;
    room.presence.delete(user);
    clearTyping(room, user);
  }
  if (event.data?.truncated) refreshPresence(name);
  else if (name === state.current) {
    renderPresence();
    renderTyping();
  }
}

function onNotification(event) {
  // The welcome lists the rooms that exist on the hub.
  if (event.room_id || !Array.isArray(event.data?.rooms)) return;
  for (const name of event.data.rooms) if (typeof name === "string") state.known.add(name);
  renderRooms();
}

function onGap(gap) {
  if (!gap.room || !state.joined.includes(gap.room)) return;
  const room = roomState(gap.room);
  const note = { event_id: null, gap: true, text: "Some earlier messages are no longer available." };
  room.messages.unshift(note);
  if (gap.room === state.current) renderMessages();
}

// MARK: sending

async function send(event) {
  event.preventDefault();
  const input = $("text");
  const text = input.value.trim();
  const name = state.current;
  if (!text || !name || !state.hub) return;
  input.value = "";
  stopTyping(false);
  try {
    await state.hub.publish(name, "message", { message: text });
  } catch (error) {
    // e.g. the moderation plugin: "message contains a banned word", or a rate limit.
    showNotice(`Not sent: ${error.message}`, error.code);
    if (!input.value) input.value = text;
  }
}

function onInput() {
  const value = $("text").value;
  const typing = state.typing;
  clearTimeout(typing.idleTimer);
  if (!value.trim()) {
    stopTyping();
    return;
  }
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

/** Stops our typing indicator; `tell` false when a message is about to clear it anyway. */
function stopTyping(tell = true) {
  const typing = state.typing;
  clearTimeout(typing.idleTimer);
  if (typing.active && tell && typing.room && state.joined.includes(typing.room)) state.hub?.typing(typing.room, false);
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
}

function renderTitle() {
  const name = state.current;
  $("room-title").textContent = name || "no room";
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
    const open = el("button", { className: "room-name", attrs: { type: "button", title: `Open #${name}` } },
      el("span", { className: "hash", text: "#" }), el("span", { text: name }));
    if (current) open.setAttribute("aria-current", "true");
    open.addEventListener("click", () => switchTo(name));
    item.append(open);
    if (room.unread) item.append(el("span", { className: "unread", text: String(room.unread), attrs: { title: `${room.unread} unread` } }));
    const leave = el("button", { className: "leave", text: "×", attrs: { type: "button", title: `Leave #${name}`, "aria-label": `Leave #${name}` } });
    leave.addEventListener("click", () => leaveRoom(name));
    item.append(leave);
    list.append(item);
  }
  const others = [...state.known].filter((name) => !state.joined.includes(name) && !HIDDEN_ROOM.test(name)).sort();
  for (const name of others) {
    const item = el("li", { className: "room other", data: { room: name, joined: "false" } });
    const join = el("button", { className: "room-name", attrs: { type: "button", title: `Join #${name}` } },
      el("span", { className: "hash", text: "+" }), el("span", { text: name }));
    join.addEventListener("click", () => joinRoom(name));
    item.append(join);
    list.append(item);
  }
  renderTitle();
}

function messageNode(event, previous) {
  if (event.gap) return el("li", { className: "system gap", text: event.text });
  const own = event.user_id === state.me;
  const grouped = previous && !previous.gap && previous.user_id === event.user_id &&
    (event.timestamp - previous.timestamp) * 1000 < GROUP_MS;
  const text = typeof event.data?.message === "string" ? event.data.message
    : typeof event.data?.content === "string" ? event.data.content : JSON.stringify(event.data);
  const item = el("li", {
    className: "message" + (own ? " own" : "") + (grouped ? " grouped" : ""),
    data: { id: event.event_id, user: event.user_id, room: event.room_id },
  });
  if (!own) item.append(grouped ? el("span", { className: "avatar spacer", attrs: { "aria-hidden": "true" } }) : avatar(event.user_id));
  const body = el("div", { className: "body" });
  if (!grouped) {
    body.append(el("div", { className: "meta" },
      el("span", { className: "author", text: own ? "You" : event.user_id }),
      el("time", { text: timeOf(event), attrs: { datetime: new Date(event.timestamp * 1000).toISOString() } })));
  }
  body.append(el("div", { className: "text", text }));
  item.append(body);
  return item;
}

function nearBottom(list) {
  return list.scrollHeight - list.scrollTop - list.clientHeight < 120;
}

function renderMessages() {
  const list = $("messages");
  list.replaceChildren();
  const name = state.current;
  if (!name) {
    list.append(el("li", { className: "system empty", text: "You are in no room. Join one on the left." }));
    return;
  }
  const room = roomState(name);
  const messages = room.messages;
  if (!messages.filter((m) => !m.gap).length) {
    list.append(el("li", { className: "system empty", text: `This is the start of #${name}. Say hello!` }));
  }
  let previous = null;
  for (const event of messages) {
    list.append(messageNode(event, previous));
    previous = event;
  }
  list.scrollTop = list.scrollHeight;
}

function appendMessage(event, previous) {
  const list = $("messages");
  const stick = nearBottom(list) || event.user_id === state.me;
  list.querySelector(".empty")?.remove();
  list.append(messageNode(event, previous));
  if (stick) list.scrollTop = list.scrollHeight;
}

function renderPresence() {
  const list = $("presence");
  list.replaceChildren();
  const name = state.current;
  const users = name ? [...roomState(name).presence.values()] : [];
  users.sort((a, b) => (a.user_id === state.me ? -1 : b.user_id === state.me ? 1 : a.user_id.localeCompare(b.user_id)));
  for (const user of users) {
    const me = user.user_id === state.me;
    const item = el("li", { className: "user" + (me ? " me" : ""), data: { user: user.user_id } },
      avatar(user.user_id), el("span", { className: "name", text: user.user_id }));
    if (me) item.append(el("span", { className: "tag", text: "you" }));
    const transports = (user.transports || []).join(", ");
    if (transports) item.title = `${user.user_id} · ${transports}`;
    list.append(item);
  }
  $("room-count").textContent = name ? (users.length === 1 ? "1 person here" : `${users.length} people here`) : "";
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
$("new-room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("new-room").value;
  $("new-room").value = "";
  joinRoom(value);
});
$("signout").addEventListener("click", signOut);

const preset = (params.get("user") || "").trim().slice(0, 32);
if (preset && preset.toLowerCase() !== "system") {
  start(preset);
} else {
  $("name").value = localStorage.getItem(NAME_KEY) || "";
  $("name").focus();
}

// moonwire.js — the browser client for a Moonwire hub. A plain ES module: no build step, no dependencies.
//
//   import { Moonwire } from "/moonwire.js";
//   const hub = new Moonwire({ userId: "alice", rooms: ["general"] });
//   hub.on("message", (event) => console.log(event.user_id, event.data.message));
//   await hub.connect();
//   await hub.publish("general", "message", { message: "hello" });
//
// It connects with WebSocket and falls back to Server-Sent Events (sending with HTTP POST), then to
// long-polling, when WebSocket cannot connect or is refused. It reconnects by itself with exponential
// backoff and jitter, resumes every room from the last event id it saw, delivers what it missed once and
// in order, and reports gaps (events the hub no longer retains) through the "gap" handler. In a browser it
// closes its connection when the page is hidden into the back/forward cache and resumes when it is shown
// again. Publishes made with `{queue: true}` wait for the connection and are sent once, in order.
// Reference: docs/client-js.md.

const TRANSPORTS = ["websocket", "sse", "longpoll"];
// Close codes after which reconnecting would only be refused again.
const FINAL_CLOSE_CODES = new Set([4001, 4003, 4004, 1008]);
// The hub's close codes by name (docs/protocol.md), so errors read the same on every transport.
const CLOSE_CODES = {
  1001: "shutdown", 1002: "protocol_error", 1008: "origin_not_allowed", 1009: "frame_too_large", 4001: "auth_failed",
  4002: "auth_timeout", 4003: "refused", 4004: "kicked", 4008: "slow_consumer", 4009: "heartbeat_timeout",
};

// Queued publishes: failures that say nothing was stored (retry later), and failures after which nobody knows
// whether the hub stored the event (look for its nonce in the resume replay before sending it again).
const QUEUE_RETRY_CODES = new Set(["not_connected", "unavailable", "shutting_down", "rate_limited"]);
const QUEUE_UNKNOWN_CODES = new Set(["disconnected", "timeout", "closed", "sse_failed"]);

function queueFailure(error) {
  if (!(error instanceof MoonwireError)) return "unknown"; // fetch's TypeError: the network failed
  if (QUEUE_UNKNOWN_CODES.has(error.code) || /^http_5/.test(error.code)) return "unknown";
  if (QUEUE_RETRY_CODES.has(error.code)) return "retry";
  return "refused";
}

function isStoredId(id) {
  return typeof id === "string" && /^[0-9]{1,18}$/.test(id);
}

function newerThan(id, cursor) {
  return cursor == null || BigInt(id) > BigInt(cursor);
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function randomId() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** A failed request: `code` is the hub's stable error code (docs/protocol.md). */
export class MoonwireError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = "MoonwireError";
    this.code = code;
    this.details = details;
  }
}

/** A connection to a Moonwire hub over the best transport that works. */
export class Moonwire {
  /**
   * @param {object} options
   * @param {string} [options.url] the hub's base URL (default: the page's origin)
   * @param {string} [options.userId] the user id to claim (hubs without an auth plugin take it as is)
   * @param {string} [options.token] a token for the hub's auth plugin
   * @param {object} [options.metadata] metadata sent with the WebSocket auth frame
   * @param {string[]} [options.rooms] rooms to join on connect (default ["general"])
   * @param {"auto"|"websocket"|"sse"|"longpoll"} [options.transport] force a transport (default "auto")
   * @param {number} [options.replay] over SSE, events replayed for a room without a position (default 20;
   *   WebSocket joins get the hub's rooms.replay_on_join, long-poll the room's retained history)
   * @param {number} [options.reconnectMin] first reconnect delay in ms (default 500)
   * @param {number} [options.reconnectMax] longest reconnect delay in ms (default 15000)
   * @param {number} [options.heartbeat] ms between WebSocket heartbeats (default 25000)
   * @param {number} [options.pollTimeout] seconds a long-poll waits (default 25)
   * @param {number} [options.openTimeout] ms a transport may take to open before the next is tried (default 5000)
   * @param {boolean} [options.echo] hand the client's own published events to its handlers too (default true)
   * @param {string} [options.clientId] the long-poll session id (default: a random one, renewed after each close)
   * @param {boolean} [options.pageLifecycle] in a browser, close the connection on `pagehide` and resume on
   *   `pageshow` from the back/forward cache; retry at once on `online` (default true)
   */
  constructor(options = {}) {
    this.url = (options.url || (typeof location !== "undefined" ? location.origin : "http://127.0.0.1:8080")).replace(/\/$/, "");
    this.token = options.token || null;
    // Without a token, hubs without an auth plugin need a name: a guest one if none is given.
    this.userId = options.userId || (this.token ? null : "guest-" + randomId().slice(0, 8));
    this.metadata = options.metadata || {};
    this.preferred = options.transport || "auto";
    this.replay = options.replay ?? 20;
    this.reconnectMin = options.reconnectMin ?? 500;
    this.reconnectMax = options.reconnectMax ?? 15000;
    this.heartbeatInterval = options.heartbeat ?? 25000;
    this.pollTimeout = options.pollTimeout ?? 25;
    this.openTimeout = options.openTimeout ?? 5000;
    this.clientIdGiven = !!options.clientId;
    this.clientId = options.clientId || "mw-" + randomId();
    this.echo = options.echo ?? true;
    this.pageLifecycle = options.pageLifecycle ?? true;
    /** Publishes made with `{queue: true}`, oldest first: `{room, type, data, nonce, state, after, resolve, reject}`;
     * state "queued" (not sent yet), "sending" (waiting for the hub's answer) or "unknown" (the connection
     * dropped before the answer: the resume replay tells whether it was stored). */
    this.queue = [];
    this.flushing = false;
    this.queueRetryDelay = 0;
    this.queueTimer = null;
    this.suspended = false; // the page was hidden (pagehide): no connection until it is shown again
    this.lifecycle = null; // removes the page lifecycle listeners
    /** Ids of events this client published (with their room): shown once, as the echo, not again when a
     * replay brings them. */
    this.ownIds = new Map();
    /** Ids recently handed to handlers (so an own event that came before its publish answer is not echoed). */
    this.delivered = new Set();

    /** Rooms followed, with the last stored event id seen in each. */
    this.rooms = new Map();
    for (const room of options.rooms || ["general"]) this.rooms.set(room, { cursor: null });

    this.handlers = new Map();
    this.transport = null; // the name of the transport in use
    this.state = "idle"; // idle, connecting, open, reconnecting, closed
    this.connectionId = null;
    this.active = null; // the transport object
    this.epoch = 0; // bumped by close(): attempts of an older epoch give up
    this.attempt = 0;
    this.closedByUser = false;
    this.reconnectTimer = null;
  }

  // MARK: events

  /** Calls `handler(event)` for events of `type` ("*" for every event). Other names: "status", "gap", "error". */
  on(type, handler) {
    if (!this.handlers.has(type)) this.handlers.set(type, new Set());
    this.handlers.get(type).add(handler);
    return () => this.off(type, handler);
  }

  off(type, handler) {
    this.handlers.get(type)?.delete(handler);
  }

  emit(type, value) {
    for (const handler of this.handlers.get(type) || []) {
      try {
        handler(value);
      } catch (error) {
        console.error("moonwire handler failed", error);
      }
    }
  }

  setState(state, extra = {}) {
    this.state = state;
    this.emit("status", { state, transport: this.transport, ...extra });
  }

  /** Handles one event from any transport: drops what was seen already, keeps cursors, dispatches. */
  receive(event) {
    if (!event || typeof event !== "object") return;
    const type = event.event_type;
    const room = event.room_id;
    if (type === "gap") {
      this.emit("gap", { room, ...(event.data || {}) });
      return;
    }
    if (type === "notification" && event.data && event.data.connection_id && !room) {
      this.connectionId = event.data.connection_id;
      if (event.data.user_id) this.identity = event.data.user_id;
      // Ids are publish times in microseconds: whatever is published from now on has a larger id.
      if (typeof event.timestamp === "number") this.openedAt = String(Math.floor(event.timestamp * 1e6) - 1);
    }
    if (isStoredId(event.event_id) && room && this.rooms.has(room)) {
      const state = this.rooms.get(room);
      if (this.landed(event)) return; // a queued publish whose answer was lost: shown as its echo
      if (!newerThan(event.event_id, state.cursor)) return; // seen already: exactly once
      state.cursor = event.event_id;
      if (this.ownIds.has(event.event_id)) return; // our own, shown when it was sent
      this.delivered.add(event.event_id);
      if (this.delivered.size > 2000) this.delivered.delete(this.delivered.values().next().value);
    }
    this.emit(type, event);
    this.emit("*", event);
  }

  // MARK: connecting

  /** Connects (trying transports in order unless one is forced); resolves once one is open. */
  connect() {
    this.closedByUser = false;
    this.attachPageLifecycle();
    if (this.state === "open") return Promise.resolve(this.transport);
    if (!this.opening) {
      this.opening = new Promise((resolve, reject) => {
        this.resolveOpen = resolve;
        this.rejectOpen = reject;
      });
      if (!this.suspended) this.open(); // else when the page is shown again
    }
    return this.opening;
  }

  async open() {
    const epoch = this.epoch; // a close() or a newer open() makes this attempt stale
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting", { attempt: this.attempt });
    const order = this.preferred === "auto" ? TRANSPORTS : [this.preferred];
    let lastError = null;
    for (const name of order) {
      if (this.closedByUser || epoch !== this.epoch) return;
      const transport = this.makeTransport(name);
      try {
        await withTimeout(transport.open(), this.openTimeout, `${name} did not open in time`);
        if (this.closedByUser || epoch !== this.epoch) {
          transport.close({ end: true });
          return;
        }
        this.active = transport;
        this.transport = name;
        this.attempt = 0;
        this.setState("open");
        this.joinWaiting().then(() => this.flush());
        if (this.resolveOpen) this.resolveOpen(name);
        this.opening = null;
        this.resolveOpen = this.rejectOpen = null;
        return;
      } catch (error) {
        transport.close();
        if (epoch !== this.epoch) return;
        lastError = error;
        if (error instanceof MoonwireError && FINAL_CLOSE_CODES.has(error.details?.closeCode)) {
          this.fail(error);
          return;
        }
      }
    }
    this.scheduleReconnect(lastError);
  }

  makeTransport(name) {
    const callbacks = {
      event: (event) => this.receive(event),
      lost: (error) => this.lost(error),
    };
    if (name === "websocket") return new WebSocketTransport(this, callbacks);
    if (name === "sse") return new EventSourceTransport(this, callbacks);
    return new LongPollTransport(this, callbacks);
  }

  /** The open transport failed: reconnect, unless the hub said not to. */
  lost(error) {
    if (this.closedByUser) return;
    this.active = null;
    if (error instanceof MoonwireError && FINAL_CLOSE_CODES.has(error.details?.closeCode)) {
      this.fail(error);
      return;
    }
    this.scheduleReconnect(error);
  }

  fail(error) {
    for (const [room, state] of [...this.rooms.entries()]) {
      if (!state.waiting) continue;
      this.rooms.delete(room);
      for (const waiter of state.waiting) waiter.reject(error);
    }
    this.setState("closed", { reason: error.message, code: error.code });
    if (this.rejectOpen) this.rejectOpen(error);
    this.opening = null;
    this.resolveOpen = this.rejectOpen = null;
  }

  scheduleReconnect(error) {
    if (this.closedByUser || this.suspended) return;
    this.attempt += 1;
    const ceiling = Math.min(this.reconnectMax, this.reconnectMin * 2 ** (this.attempt - 1));
    const delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.open();
    }, delay);
    this.setState("reconnecting", { attempt: this.attempt, delay, retryAt: Date.now() + delay, reason: error?.message });
  }

  /** While waiting to reconnect, tries again at once (a "Retry now" button). Returns `true` when an attempt
   * started, `false` when there was nothing to do (open, an attempt under way, closed, page hidden). */
  reconnectNow() {
    if (this.closedByUser || this.suspended || !this.reconnectTimer) return false;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.open();
    return true;
  }

  /** The open transport is given up (a publish whose fate is unknown): reconnect and resume. */
  drop(transport, error) {
    if (this.closedByUser || this.active !== transport) return;
    transport.close();
    this.lost(error);
  }

  /** Closes the connection for good; a long-poll session is ended on the hub at once. */
  close() {
    this.closedByUser = true;
    this.suspended = false;
    this.epoch += 1;
    this.lifecycle?.();
    this.lifecycle = null;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    for (const [room, state] of [...this.rooms.entries()]) {
      if (!state.waiting) continue;
      this.rooms.delete(room);
      for (const waiter of state.waiting) waiter.reject(new MoonwireError("closed", "closed by the client"));
    }
    this.endTransport();
    this.attempt = 0;
    this.dropQueue(() => true, new MoonwireError("closed", "closed by the client"));
    if (this.rejectOpen) this.rejectOpen(new MoonwireError("closed", "closed by the client"));
    this.opening = null;
    this.resolveOpen = this.rejectOpen = null;
    this.setState("closed", { reason: "closed by the client" });
  }

  /** Closes the open transport and ends its session on the hub (long-poll: `DELETE /poll`); a long-poll
   * session id made up by the client is replaced, so that the next session cannot meet the old one's end. */
  endTransport() {
    const active = this.active;
    this.active = null;
    if (active) active.close({ end: true });
    if (!this.clientIdGiven) this.clientId = "mw-" + randomId();
  }

  // MARK: page lifecycle

  attachPageLifecycle() {
    if (this.lifecycle || !this.pageLifecycle || typeof window === "undefined" || typeof window.addEventListener !== "function") return;
    const hide = () => this.suspend();
    const show = (event) => {
      if (event.persisted) this.resume();
    };
    const online = () => this.reconnectNow();
    window.addEventListener("pagehide", hide);
    window.addEventListener("pageshow", show);
    window.addEventListener("online", online);
    this.lifecycle = () => {
      window.removeEventListener("pagehide", hide);
      window.removeEventListener("pageshow", show);
      window.removeEventListener("online", online);
    };
  }

  /** The page is being hidden (navigated away from, maybe into the back/forward cache): close the connection
   * so that the hub sees the user leave now, keeping rooms, cursors and queued publishes for `resume()`. */
  suspend() {
    if (this.closedByUser || this.suspended || this.state === "idle" || this.state === "closed") return;
    this.suspended = true;
    this.epoch += 1; // an attempt under way gives up
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    clearTimeout(this.queueTimer);
    this.endTransport();
    this.setState("suspended", { reason: "page hidden" });
  }

  /** The page is shown again from the back/forward cache: reconnect, resuming every room from its cursor. */
  resume() {
    if (!this.suspended || this.closedByUser) return;
    this.suspended = false;
    this.attempt = Math.max(this.attempt, 1);
    this.open();
  }

  requireOpen() {
    if (!this.active) throw new MoonwireError("not_connected", "not connected");
    return this.active;
  }

  // MARK: rooms and sending

  /** Joins a room (resuming from the last event seen there, if any). Rejects with the hub's reason if
   * the room is refused; the client then does not follow it. */
  async join(room) {
    const known = this.rooms.has(room);
    if (known && !this.rooms.get(room).waiting) {
      if (this.active) await this.active.join(room);
      return;
    }
    if (!this.active) {
      // Not connected: the join happens (and is answered) once the connection is back.
      if (!known) this.rooms.set(room, { cursor: null, waiting: [] });
      return new Promise((resolve, reject) => this.rooms.get(room).waiting.push({ resolve, reject }));
    }
    if (!known) this.rooms.set(room, { cursor: null });
    try {
      await this.active.join(room);
    } catch (error) {
      this.rooms.delete(room);
      throw error;
    }
  }

  /** After (re)connecting: the joins asked for meanwhile, each answered with the hub's verdict. */
  async joinWaiting() {
    for (const [room, state] of [...this.rooms.entries()]) {
      if (!state.waiting) continue;
      const active = this.active;
      if (!active) return; // dropped again: the rest wait for the next connection
      const waiting = state.waiting;
      delete state.waiting;
      try {
        await active.join(room);
        for (const waiter of waiting) waiter.resolve();
      } catch (error) {
        this.rooms.delete(room);
        for (const waiter of waiting) waiter.reject(error instanceof MoonwireError ? error : new MoonwireError("disconnected", String(error)));
      }
    }
  }

  /** Leaves a room. Its messages sent by this client show again if it is joined later. */
  async leave(room) {
    if (!this.rooms.has(room)) return;
    try {
      if (this.active) await this.active.leave(room);
    } catch (error) {
      if (error.code !== "not_in_room") throw error;
    }
    this.rooms.delete(room);
    for (const [id, ownRoom] of this.ownIds) if (ownRoom === room) this.ownIds.delete(id);
    this.dropQueue((item) => item.room === room, new MoonwireError("not_in_room", `left room '${room}' before the event was sent`));
  }

  /** Publishes an event to a room; resolves with `{event_id, stored, event}` once the hub accepted it
   * (`event`: as the hub stored it). With `echo` on, a stored event is also handed to this client's handlers
   * (with `local: true`), unless it already arrived.
   *
   * With `options.queue`, the event waits while the client is not connected and is sent once the connection
   * is back, after the publishes queued before it; `data` gets a `nonce` (unless it has one) so that a
   * publish whose answer was lost with the connection is recognised in the resume replay instead of being
   * sent twice. */
  async publish(room, type, data = {}, options = {}) {
    if (options.queue) return this.enqueue(room, type, data);
    return this.publishNow(this.requireOpen(), room, type, data);
  }

  async publishNow(transport, room, type, data) {
    const answer = await transport.publish(room, type, data);
    const id = answer?.event_id ?? null;
    const stored = isStoredId(id);
    if (stored) {
      const alreadySeen = this.delivered.has(id);
      const state = this.rooms.get(room);
      if (state && (!state.ownNewest || BigInt(id) > BigInt(state.ownNewest))) state.ownNewest = id;
      this.ownIds.set(id, room);
      if (this.ownIds.size > 1000) this.ownIds.delete(this.ownIds.keys().next().value);
      if (this.echo && !alreadySeen) {
        // The event as the hub stored it (plugins may have changed its data), marked local.
        const event = { ...(answer.event || { event_id: id, event_type: type, user_id: this.identity || this.userId, room_id: room, data, timestamp: Date.now() / 1000 }), local: true };
        this.emit(type, event);
        this.emit("*", event);
      }
    }
    return { event_id: id, stored, event: answer?.event ?? null };
  }

  // MARK: the publish queue

  enqueue(room, type, data) {
    if (!this.rooms.has(room)) return Promise.reject(new MoonwireError("not_in_room", `join room '${room}' before sending to it`));
    if (isPlainObject(data) && (data.nonce === undefined || data.nonce === null)) data = { ...data, nonce: randomId() };
    const nonce = isPlainObject(data) && typeof data.nonce === "string" ? data.nonce : null;
    return new Promise((resolve, reject) => {
      this.queue.push({ room, type, data, nonce, state: "queued", after: null, resolve, reject });
      this.flush();
    });
  }

  /** Queued publishes not yet accepted by the hub, oldest first: `[{room, type, data, nonce, state}]`. */
  queued() {
    return this.queue.map(({ room, type, data, nonce, state }) => ({ room, type, data, nonce, state }));
  }

  dropQueue(match, error) {
    const dropped = this.queue.filter(match);
    this.queue = this.queue.filter((item) => !match(item));
    for (const item of dropped) item.reject(error);
    if (!this.queue.length) clearTimeout(this.queueTimer);
  }

  /** Sends the queued publishes, one at a time and in order, while a transport is open. */
  async flush() {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length) {
        const transport = this.active;
        if (!transport || this.state !== "open" || this.suspended) return;
        const item = this.queue[0];
        const room = this.rooms.get(item.room);
        if (!room) {
          this.dropQueue((other) => other === item, new MoonwireError("not_in_room", `not in room '${item.room}'`));
          continue;
        }
        if (room.waiting) return; // sent once the join the room waits for is answered
        if (item.state === "unknown") {
          // Sent before the connection dropped: the resume replay (from before it was sent) says whether the
          // hub stored it; `landed` takes it off the queue if its nonce comes back.
          await transport.caughtUp();
          if (this.queue[0] !== item) continue;
          if (this.active !== transport) return;
        }
        item.state = "sending";
        item.after = this.positionBefore(item.room);
        let result;
        try {
          result = await this.publishNow(transport, item.room, item.type, item.data);
        } catch (error) {
          if (!this.queue.includes(item)) continue;
          const failure = queueFailure(error);
          if (failure === "unknown") {
            item.state = "unknown";
            // Reconnect; the resume replay (from before this publish) tells whether it was stored. An HTTP
            // publish can fail after its stream was already replaced: that newer stream resumed from a later
            // position, so it is replaced too.
            this.drop(this.active ?? transport, error);
            return;
          }
          if (failure === "retry") {
            item.state = "queued";
            this.retryQueue();
            return;
          }
          this.dropQueue((other) => other === item, error);
          continue;
        }
        this.queueRetryDelay = 0;
        if (!this.queue.includes(item)) continue;
        this.queue.splice(this.queue.indexOf(item), 1);
        item.resolve(result);
      }
    } finally {
      this.flushing = false;
    }
  }

  /** The hub refused for now (rate limit, unavailable): try again later, backing off. */
  retryQueue() {
    this.queueRetryDelay = Math.min(this.reconnectMax, Math.max(1000, this.queueRetryDelay * 2));
    clearTimeout(this.queueTimer);
    this.queueTimer = setTimeout(() => this.flush(), this.queueRetryDelay);
  }

  /** A stored event carrying the nonce of a queued publish whose answer was lost: that publish is done. It is
   * handed on once, as the echo (`local: true`), and not sent again. */
  landed(event) {
    const nonce = event.data?.nonce;
    if (!this.queue.length || typeof nonce !== "string") return false;
    const item = this.queue.find((candidate) => candidate.state === "unknown" && candidate.nonce === nonce &&
      candidate.room === event.room_id && candidate.type === event.event_type);
    if (!item) return false;
    this.queue.splice(this.queue.indexOf(item), 1);
    const state = this.rooms.get(event.room_id);
    if (newerThan(event.event_id, state.cursor)) state.cursor = event.event_id;
    if (newerThan(event.event_id, state.ownNewest)) state.ownNewest = event.event_id;
    this.ownIds.set(event.event_id, event.room_id);
    if (this.ownIds.size > 1000) this.ownIds.delete(this.ownIds.keys().next().value);
    item.resolve({ event_id: event.event_id, stored: true, event });
    if (this.echo && !this.delivered.has(event.event_id)) {
      this.delivered.add(event.event_id);
      const echo = { ...event, local: true };
      this.emit(event.event_type, echo);
      this.emit("*", echo);
    }
    return true;
  }

  /** A position in a room older than anything published from now on: the latest of the room's cursor, the
   * newest id this client published there, and the moment the current connection opened. */
  positionBefore(room) {
    let position = this.cursor(room);
    for (const candidate of [this.rooms.get(room)?.ownNewest, this.openedAt]) {
      if (candidate && (!position || BigInt(candidate) > BigInt(position))) position = candidate;
    }
    return position;
  }

  /** Where a reconnect resumes a room: its cursor, or earlier when a publish of unknown fate was sent after
   * that earlier position (so that the replay shows whether the hub stored it). */
  resumeFrom(room) {
    let position = this.cursor(room);
    for (const item of this.queue) {
      if (item.room !== room || item.state !== "unknown" || item.after == null) continue;
      if (position == null || BigInt(item.after) < BigInt(position)) position = item.after;
    }
    return position;
  }

  /** `cursorString` with the positions `resumeFrom` gives: what a (re)connecting transport sends. */
  resumeString(rooms = this.followed()) {
    const known = rooms.filter((room) => this.resumeFrom(room));
    if (rooms.length === 1) return known.length ? this.resumeFrom(rooms[0]) : null;
    if (!known.length) return null;
    return known.map((room) => `${room}:${this.resumeFrom(room)}`).join(",");
  }

  // MARK: reading

  /** Events of a room older than `before` (an event id), from the hub's history: resolves with
   * `{room_id, events, has_more}`, events oldest first. They are not handed to handlers and move no cursor. */
  history(room, { before, limit } = {}) {
    return this.http("GET", "/history?" + this.query({ room, before, limit, user_id: this.userId }));
  }

  /** Shows (or clears) the typing indicator in a room. */
  typing(room, isTyping = true) {
    return this.publish(room, "typing", { is_typing: !!isTyping }).catch(() => {});
  }

  /** Who is in a room: `[{user_id, connections, transports, metadata}]`. */
  async presence(room) {
    const answer = await this.requireOpen().presence(room);
    return answer.users || [];
  }

  /** The last stored event id seen in a room. */
  cursor(room) {
    return this.rooms.get(room)?.cursor ?? null;
  }

  /** The rooms the hub has confirmed (or will be asked for on connect); joins asked for while disconnected
   * wait until the connection is back. */
  followed() {
    return [...this.rooms.entries()].filter(([, state]) => !state.waiting).map(([room]) => room);
  }

  /** `room:id,room:id` for the rooms that have a position; a plain id for one room. */
  cursorString(rooms = this.followed()) {
    const known = rooms.filter((room) => this.rooms.get(room)?.cursor);
    if (rooms.length === 1) return known.length ? this.rooms.get(rooms[0]).cursor : null;
    if (!known.length) return null;
    return known.map((room) => `${room}:${this.rooms.get(room).cursor}`).join(",");
  }

  authHeaders() {
    return this.token ? { Authorization: `Bearer ${this.token}` } : {};
  }

  query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") search.set(key, value);
    }
    return search.toString();
  }

  /** An HTTP call to the hub; resolves with the JSON body or rejects with a MoonwireError. */
  async http(method, path, body) {
    const headers = { ...this.authHeaders() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    let json = null;
    try {
      json = await response.json();
    } catch (_) {
      json = null;
    }
    if (!response.ok) {
      const error = json?.error || {};
      throw new MoonwireError(error.code || `http_${response.status}`, error.message || response.statusText, { status: response.status });
    }
    return json;
  }

  /** Publishing over HTTP, for SSE and long-poll. */
  postPublish(room, type, data) {
    return this.http("POST", "/publish", {
      room,
      event_type: type,
      data,
      user_id: this.userId || undefined,
      connection_id: this.connectionId || undefined,
    });
  }

  getPresence(room) {
    return this.http("GET", "/presence?" + this.query({ room, user_id: this.userId }));
  }

  /** Ends a long-poll session on the hub now (`DELETE /poll`); `keepalive`, so it also leaves a closing page. */
  endPollSession(clientId) {
    try {
      fetch(this.url + "/poll?" + this.query({ client_id: clientId, user_id: this.userId }), {
        method: "DELETE",
        headers: this.authHeaders(),
        keepalive: true,
      }).catch(() => {});
    } catch (_) {
      // no fetch, or the page is going away: the session ends by itself after long_poll.session_timeout
    }
  }
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new MoonwireError("timeout", message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// MARK: WebSocket

class WebSocketTransport {
  constructor(client, callbacks) {
    this.client = client;
    this.callbacks = callbacks;
    this.pending = new Map();
    this.nextRef = 1;
    this.opened = false;
    this.closed = false;
  }

  open() {
    const client = this.client;
    const url = client.url.replace(/^http/, "ws") + "/ws";
    return new Promise((resolve, reject) => {
      let socket;
      try {
        socket = new WebSocket(url);
      } catch (error) {
        reject(new MoonwireError("websocket_unavailable", String(error)));
        return;
      }
      this.socket = socket;
      socket.onopen = () => {
        const since = {};
        for (const room of client.followed()) { const cursor = client.resumeFrom(room); if (cursor) since[room] = cursor; }
        socket.send(
          JSON.stringify({
            user_id: client.userId,
            metadata: client.metadata,
            token: client.token,
            rooms: client.followed(),
            since,
          }),
        );
      };
      socket.onmessage = (message) => {
        this.lastFrame = Date.now();
        let event;
        try {
          event = JSON.parse(message.data);
        } catch (_) {
          return;
        }
        if (!this.opened) {
          if (event.event_type === "notification" && event.data?.connection_id) {
            this.opened = true;
            this.heartbeat = setInterval(() => this.beat(), client.heartbeatInterval);
            this.callbacks.event(event);
            resolve();
            return;
          }
          if (event.event_type === "error") {
            this.refusal = new MoonwireError(event.data?.code || "refused", event.data?.message || "refused", {});
          }
          return;
        }
        const ref = event.data?.ref;
        if (ref !== undefined && this.pending.has(ref) && ["ack", "error", "presence", "heartbeat"].includes(event.event_type)) {
          const { resolve: done, reject: fail } = this.pending.get(ref);
          this.pending.delete(ref);
          if (event.event_type === "error") fail(new MoonwireError(event.data.code, event.data.message, { event }));
          else done(event);
          return;
        }
        this.callbacks.event(event);
      };
      socket.onclose = (close) => {
        clearInterval(this.heartbeat);
        for (const { reject: fail } of this.pending.values()) fail(new MoonwireError("disconnected", "connection closed"));
        this.pending.clear();
        const error = this.refusal || new MoonwireError(CLOSE_CODES[close.code] || "closed", close.reason || `closed (${close.code})`, {});
        error.details = { ...(error.details || {}), closeCode: close.code };
        if (!this.opened) {
          reject(error);
        } else if (!this.closed) {
          this.callbacks.lost(error);
        }
        this.closed = true;
      };
      socket.onerror = () => {};
    });
  }

  sendFrame(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  /** Every `heartbeat` ms: a ping, unless the previous one got no frame back at all (the network is gone
   * without the socket noticing): then the connection is given up and the client reconnects. */
  beat() {
    if (this.lastPing && !(this.lastFrame >= this.lastPing)) {
      this.fail(new MoonwireError("heartbeat_timeout", "the hub did not answer the heartbeat"));
      return;
    }
    this.lastPing = Date.now();
    this.sendFrame({ event_type: "heartbeat", data: { ping: true } });
  }

  /** Ends an open connection from this side and reports it lost. */
  fail(error) {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const { reject: fail } of this.pending.values()) fail(new MoonwireError("disconnected", "connection closed"));
    this.pending.clear();
    try {
      this.socket?.close(1000);
    } catch (_) {}
    this.callbacks.lost(error);
  }

  /** Resolves once the events the hub sent on connect (the resume replays) have been read: the hub handles a
   * connection's frames in order, so the answer to a heartbeat comes after them. */
  caughtUp() {
    if (!this.caughtUpAnswer) this.caughtUpAnswer = this.request({ event_type: "heartbeat", data: { ping: true } }).catch(() => {});
    return this.caughtUpAnswer;
  }

  request(frame) {
    const ref = this.nextRef++;
    return new Promise((resolve, reject) => {
      this.pending.set(ref, { resolve, reject });
      this.sendFrame({ ...frame, ref });
      setTimeout(() => {
        if (this.pending.has(ref)) {
          this.pending.delete(ref);
          reject(new MoonwireError("timeout", "the hub did not answer"));
        }
      }, 10000);
    });
  }

  async publish(room, type, data) {
    const ack = await this.request({ event_type: type, room_id: room, data });
    return { event_id: ack.data?.event_id ?? null, event: ack.data?.event ?? null };
  }

  async join(room) {
    const cursor = this.client.resumeFrom(room);
    const data = { room_id: room };
    if (cursor) data.since = cursor;
    await this.request({ event_type: "user_joined", data });
  }

  async leave(room) {
    await this.request({ event_type: "user_left", data: { room_id: room } });
  }

  async presence(room) {
    const answer = await this.request({ event_type: "presence", room_id: room });
    return answer.data || {};
  }

  close() {
    this.closed = true;
    clearInterval(this.heartbeat);
    try {
      this.socket?.close(1000);
    } catch (_) {}
  }
}

// MARK: Server-Sent Events

/** SSE read with fetch (not EventSource): the hub's refusals keep their reason, the token travels in a
 * header, and Moonwire resumes with its own cursors and backoff. */
class EventSourceTransport {
  constructor(client, callbacks) {
    this.client = client;
    this.callbacks = callbacks;
    this.closed = false;
  }

  path(rooms) {
    const client = this.client;
    return (
      "/events?" +
      client.query({ rooms: rooms.join(","), user_id: client.userId, replay: client.replay, plain: 1 })
    );
  }

  /** Opens a stream over `rooms`; resolves once the hub's welcome arrives, rejects with the hub's reason. */
  async stream(rooms) {
    const client = this.client;
    const controller = new AbortController();
    const headers = { Accept: "text/event-stream", ...client.authHeaders() };
    const cursor = client.resumeString(rooms);
    if (cursor) headers["Last-Event-ID"] = cursor;
    let response;
    try {
      response = await fetch(client.url + this.path(rooms), { headers, signal: controller.signal, cache: "no-store" });
    } catch (error) {
      throw new MoonwireError("sse_failed", "the event stream could not be opened: " + error.message);
    }
    if (!response.ok || !response.body) {
      const body = await response.json().catch(() => null);
      const error = body?.error || {};
      const final = response.status === 401 || response.status === 403;
      throw new MoonwireError(error.code || `http_${response.status}`, error.message || response.statusText, {
        status: response.status,
        closeCode: final ? 4003 : undefined,
      });
    }
    return new Promise((resolve, reject) => {
      let opened = false;
      const current = { controller };
      this.current = current;
      const reader = response.body.getReader();
      current.lastData = Date.now();
      const decoder = new TextDecoder();
      let buffer = "";
      let data = [];
      let eventName = "";
      const dispatch = () => {
        if (!data.length) {
          eventName = "";
          return;
        }
        const text = data.join("\n");
        const name = eventName;
        data = [];
        eventName = "";
        let event;
        try {
          event = JSON.parse(text);
        } catch (_) {
          return;
        }
        if (name === "disconnect") {
          const final = event.code === "kicked" || event.code === "refused" || event.code === "auth_failed";
          current.ending = new MoonwireError(event.code, event.message, { closeCode: final ? 4004 : 1001 });
          return;
        }
        if (!opened && event.event_type === "notification" && event.data?.connection_id) {
          opened = true;
          resolve();
        }
        this.callbacks.event(event);
      };
      const pump = async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            current.lastData = Date.now();
            buffer += decoder.decode(value, { stream: true });
            let newline;
            while ((newline = buffer.search(/\r\n|\n|\r/)) >= 0) {
              const line = buffer.slice(0, newline);
              buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
              if (line === "") dispatch();
              else if (line.startsWith(":")) continue;
              else {
                const colon = line.indexOf(":");
                const field = colon < 0 ? line : line.slice(0, colon);
                let value = colon < 0 ? "" : line.slice(colon + 1);
                if (value.startsWith(" ")) value = value.slice(1);
                if (field === "data") data.push(value);
                else if (field === "event") eventName = value;
              }
            }
          }
        } catch (_) {
          // aborted or network error: handled below
        }
        if (this.current !== current) return; // replaced by a rejoin, or closed
        if (!opened) {
          reject(current.ending || new MoonwireError("sse_failed", "the event stream ended before it opened"));
        } else if (!this.closed) {
          this.closed = true;
          this.callbacks.lost(current.ending || new MoonwireError("closed", "the event stream ended"));
        }
      };
      pump();
    });
  }

  async open() {
    const rooms = this.client.followed();
    if (rooms.length) await this.stream(rooms);
  }

  publish(room, type, data) {
    return this.client.postPublish(room, type, data);
  }

  presence(room) {
    return this.client.getPresence(room);
  }

  /** Resolves once the stream has been quiet for 300 ms (at most 5 s): the hub writes a stream's replays
   * right after its welcome, so by then they have been read. */
  caughtUp() {
    const started = Date.now();
    return new Promise((resolve) => {
      const check = () => {
        const last = this.current?.lastData ?? 0;
        if (!this.current || Date.now() - last >= 300 || Date.now() - started > 5000) resolve();
        else setTimeout(check, 100);
      };
      check();
    });
  }

  /** Rooms are part of the stream's request: open a stream over the new set, and only then drop the old
   * one. If the hub refuses the new set, the old stream keeps running and the reason is reported. */
  async reopen(rooms) {
    const previous = this.current;
    if (!rooms.length) {
      this.current = null;
      previous?.controller.abort();
      return;
    }
    this.current = null;
    try {
      await this.stream(rooms);
    } catch (error) {
      this.current = previous;
      throw error;
    }
    previous?.controller.abort();
  }

  join() {
    return this.reopen(this.client.followed());
  }

  leave(room) {
    return this.reopen(this.client.followed().filter((r) => r !== room));
  }

  close() {
    this.closed = true;
    const current = this.current;
    this.current = null;
    current?.controller.abort();
  }
}

// MARK: long-polling

class LongPollTransport {
  constructor(client, callbacks) {
    this.client = client;
    this.callbacks = callbacks;
    this.closed = false;
    this.cursor = null;
    this.waiters = []; // joins and leaves waiting for the next poll over the new room set
    this.caughtUpWaiters = []; // caughtUp() calls waiting for a poll that left nothing behind
    this.isCaughtUp = false;
    this.clientId = client.clientId; // the session this transport polls (the client's id may be renewed)
  }

  async poll(timeout) {
    const client = this.client;
    const rooms = client.followed();
    this.controller = new AbortController();
    const path =
      "/poll?" +
      client.query({
        client_id: this.clientId,
        user_id: client.userId,
        rooms: rooms.join(","),
        last_message_id: this.cursor ?? client.resumeString(rooms),
        timeout,
      });
    const response = await fetch(client.url + path, { headers: client.authHeaders(), signal: this.controller.signal, cache: "no-store" });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const error = body?.error || {};
      throw new MoonwireError(error.code || `http_${response.status}`, error.message || response.statusText, { status: response.status });
    }
    if (body.user_id) client.identity = body.user_id;
    for (const gap of body.gaps || []) this.callbacks.event(gap);
    for (const message of body.messages || []) this.callbacks.event(message);
    this.cursor = body.last_message_id || null;
    if (!body.has_more) this.markCaughtUp();
    return body;
  }

  markCaughtUp() {
    this.isCaughtUp = true;
    const waiters = this.caughtUpWaiters;
    this.caughtUpWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Resolves once a poll has brought everything that was waiting (`has_more` false): the resume replay. */
  caughtUp() {
    if (this.isCaughtUp || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push(resolve));
  }

  async open() {
    try {
      if (this.client.followed().length) await this.poll(0);
      else this.markCaughtUp();
    } catch (error) {
      const status = error.details?.status;
      if (status === 401 || status === 403) error.details = { ...error.details, closeCode: 4001 };
      throw error;
    }
    this.loop();
  }

  settle(error) {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
  }

  async loop() {
    let last = null;
    while (!this.closed) {
      if (!this.client.followed().length) {
        this.settle();
        await new Promise((resolve) => (this.wake = resolve));
        continue;
      }
      try {
        last = await this.poll(this.waiters.length || last?.has_more ? 0 : this.client.pollTimeout);
        this.settle();
      } catch (error) {
        if (this.closed) return;
        if (error.name === "AbortError") continue; // rooms changed: poll again with the new set
        const status = error.details?.status;
        if (this.waiters.some((waiter) => waiter.room) && (status === 403 || status === 429 || status === 400)) {
          // The hub refused a room just asked for: drop the rooms being joined, tell those joins why, and go
          // on with the others (a leave waiting meanwhile is done: that room is no longer polled).
          const waiters = this.waiters;
          this.waiters = [];
          const joins = waiters.filter((waiter) => waiter.room);
          for (const waiter of waiters) if (!waiter.room) waiter.resolve();
          for (const waiter of joins) this.client.rooms.delete(waiter.room);
          this.cursor = null;
          if (joins.length === 1) {
            joins[0].reject(error);
          } else {
            // Several rooms were asked for in one poll: ask for them one at a time to learn which is refused.
            (async () => {
              for (const waiter of joins) {
                this.client.rooms.set(waiter.room, { cursor: null });
                try {
                  await this.change(waiter.room);
                  waiter.resolve();
                } catch (refusal) {
                  waiter.reject(refusal);
                }
              }
            })();
          }
          continue;
        }
        this.closed = true;
        const final = status === 401 || status === 403;
        this.callbacks.lost(final ? Object.assign(error, { details: { ...error.details, closeCode: 4001 } }) : error);
        return;
      }
    }
  }

  /** The change takes effect with the next poll; resolves once the hub answered it. */
  change(room) {
    this.cursor = null;
    const done = new Promise((resolve, reject) => this.waiters.push({ room, resolve, reject }));
    this.controller?.abort();
    if (this.wake) {
      this.wake();
      this.wake = null;
    }
    return done;
  }

  publish(room, type, data) {
    return this.client.postPublish(room, type, data);
  }

  presence(room) {
    return this.client.getPresence(room);
  }

  join(room) {
    return this.change(room);
  }

  leave(room) {
    this.client.rooms.delete(room);
    return this.change(null);
  }

  /** Stops polling; with `end` (`close()`, the page hidden) also ends the session on the hub at once, so
   * that others see the user leave now rather than after long_poll.session_timeout. */
  close({ end = false } = {}) {
    this.closed = true;
    this.controller?.abort();
    if (this.wake) this.wake();
    this.settle(new MoonwireError("closed", "closed"));
    this.markCaughtUp();
    if (end) this.client.endPollSession(this.clientId);
  }
}

#!/usr/bin/env python3
"""Runs the seed document's own Python clients, unchanged, against a live Moonwire hub.

    python3 tests/seed/run_seed_clients.py --binary .build/debug/moonwire [--verbose]

Starts `BINARY serve --port P --host 127.0.0.1` on a free loopback port (in an empty temporary directory,
without MOONWIRE_* variables, so the hub runs with its documented defaults), waits for /health, runs the
scenarios below with the seed's client classes (copied verbatim into seed_websocket.py, seed_sse.py and
seed_longpoll.py), stops the hub with SIGTERM and checks that it exits. One PASS/FAIL line per scenario;
the exit status is non-zero when any scenario fails. Everything is bounded (--timeout, default 120 s) and
talks to 127.0.0.1 only.

The seed clients print what happens to them (`Error handling message: ...` when a frame fails the seed's
RealTimeEvent.from_json, `SSE connection error: ...`, ...). Their output is captured; a scenario fails if
such a line appears, and the captured output is shown under a failing scenario (always with --verbose).

Scenarios (in this order, so that exact event counts on the SSE stream are not disturbed by presence
announcements of other clients):
  seed-copies     the copied code blocks still match the seed document (skipped when it is not present)
  sse             SSEClient.connect() receives /trigger events; a new SSEClient resuming with the old
                  client's last_event_id gets exactly the events published while it was away
  ws-chat         two WebSocketRealTimeClients: message, typing, join/leave of another room, heartbeat pong,
                  disconnect announced; no frame fails the seed's parsing
  ws-replay       a client sending right after connect() (no waiting) is accepted; a later client gets it
                  in the seed's history replay on join
  longpoll        LongPollingClient.send_message / _poll_once: seed fields, cursor, only-new, waiting poll
                  woken by a message from another client, an empty answer after the poll timeout
  cross           /message reaches the seed WebSocket and SSE clients (and long-poll); /trigger and a
                  WebSocket message reach the other transports
  shutdown        SIGTERM while a seed WebSocket client, SSE stream and waiting long-poll are open: the hub
                  exits within 10 s with status 0, after a close frame, the end of the stream, an answer
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
import typing
import urllib.request
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DEFAULT_SEED_DOC = REPO.parent / "shared" / "seed" / "realtime-communication.md"
HOST = "127.0.0.1"

# Where the copies come from: (module file, the seed document's section heading, index of the python block).
SEED_COPIES = [
    ("seed_websocket.py", "WebSocket Implementation", 0),
    ("seed_sse.py", "Server-Sent Events (SSE) Implementation", 1),
    ("seed_longpoll.py", "Long Polling Implementation", 2),
]
HEADER_END = "# " + "-" * 94 + "\n"

# Lines the seed clients print when something goes wrong on their side.
SEED_ERROR_PATTERNS = (
    "Error handling message",
    "Connection failed",
    "Heartbeat error",
    "SSE connection error",
    "Polling error",
)

REAL_STDOUT = sys.stdout
# Seconds the hub has to exit after SIGTERM (its own shutdown_timeout defaults to 5 s).
SHUTDOWN_GRACE = 10.0


def report(line: str = "") -> None:
    REAL_STDOUT.write(line + "\n")
    REAL_STDOUT.flush()


# --------------------------------------------------------------------------------------------------------
# Capturing what the seed clients print
# --------------------------------------------------------------------------------------------------------


class Capture(io.TextIOBase):
    """Replaces sys.stdout while the seed clients run: records every line they print (tagged with the
    running scenario) and echoes it with --verbose."""

    def __init__(self, echo: bool):
        self.echo = echo
        self.lines: list[tuple[str, str]] = []
        self.scenario = "-"
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        while "\n" in self._partial:
            line, self._partial = self._partial.split("\n", 1)
            self.lines.append((self.scenario, line))
            if self.echo:
                report(f"    seed| {line}")
        return len(text)

    def flush(self) -> None:
        pass

    def of(self, scenario: str) -> list[str]:
        return [line for tag, line in self.lines if tag == scenario]


# --------------------------------------------------------------------------------------------------------
# Loading the seed code unchanged
# --------------------------------------------------------------------------------------------------------


def load_seed_module(name: str, extra_globals: dict | None = None) -> types.ModuleType:
    """Executes tests/seed/<name>.py as module `name`, with `extra_globals` defined before its first line.

    The file is executed exactly as it is; the extra globals only supply names its code uses without
    importing them (see load_seed()). Module-level names the code does define are not touched."""
    path = HERE / f"{name}.py"
    module = types.ModuleType(name)
    module.__file__ = str(path)
    module.__dict__.update(extra_globals or {})
    sys.modules[name] = module  # dataclasses look their module up here
    code = compile(path.read_text(encoding="utf-8"), str(path), "exec")
    exec(code, module.__dict__)
    return module


def load_seed():
    # WebSocket block: imports everything it uses (asyncio, websockets, json, time, uuid, ...). Loaded as is.
    ws = load_seed_module("seed_websocket")

    # SSE block: the copy cannot be imported as it stands, for three reasons that concern the seed's code,
    # not Moonwire, and that the harness works around without editing the copy:
    #  * `import aiohttp_sse`: only the seed's *server* would use that package (and it does not even use it);
    #    SSEClient never touches it. When the package is not installed, an empty stand-in module of that
    #    name is put into sys.modules so the import line succeeds. Installing the real package would change
    #    nothing for the client, so the test does not depend on it.
    #  * `Callable` is used in annotations (SSEClient.add_event_handler) but missing from the block's
    #    `from typing import ...` line, so defining the class raises NameError. typing.Callable is
    #    provided as a module global before the code runs.
    #  * `uuid` is used (SSEClient.__init__ when no client_id is given, the server's handlers) but never
    #    imported in the block. The uuid module is provided as a module global in the same way.
    if importlib.util.find_spec("aiohttp_sse") is None:
        sys.modules["aiohttp_sse"] = types.ModuleType(
            "aiohttp_sse", "Empty stand-in for the seed SSE block's unused `import aiohttp_sse` (see run_seed_clients.py).")
    sse = load_seed_module("seed_sse", {"Callable": typing.Callable, "uuid": uuid})

    # Long-poll block: imports everything it uses. Loaded as is.
    lp = load_seed_module("seed_longpoll")
    return ws, sse, lp


def seed_blocks(doc: Path) -> list[str]:
    text = doc.read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.S | re.M)


# --------------------------------------------------------------------------------------------------------
# Checks and waiting
# --------------------------------------------------------------------------------------------------------


class CheckFailed(Exception):
    pass


class Scenario:
    """Context of one scenario: checks record what passed, the first failed check raises."""

    def __init__(self, name: str, capture: Capture):
        self.name = name
        self.capture = capture
        self.notes: list[str] = []
        self.checks = 0

    def check(self, condition, what: str, detail: str = "") -> None:
        self.checks += 1
        if not condition:
            raise CheckFailed(what + (f"\n{detail}" if detail else ""))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def seed_errors(self) -> list[str]:
        return [line for line in self.capture.of(self.name) if any(p in line for p in SEED_ERROR_PATTERNS)]


async def wait_until(predicate, timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(interval)


class Inbox:
    """Collects the RealTimeEvents a seed WebSocketRealTimeClient hands to its event handlers."""

    def __init__(self, seed_ws, client):
        self.events: list = []
        self.changed = asyncio.Event()
        for event_type in seed_ws.EventType:
            client.add_event_handler(event_type, self._handle)

    async def _handle(self, event) -> None:
        self.events.append(event)
        self.changed.set()

    async def wait_for(self, predicate, timeout: float = 5.0, start: int = 0):
        """The first event (from index `start`) matching `predicate`, waiting up to `timeout` s; None if none."""
        deadline = time.monotonic() + timeout
        index = start
        while True:
            while index < len(self.events):
                event = self.events[index]
                index += 1
                if predicate(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    def describe(self, last: int = 12) -> str:
        rows = [f"{e.event_type.value} user={e.user_id} room={e.room_id} data={e.data}" for e in self.events[-last:]]
        return "received (last %d of %d): " % (len(rows), len(self.events)) + ("; ".join(rows) or "nothing")


class FrameSpy:
    """Observes the frames the seed WebSocket client fails to parse.

    The seed client's listener calls RealTimeEvent.from_json(frame) and prints `Error handling message: <e>`
    when it raises, which names the problem but not the frame. To report the exact frame, from_json is
    wrapped: the wrapper calls the seed's own from_json unchanged, returns what it returns and re-raises
    what it raises; it only records the raw frame on the way out. The client behaves exactly as before."""

    def __init__(self, seed_ws, capture: Capture):
        self.failed: list[tuple[str, str, str]] = []  # (scenario, frame, error)
        original = seed_ws.RealTimeEvent.__dict__["from_json"].__func__
        spy = self

        def from_json(cls, data):
            try:
                return original(cls, data)
            except Exception as error:
                spy.failed.append((capture.scenario, data if isinstance(data, str) else repr(data), repr(error)))
                raise

        seed_ws.RealTimeEvent.from_json = classmethod(from_json)

    def of(self, scenario: str) -> list[tuple[str, str]]:
        return [(frame, error) for tag, frame, error in self.failed if tag == scenario]


# --------------------------------------------------------------------------------------------------------
# HTTP helpers (plain aiohttp, for what the seed clients have no method for: /trigger, presence)
# --------------------------------------------------------------------------------------------------------


async def post_json(base: str, path: str, body: dict) -> tuple[int, object]:
    from aiohttp import ClientSession, ClientTimeout

    async with ClientSession(timeout=ClientTimeout(total=10)) as session:
        async with session.post(base + path, json=body) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


async def get_json(base: str, path: str, params: dict | None = None, timeout: float = 10) -> tuple[int, object]:
    from aiohttp import ClientSession, ClientTimeout

    async with ClientSession(timeout=ClientTimeout(total=timeout)) as session:
        async with session.get(base + path, params=params) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, text


async def present_in(base: str, room: str) -> set[str] | None:
    """Users present in `room` per Moonwire's /api presence (None if the API does not answer)."""
    try:
        status, body = await get_json(base, f"/api/rooms/{room}/presence")
    except Exception:
        return None
    if status != 200 or not isinstance(body, dict):
        return None
    return {user.get("user_id") for user in body.get("users", []) if isinstance(user, dict)}


async def wait_gone(base: str, room: str, user: str, timeout: float = 5.0) -> None:
    """Waits until `user` no longer counts as present in `room` (falls back to a pause without the API)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        users = await present_in(base, room)
        if users is None:
            await asyncio.sleep(1.0)
            return
        if user not in users:
            return
        await asyncio.sleep(0.05)


async def cancel(task: asyncio.Task | None) -> None:
    if task is None:
        return
    task.cancel()
    try:
        await asyncio.wait_for(task, 5)
    except (asyncio.CancelledError, asyncio.TimeoutError, Exception):
        pass


# --------------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------------


class Context:
    def __init__(self, port: int, seed_ws, seed_sse, seed_lp, spy: FrameSpy, capture: Capture, seed_doc: Path):
        self.port = port
        self.base = f"http://{HOST}:{port}"
        self.ws_url = f"ws://{HOST}:{port}/ws"
        self.sse_url = f"http://{HOST}:{port}/events"
        self.ws, self.sse, self.lp = seed_ws, seed_sse, seed_lp
        self.spy = spy
        self.capture = capture
        self.seed_doc = seed_doc
        self.token = uuid.uuid4().hex[:8]

    def heartbeat_event(self, user_id: str):
        """A heartbeat built with the seed's RealTimeEvent, exactly as the seed client's _heartbeat_loop does."""
        return self.ws.RealTimeEvent(
            event_id=str(uuid.uuid4()),
            event_type=self.ws.EventType.HEARTBEAT,
            user_id=user_id,
            room_id=None,
            data={"ping": True},
            timestamp=time.time(),
        )

    async def ping(self, sc: Scenario, client, inbox: Inbox, who: str) -> None:
        """Sends a seed heartbeat on the client's websocket and waits for the pong. Frames of one connection
        are handled in order, so the pong also proves that every frame sent before it has been handled."""
        mark = len(inbox.events)
        await client.websocket.send(self.heartbeat_event(client.user_id).to_json())
        pong = await inbox.wait_for(
            lambda e: e.event_type == self.ws.EventType.HEARTBEAT and isinstance(e.data, dict) and e.data.get("pong") is True,
            start=mark)
        sc.check(pong is not None, f"{who} gets a pong (heartbeat event with data.pong == True)", inbox.describe())
        sc.check(pong.user_id == "system", f"{who}'s pong comes from user 'system' (seed)", f"got user_id={pong.user_id!r}")

    async def connect_ws(self, sc: Scenario, user_id: str):
        client = self.ws.WebSocketRealTimeClient(self.ws_url, user_id)
        inbox = Inbox(self.ws, client)
        await client.connect()
        sc.check(client.connected, f"seed WebSocketRealTimeClient '{user_id}' connects to {self.ws_url}",
                 "; ".join(self.capture.of(sc.name)[-3:]))
        return client, inbox

    async def wait_welcome(self, sc: Scenario, client, inbox: Inbox) -> None:
        E = self.ws.EventType
        welcome = await inbox.wait_for(lambda e: e.event_type == E.NOTIFICATION and e.user_id == "system")
        sc.check(welcome is not None, f"'{client.user_id}' gets the welcome notification", inbox.describe())
        data = welcome.data if isinstance(welcome.data, dict) else {}
        sc.check(client.user_id in str(data.get("message", "")) and "general" in (data.get("rooms") or []),
                 f"the welcome names '{client.user_id}' and lists room 'general' (seed: data.message, data.rooms)",
                 f"got data={welcome.data}")


async def scenario_seed_copies(ctx: Context, sc: Scenario) -> str | None:
    if not ctx.seed_doc.is_file():
        return f"seed document not found at {ctx.seed_doc}"
    blocks = seed_blocks(ctx.seed_doc)
    sc.check(len(blocks) == 3, "the seed document has three python code blocks", f"found {len(blocks)}")
    for filename, section, index in SEED_COPIES:
        text = (HERE / filename).read_text(encoding="utf-8")
        sc.check(HEADER_END in text, f"{filename} has its header comment")
        copy = text.split(HEADER_END, 1)[1]
        sc.check(copy == blocks[index], f"{filename} is byte for byte the seed's '{section}' block",
                 "the copy differs from the seed document; re-copy it, never edit it")
    return None


async def scenario_sse(ctx: Context, sc: Scenario) -> None:
    client_id = f"seed-sse-{ctx.token}"
    first = ctx.sse.SSEClient(ctx.sse_url, client_id=client_id)
    task = asyncio.create_task(first.connect())
    second = None
    task2 = None
    try:
        sc.check(await wait_until(lambda: first.connected or task.done(), 5) and first.connected,
                 f"seed SSEClient connects to {ctx.sse_url}", "; ".join(ctx.capture.of(sc.name)[-3:]))
        # What the hub sends on connect before any event (Moonwire: a welcome notification): counted once here,
        # so that the later counts say exactly how many events arrived.
        await wait_until(lambda: first.metrics["events_received"] >= 1, 2)
        await asyncio.sleep(0.3)
        on_connect = first.metrics["events_received"]
        sc.note(f"data lines on connect: {on_connect}")

        published = []
        for i, event_type in enumerate(["message", "notification", "message"]):
            status, reply = await post_json(ctx.base, "/trigger", {
                "event_type": event_type, "data": {"message": f"sse-{ctx.token}-{i}", "n": i}})
            sc.check(status == 200 and isinstance(reply, dict) and reply.get("status") == "sent",
                     "POST /trigger {event_type, data} answers {'status': 'sent', ...} (seed)", f"HTTP {status}: {reply}")
            published.append(reply.get("event_id"))
        want = on_connect + 3
        got = await wait_until(lambda: first.metrics["events_received"] >= want, 5)
        sc.check(got, "SSEClient's metrics['events_received'] grows by the 3 triggered events",
                 f"events_received={first.metrics['events_received']}, expected {want}")
        await asyncio.sleep(0.3)
        sc.check(first.metrics["events_received"] == want, "no event arrives twice",
                 f"events_received={first.metrics['events_received']}, expected {want}")
        sc.check(bool(first.last_event_id), "SSEClient's last_event_id is set from the stream's id: lines",
                 f"last_event_id={first.last_event_id!r}")
        if published[-1]:
            sc.check(first.last_event_id == published[-1], "last_event_id is the id of the last triggered event",
                     f"last_event_id={first.last_event_id!r}, /trigger answered event_id={published[-1]!r}")
        resume_from = first.last_event_id

        # Away: the stream ends, events are published meanwhile.
        await cancel(task)
        task = None
        await wait_gone(ctx.base, "general", client_id)
        missed = []
        for i in range(2):
            status, reply = await post_json(ctx.base, "/trigger", {
                "event_type": "message", "data": {"message": f"sse-{ctx.token}-missed-{i}"}})
            sc.check(status == 200 and isinstance(reply, dict) and reply.get("status") == "sent",
                     "POST /trigger while the client is away answers {'status': 'sent'}", f"HTTP {status}: {reply}")
            missed.append(reply.get("event_id"))

        # Back: a new seed SSEClient whose last_event_id is the old one's sends it as Last-Event-ID.
        second = ctx.sse.SSEClient(ctx.sse_url, client_id=client_id)
        second.last_event_id = resume_from
        task2 = asyncio.create_task(second.connect())
        sc.check(await wait_until(lambda: second.connected or task2.done(), 5) and second.connected,
                 "a second SSEClient (last_event_id set) connects")
        want = on_connect + len(missed)
        got = await wait_until(lambda: second.metrics["events_received"] >= want, 5)
        sc.check(got, f"resuming with Last-Event-ID delivers the {len(missed)} events published while away",
                 f"events_received={second.metrics['events_received']}, expected {want} "
                 f"({on_connect} on connect + {len(missed)} missed); Last-Event-ID sent: {resume_from!r}")
        await asyncio.sleep(0.5)
        sc.check(second.metrics["events_received"] == want,
                 "only the missed events are replayed (not the ones the first client already had)",
                 f"events_received={second.metrics['events_received']}, expected {want}")
        if missed[-1]:
            sc.check(second.last_event_id == missed[-1], "after the replay, last_event_id is the last missed event's id",
                     f"last_event_id={second.last_event_id!r}, expected {missed[-1]!r}")

        # And live events keep coming after the replay.
        status, reply = await post_json(ctx.base, "/trigger", {"event_type": "message", "data": {"message": f"sse-{ctx.token}-live"}})
        got = await wait_until(lambda: second.metrics["events_received"] >= want + 1, 5)
        sc.check(got, "a live event after the replay arrives", f"events_received={second.metrics['events_received']}")
        if isinstance(reply, dict) and reply.get("event_id"):
            sc.check(second.last_event_id == reply["event_id"], "last_event_id follows the live event",
                     f"last_event_id={second.last_event_id!r}, expected {reply['event_id']!r}")
        sc.check(second.metrics["connection_attempts"] == 1 and first.metrics["connection_attempts"] == 1,
                 "each SSEClient connected once", f"{first.metrics} / {second.metrics}")
    finally:
        await cancel(task)
        await cancel(task2)
        await wait_gone(ctx.base, "general", client_id)


async def scenario_ws_chat(ctx: Context, sc: Scenario) -> None:
    E = ctx.ws.EventType
    alice = bob = None
    try:
        bob, bob_in = await ctx.connect_ws(sc, "bob")
        await ctx.wait_welcome(sc, bob, bob_in)
        alice, alice_in = await ctx.connect_ws(sc, "alice")
        await ctx.wait_welcome(sc, alice, alice_in)
        joined = await bob_in.wait_for(lambda e: e.event_type == E.USER_JOINED and e.user_id == "alice" and e.room_id == "general")
        sc.check(joined is not None, "bob gets user_joined for alice in 'general' (auto-join)", bob_in.describe())
        sc.check(isinstance(joined.data, dict) and joined.data.get("user_id") == "alice",
                 "the user_joined event's data.user_id is 'alice' (seed)", f"got data={joined.data}")

        # A chat message.
        text = f"hello bob {ctx.token}"
        await alice.send_message("general", text)
        msg = await bob_in.wait_for(lambda e: e.event_type == E.MESSAGE and isinstance(e.data, dict) and e.data.get("message") == text)
        sc.check(msg is not None, "bob receives alice's send_message('general', ...)", bob_in.describe())
        sc.check(msg.user_id == "alice" and msg.room_id == "general",
                 "the message carries user_id 'alice' and room_id 'general'", f"got user_id={msg.user_id!r} room_id={msg.room_id!r}")
        sc.check(msg.data == {"message": text}, "the message's data is what alice sent", f"got data={msg.data}")
        sc.check(isinstance(msg.event_id, str) and msg.event_id and isinstance(msg.timestamp, (int, float)),
                 "the message has an event_id string and a numeric timestamp", f"event_id={msg.event_id!r} timestamp={msg.timestamp!r}")

        # Typing.
        await alice.send_typing("general", True)
        typing_event = await bob_in.wait_for(lambda e: e.event_type == E.TYPING and e.user_id == "alice")
        sc.check(typing_event is not None, "bob receives alice's send_typing('general', True)", bob_in.describe())
        sc.check(typing_event.room_id == "general" and isinstance(typing_event.data, dict) and typing_event.data.get("is_typing") is True,
                 "the typing event has room_id 'general' and data.is_typing == True",
                 f"got room_id={typing_event.room_id!r} data={typing_event.data}")

        # Another room: bob joins, alice joins (bob is told), alice talks there, alice leaves (bob is told).
        room = f"seed-room-{ctx.token}"
        await bob.join_room(room)
        await ctx.ping(sc, bob, bob_in, "bob")  # bob's join is handled before his heartbeat is answered
        mark = len(bob_in.events)
        await alice.join_room(room)
        joined = await bob_in.wait_for(lambda e: e.event_type == E.USER_JOINED and e.user_id == "alice" and e.room_id == room, start=mark)
        sc.check(joined is not None, f"alice.join_room('{room}') gives bob user_joined for alice in that room", bob_in.describe())
        sc.check(isinstance(joined.data, dict) and joined.data.get("user_id") == "alice",
                 "its data.user_id is 'alice'", f"got data={joined.data}")
        text2 = f"in the side room {ctx.token}"
        await alice.send_message(room, text2)
        msg2 = await bob_in.wait_for(lambda e: e.event_type == E.MESSAGE and isinstance(e.data, dict) and e.data.get("message") == text2)
        sc.check(msg2 is not None and msg2.room_id == room and msg2.user_id == "alice",
                 f"bob receives alice's message in '{room}'", bob_in.describe())
        mark = len(bob_in.events)
        await alice.leave_room(room)
        left = await bob_in.wait_for(lambda e: e.event_type == E.USER_LEFT and e.user_id == "alice" and e.room_id == room, start=mark)
        sc.check(left is not None, f"alice.leave_room('{room}') gives bob user_left for alice in that room", bob_in.describe())
        sc.check(isinstance(left.data, dict) and left.data.get("user_id") == "alice",
                 "its data.user_id is 'alice'", f"got data={left.data}")

        # Heartbeat, as the seed client's _heartbeat_loop sends it (without waiting its 25 s).
        await ctx.ping(sc, alice, alice_in, "alice")

        # The seed never echoes a message to its sender.
        echoed = [e for e in alice_in.events if e.event_type == E.MESSAGE and isinstance(e.data, dict)
                  and e.data.get("message") in (text, text2)]
        sc.check(not echoed, "alice does not get her own messages back (seed: exclude sender)",
                 alice_in.describe())

        # Disconnect: bob is told alice left 'general'.
        mark = len(bob_in.events)
        await alice.disconnect()
        left = await bob_in.wait_for(lambda e: e.event_type == E.USER_LEFT and e.user_id == "alice" and e.room_id == "general", start=mark)
        sc.check(left is not None, "alice.disconnect() gives bob user_left for alice in 'general'", bob_in.describe())
        alice = None
        await ctx.ping(sc, bob, bob_in, "bob")
        sc.check(bob.connected, "bob is still connected", "; ".join(ctx.capture.of(sc.name)[-3:]))
    finally:
        for client in (alice, bob):
            if client is not None:
                try:
                    await asyncio.wait_for(client.disconnect(), 5)
                except Exception:
                    pass
        await wait_gone(ctx.base, "general", "alice")
        await wait_gone(ctx.base, "general", "bob")


async def scenario_ws_replay(ctx: Context, sc: Scenario) -> None:
    E = ctx.ws.EventType
    dave = carol = None
    try:
        # dave sends as soon as connect() returns, as a seed user would, without waiting for anything.
        dave, dave_in = await ctx.connect_ws(sc, f"dave-{ctx.token}")
        text = f"sent right after connect {ctx.token}"
        await dave.send_message("general", text)
        await ctx.ping(sc, dave, dave_in, "dave")
        await ctx.wait_welcome(sc, dave, dave_in)
        # carol connects later: the seed replays the room's recent messages on join.
        carol, carol_in = await ctx.connect_ws(sc, f"carol-{ctx.token}")
        await ctx.wait_welcome(sc, carol, carol_in)
        replayed = await carol_in.wait_for(lambda e: e.event_type == E.MESSAGE and isinstance(e.data, dict) and e.data.get("message") == text)
        sc.check(replayed is not None, "carol gets dave's earlier message in the history replayed on joining 'general'",
                 carol_in.describe())
        sc.check(replayed.user_id == dave.user_id and replayed.room_id == "general",
                 "the replayed message keeps its sender and room", f"user_id={replayed.user_id!r} room_id={replayed.room_id!r}")
        sc.check(len(carol_in.events) >= 2, "the replay parses with the seed's RealTimeEvent.from_json", carol_in.describe())
    finally:
        for client in (dave, carol):
            if client is not None:
                try:
                    await asyncio.wait_for(client.disconnect(), 5)
                except Exception:
                    pass


SEED_POLL_FIELDS = ("message_id", "type", "content", "sender", "timestamp")


async def scenario_longpoll(ctx: Context, sc: Scenario) -> None:
    client = ctx.lp.LongPollingClient(ctx.base, client_id=f"seed-lp-{ctx.token}")
    received: list[dict] = []

    async def on_message(message):
        received.append(message)

    client.add_message_handler(on_message)

    def check_fields(message: dict) -> None:
        missing = [f for f in SEED_POLL_FIELDS if f not in message]
        sc.check(not missing, "each polled message has the seed's fields message_id, type, content, sender, timestamp",
                 f"missing {missing} in {message}")
        sc.check(isinstance(message["message_id"], str) and message["message_id"]
                 and isinstance(message["timestamp"], (int, float)),
                 "message_id is a non-empty string and timestamp a number", f"{message}")

    first_text = f"lp-first-{ctx.token}"
    reply = await client.send_message("message", first_text, sender="lp-alice")
    sc.check(isinstance(reply, dict) and reply.get("status") == "sent",
             "LongPollingClient.send_message(...) returns {'status': 'sent', ...}", f"got {reply}")

    await asyncio.wait_for(client._poll_once(), 10)
    sc.check(received, "_poll_once() delivers messages to the handler", f"metrics={client.metrics}")
    for message in received:
        check_fields(message)
    last = received[-1]
    sc.check(last["content"] == first_text and last["type"] == "message" and last["sender"] == "lp-alice",
             "the newest polled message is the one sent: type 'message', content, sender (seed)", f"got {last}")
    sc.check(client.last_message_id == last["message_id"],
             "last_message_id is the message_id of the newest message (seed)",
             f"client.last_message_id={client.last_message_id!r}, newest message_id={last['message_id']!r}")
    if reply.get("message_id"):
        sc.check(last["message_id"] == reply["message_id"], "the polled message_id is the one /message answered",
                 f"{last['message_id']!r} vs {reply['message_id']!r}")

    # Only what is new.
    received.clear()
    second_text = f"lp-second-{ctx.token}"
    reply = await client.send_message("message", second_text, sender="lp-alice")
    sc.check(reply.get("status") == "sent", "the second send_message returns status 'sent'", f"got {reply}")
    await asyncio.wait_for(client._poll_once(), 10)
    sc.check(len(received) == 1 and received[0]["content"] == second_text,
             "a second _poll_once() returns only the new message", f"got {received}")
    check_fields(received[0])
    sc.check(client.last_message_id == received[0]["message_id"], "last_message_id moves to the new message",
             f"{client.last_message_id!r} vs {received[0]['message_id']!r}")

    # Nothing new: the poll waits (the seed client asks for 30 s) until another client's message arrives.
    received.clear()
    third_text = f"lp-third-{ctx.token}"
    other = ctx.lp.LongPollingClient(ctx.base, client_id=f"seed-lp-other-{ctx.token}")
    started = time.monotonic()
    poll = asyncio.create_task(client._poll_once())
    await asyncio.sleep(1.0)
    sc.check(not poll.done(), "with nothing new, _poll_once() waits instead of answering at once",
             f"answered after {time.monotonic() - started:.2f} s with {received}")
    reply = await other.send_message("notification", third_text, sender="lp-bob")
    sc.check(reply.get("status") == "sent", "another LongPollingClient's send_message returns status 'sent'", f"got {reply}")
    try:
        await asyncio.wait_for(poll, 10)
    except asyncio.TimeoutError:
        sc.check(False, "the waiting poll returns once another client sends a message", "still waiting after 10 s")
    elapsed = time.monotonic() - started
    sc.check(len(received) == 1 and received[0]["content"] == third_text and received[0]["type"] == "notification"
             and received[0]["sender"] == "lp-bob",
             "the waiting poll returns with exactly the other client's message (type, content, sender)", f"got {received}")
    sc.check(0.9 <= elapsed < 5, "it returned when the message came (about 1 s), not at the timeout", f"after {elapsed:.2f} s")
    check_fields(received[0])
    sc.note(f"waiting poll answered after {elapsed:.2f} s")

    # The seed server's answer to a poll that times out: no messages, the same last_message_id. The seed
    # client hard-codes 30 s, so this one poll uses the seed's query directly with timeout=1.
    position = client.last_message_id
    started = time.monotonic()
    status, body = await get_json(ctx.base, "/poll", {"client_id": client.client_id, "last_message_id": position, "timeout": 1})
    elapsed = time.monotonic() - started
    sc.check(status == 200 and isinstance(body, dict) and body.get("messages") == []
             and body.get("last_message_id") == position and body.get("has_more") is False,
             "GET /poll?timeout=1 with nothing new answers {messages: [], last_message_id: unchanged, has_more: false}",
             f"HTTP {status}: {body}")
    sc.check(0.8 <= elapsed < 4, "it answers after the timeout", f"after {elapsed:.2f} s")
    sc.check(client.metrics["messages_received"] >= 3 and client.metrics["poll_requests"] == 3,
             "the client's metrics add up", f"{client.metrics}")


async def scenario_cross(ctx: Context, sc: Scenario) -> None:
    E = ctx.ws.EventType
    ws_client = None
    sse_task = None
    try:
        ws_client, ws_in = await ctx.connect_ws(sc, f"xws-{ctx.token}")
        await ctx.wait_welcome(sc, ws_client, ws_in)
        sse_client = ctx.sse.SSEClient(ctx.sse_url, client_id=f"xsse-{ctx.token}")
        sse_task = asyncio.create_task(sse_client.connect())
        sc.check(await wait_until(lambda: sse_client.connected or sse_task.done(), 5) and sse_client.connected,
                 "the seed SSEClient connects")
        poller = ctx.lp.LongPollingClient(ctx.base, client_id=f"xlp-{ctx.token}")
        polled: list[dict] = []

        async def on_message(message):
            polled.append(message)

        poller.add_message_handler(on_message)

        # A first message puts the long-poll client's cursor at the end of the room (a first poll returns
        # everything retained, as the seed's does) and shows every client is listening.
        marker = f"x-marker-{ctx.token}"
        reply = await poller.send_message("message", marker, sender="x-poster")
        await asyncio.wait_for(poller._poll_once(), 10)
        got = await ws_in.wait_for(lambda e: isinstance(e.data, dict) and e.data.get("content") == marker)
        sc.check(got is not None, "warm-up: the WebSocket client receives a /message", ws_in.describe())
        await wait_until(lambda: sse_client.last_event_id == reply.get("message_id"), 5)
        polled.clear()

        async def poll_for(text: str, what: str):
            before = len(polled)
            await asyncio.wait_for(poller._poll_once(), 10)
            match = [m for m in polled[before:] if m.get("content") == text]
            sc.check(match, f"{what} reaches the LongPollingClient", f"polled {polled[before:]}")
            return match[0]

        # 1. POST /message (the seed long-poll server's publish) reaches WebSocket and SSE.
        count = sse_client.metrics["events_received"]
        text = f"x-message-{ctx.token}"
        reply = await poller.send_message("message", text, sender="x-poster")
        sc.check(reply.get("status") == "sent", "POST /message returns status 'sent'", f"got {reply}")
        got = await ws_in.wait_for(lambda e: isinstance(e.data, dict) and e.data.get("content") == text)
        sc.check(got is not None, "a message POSTed to /message reaches the seed WebSocket client", ws_in.describe())
        sc.check(got.event_type == E.MESSAGE and got.user_id == "x-poster" and got.room_id == "general",
                 "it arrives as a 'message' from the sender in 'general'",
                 f"event_type={got.event_type} user_id={got.user_id!r} room_id={got.room_id!r}")
        arrived = await wait_until(lambda: sse_client.metrics["events_received"] > count
                                   and (not reply.get("message_id") or sse_client.last_event_id == reply["message_id"]), 5)
        sc.check(arrived, "a message POSTed to /message reaches the seed SSEClient (count grows, last_event_id is its id)",
                 f"events_received {count} -> {sse_client.metrics['events_received']}, last_event_id={sse_client.last_event_id!r}, "
                 f"message_id={reply.get('message_id')!r}")
        await poll_for(text, "a message POSTed to /message")

        # 2. POST /trigger (the seed SSE server's publish) reaches WebSocket and long-poll.
        count = sse_client.metrics["events_received"]
        text = f"x-trigger-{ctx.token}"
        status, reply = await post_json(ctx.base, "/trigger", {"event_type": "notification", "data": {"message": text}})
        sc.check(status == 200 and reply.get("status") == "sent", "POST /trigger returns status 'sent'", f"HTTP {status}: {reply}")
        got = await ws_in.wait_for(lambda e: isinstance(e.data, dict) and e.data.get("message") == text)
        sc.check(got is not None and got.event_type == E.NOTIFICATION,
                 "a /trigger notification reaches the seed WebSocket client as 'notification'", ws_in.describe())
        sc.check(await wait_until(lambda: sse_client.metrics["events_received"] > count, 5),
                 "it reaches the seed SSEClient", f"events_received={sse_client.metrics['events_received']}")
        message = await poll_for(text, "a /trigger event")
        sc.check(message.get("type") == "notification", "its long-poll type is 'notification'", f"{message}")

        # 3. A WebSocket message reaches SSE and long-poll.
        count = sse_client.metrics["events_received"]
        before_id = sse_client.last_event_id
        text = f"x-ws-{ctx.token}"
        await ws_client.send_message("general", text)
        sc.check(await wait_until(lambda: sse_client.metrics["events_received"] > count and sse_client.last_event_id != before_id, 5),
                 "a seed WebSocket send_message reaches the seed SSEClient (count grows, new last_event_id)",
                 f"events_received={sse_client.metrics['events_received']} last_event_id={sse_client.last_event_id!r}")
        message = await poll_for(text, "a WebSocket message")
        sc.check(message.get("sender") == ws_client.user_id and message.get("type") == "message",
                 "it polls as a 'message' from the WebSocket user", f"{message}")
        if message.get("message_id"):
            sc.check(sse_client.last_event_id == message["message_id"],
                     "SSE's id and long-poll's message_id are the same id for the same event",
                     f"{sse_client.last_event_id!r} vs {message['message_id']!r}")
    finally:
        if ws_client is not None:
            try:
                await asyncio.wait_for(ws_client.disconnect(), 5)
            except Exception:
                pass
        await cancel(sse_task)


async def shutdown_with_clients(ctx: Context, sc: Scenario, server: "Server", grace: float) -> None:
    """SIGTERM while a seed WebSocket client, a seed SSEClient and a waiting seed long-poll are open: the hub
    exits within `grace` seconds with status 0, and each client is let go (close frame, end of stream, answer)."""
    ws_client, ws_in = await ctx.connect_ws(sc, f"bye-ws-{ctx.token}")
    await ctx.wait_welcome(sc, ws_client, ws_in)
    sse_client = ctx.sse.SSEClient(ctx.sse_url, client_id=f"bye-sse-{ctx.token}")
    sse_task = asyncio.create_task(sse_client.connect())
    sc.check(await wait_until(lambda: sse_client.connected or sse_task.done(), 5) and sse_client.connected,
             "the seed SSEClient connects")
    poller = ctx.lp.LongPollingClient(ctx.base, client_id=f"bye-lp-{ctx.token}")
    await poller.send_message("message", f"bye-{ctx.token}", sender="bye-poster")
    await asyncio.wait_for(poller._poll_once(), 10)  # history (not empty): answered at once, sets the cursor
    poll_task = asyncio.create_task(poller._poll_once())  # nothing new: waits (30 s, the seed's timeout)
    await asyncio.sleep(0.5)
    sc.check(not poll_task.done(), "a seed long-poll is waiting when SIGTERM comes")

    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        status = await asyncio.to_thread(server.process.wait, grace)
    except subprocess.TimeoutExpired:
        status = None
    elapsed = time.monotonic() - started
    sc.check(status is not None, f"SIGTERM with clients open: moonwire exits within {grace:.0f} s",
             f"still running after {elapsed:.1f} s")
    sc.check(status == 0, "it exits with status 0", f"exit status {status}")
    sc.note(f"exited after {elapsed:.2f} s")
    try:
        await asyncio.wait_for(asyncio.shield(poll_task), 3)
        poll_outcome = None
    except asyncio.TimeoutError:
        poll_outcome = "still waiting 3 s after the hub exited"
    except Exception as error:
        poll_outcome = f"raised {error!r} (no answer before the connection closed)"
    await wait_until(lambda: sse_task.done(), 3)
    await wait_until(lambda: ws_client.websocket.close_code is not None, 3)
    sc.check(ws_client.websocket.close_code is not None, "the seed WebSocket client got a close frame",
             f"close_code={ws_client.websocket.close_code}")
    sc.note(f"WebSocket close code {ws_client.websocket.close_code} ({ws_client.websocket.close_reason!r})")
    sc.check(sse_task.done(), "the seed SSEClient's stream ended (connect() returned)")
    sc.check(poll_outcome is None, "the waiting seed long-poll was answered", poll_outcome or "")
    await cancel(poll_task)
    await cancel(sse_task)


SCENARIOS = [
    ("seed-copies", "the copies in tests/seed match the seed document's code blocks", scenario_seed_copies),
    ("sse", "SSEClient receives /trigger events and resumes with Last-Event-ID", scenario_sse),
    ("ws-chat", "WebSocketRealTimeClient chat: message, typing, rooms, heartbeat, presence", scenario_ws_chat),
    ("ws-replay", "WebSocket send right after connect(); history replay on join", scenario_ws_replay),
    ("longpoll", "LongPollingClient send_message / _poll_once: fields, cursor, waiting poll", scenario_longpoll),
    ("cross", "cross-transport: /message, /trigger and WebSocket messages reach every seed client", scenario_cross),
]


# --------------------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def health(port: int) -> bool:
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                f"http://{HOST}:{port}/health", timeout=1) as response:
            return response.status == 200
    except Exception:
        return False


class Server:
    def __init__(self, binary: str, port: int):
        self.binary = binary
        self.port = port
        self.workdir = tempfile.mkdtemp(prefix="moonwire-seed-")
        self.log_path = os.path.join(self.workdir, "moonwire.log")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> str | None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOONWIRE_")}
        log = open(self.log_path, "wb")
        # An empty working directory: no ./moonwire.toml, no ./plugins, so the hub runs with its defaults.
        self.process = subprocess.Popen(
            [self.binary, "serve", "--port", str(self.port), "--host", HOST],
            cwd=self.workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return f"moonwire exited with status {self.process.returncode} before answering /health"
            if health(self.port):
                return None
            time.sleep(0.1)
        return f"moonwire did not answer /health within {timeout:.0f} s"

    def stop(self, grace: float) -> tuple[bool, str]:
        """SIGTERM, then up to `grace` seconds to exit; SIGKILL if it does not."""
        if self.process is None:
            return False, "not started"
        if self.process.poll() is not None:
            return False, f"had already exited with status {self.process.returncode}"
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return False, f"still running {grace:.0f} s after SIGTERM (killed)"
        elapsed = time.monotonic() - started
        if status != 0:
            return False, f"exited after {elapsed:.2f} s with status {status}"
        return True, f"exited with status 0 after {elapsed:.2f} s"

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()

    def log_tail(self, lines: int = 25) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------------


async def run_scenarios(ctx: Context, scenarios, deadline: float, verbose: bool) -> list[tuple[str, str]]:
    results: list[tuple[str, str]] = []
    for name, title, function in scenarios:
        sc = Scenario(name, ctx.capture)
        ctx.capture.scenario = name
        remaining = deadline - time.monotonic()
        started = time.monotonic()
        outcome, detail = "PASS", ""
        if remaining < 5:
            outcome, detail = "FAIL", "not run: the global time budget is spent"
        else:
            try:
                skipped = await asyncio.wait_for(function(ctx, sc), min(40, remaining))
                if skipped:
                    outcome, detail = "SKIP", skipped
            except CheckFailed as failure:
                outcome, detail = "FAIL", str(failure)
            except asyncio.TimeoutError:
                outcome, detail = "FAIL", f"timed out after {time.monotonic() - started:.1f} s"
            except Exception:
                outcome, detail = "FAIL", "unexpected exception:\n" + traceback.format_exc()
        await asyncio.sleep(0.2)  # let late frames of this scenario reach the clients and the spy
        # The seed clients must not have choked on anything the hub sent (or failed in any other way).
        if outcome == "PASS":
            bad_frames = ctx.spy.of(name)
            errors = sc.seed_errors()
            if bad_frames:
                outcome = "FAIL"
                detail = "the seed WebSocket client could not parse frames the hub sent it " \
                         "(RealTimeEvent.from_json raised; the client printed 'Error handling message'):\n" + \
                         "\n".join(f"frame: {frame}\nerror: {error}" for frame, error in bad_frames[:8])
            elif errors:
                outcome = "FAIL"
                detail = "a seed client reported an error:\n" + "\n".join(errors[:8])
        elapsed = time.monotonic() - started
        extra = f" ({sc.checks} checks, {elapsed:.1f} s)" if outcome == "PASS" else ""
        report(f"{outcome} {name}: {title}{extra}")
        if detail:
            report("      " + detail.rstrip("\n").replace("\n", "\n        "))
        if verbose and sc.notes:
            report("      notes: " + "; ".join(sc.notes))
        if outcome == "FAIL" and not verbose:
            lines = ctx.capture.of(name)
            if lines:
                report("      what the seed clients printed (last 20 lines):")
                for line in lines[-20:]:
                    report(f"        | {line}")
        results.append((name, outcome))
    ctx.capture.scenario = "-"
    return results


async def run_all(ctx: Context, server: "Server", deadline: float, verbose: bool, grace: float) -> list[tuple[str, str]]:
    async def shutdown(ctx: Context, sc: Scenario) -> None:
        await shutdown_with_clients(ctx, sc, server, grace)

    scenarios = SCENARIOS + [("shutdown", "SIGTERM with seed clients open: the hub lets them go and exits", shutdown)]
    return await run_scenarios(ctx, scenarios, deadline, verbose)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", required=True, help="the moonwire executable (e.g. .build/debug/moonwire)")
    parser.add_argument("--timeout", type=float, default=120, help="global time budget in seconds (default 120)")
    parser.add_argument("--seed-doc", default=str(DEFAULT_SEED_DOC), help="the seed document, to check the copies against")
    parser.add_argument("--verbose", "-v", action="store_true", help="echo what the seed clients print")
    args = parser.parse_args()

    started = time.monotonic()
    deadline = started + args.timeout
    binary = os.path.abspath(args.binary)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        report(f"FAIL setup: no executable at {binary} (build it first: swift build --product moonwire)")
        return 2

    # Loopback only: keep any configured proxy away from 127.0.0.1 (websockets honours *_proxy variables).
    for key in ("no_proxy", "NO_PROXY"):
        os.environ[key] = ",".join(filter(None, [os.environ.get(key, ""), HOST, "localhost"]))

    try:
        seed_ws, seed_sse, seed_lp = load_seed()
    except Exception:
        report("FAIL setup: the seed clients cannot be loaded (Python packages websockets and aiohttp are needed: "
               "scripts/install-deps.sh test installs them):\n" + traceback.format_exc())
        return 2

    port = free_port()
    server = Server(binary, port)

    # A hard stop, whatever happens: the run is bounded even if something hangs outside asyncio.
    def watchdog():
        report(f"FAIL global timeout: the run took longer than {args.timeout + 20:.0f} s; killing moonwire")
        server.kill()
        os._exit(3)

    timer = threading.Timer(args.timeout + 20, watchdog)
    timer.daemon = True
    timer.start()

    report(f"seed clients against {binary} on {HOST}:{port}")
    problem = server.start(timeout=min(30, args.timeout / 3))
    if problem:
        report(f"FAIL setup: {problem}")
        report(server.log_tail())
        server.kill()
        timer.cancel()
        return 2

    capture = Capture(echo=args.verbose)
    spy = FrameSpy(seed_ws, capture)
    ctx = Context(port, seed_ws, seed_sse, seed_lp, spy, capture, Path(args.seed_doc))
    sys.stdout = capture
    try:
        results = asyncio.run(run_all(ctx, server, deadline - 15, args.verbose, SHUTDOWN_GRACE))
    except BaseException:
        sys.stdout = REAL_STDOUT
        report("FAIL harness: " + traceback.format_exc())
        results = [("harness", "FAIL")]
    finally:
        sys.stdout = REAL_STDOUT

    # Normally the shutdown scenario has stopped the hub; if it has not (an earlier failure, a hang),
    # stop it here the same way, and fail if that does not work either.
    if server.process.poll() is None:
        ok, detail = server.stop(grace=SHUTDOWN_GRACE)
        report(f"{'PASS' if ok else 'FAIL'} stop: SIGTERM stops the hub ({detail})")
        if not ok:
            results.append(("stop", "FAIL"))
    timer.cancel()

    failed = [name for name, outcome in results if outcome == "FAIL"]
    if failed:
        report("--- moonwire log (last lines) ---")
        report(server.log_tail().rstrip())
    shutil.rmtree(server.workdir, ignore_errors=True)
    passed = sum(1 for _, outcome in results if outcome == "PASS")
    skipped = sum(1 for _, outcome in results if outcome == "SKIP")
    report(f"seed clients: {passed} passed, {len(failed)} failed, {skipped} skipped "
           f"in {time.monotonic() - started:.1f} s" + (f" (failed: {', '.join(failed)})" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

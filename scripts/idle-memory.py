#!/usr/bin/env python3
"""Memory a hub spends per idle connection, by kind: opens N loopback connections to a running hub, each
left as MODE leaves it, and prints the hub's resident memory growth per connection.

    scripts/idle-memory.py HUB_PID COUNT MODE [PORT]

MODE: none (connected, nothing sent), health (one GET /health answered, kept open), poll (a parked
GET /poll, 60 s timeout) or sse (an open GET /events stream). Start the hub with long timeouts so that
idle connections stay:
    moonwire serve --port 18556 --plugins "" --set server.max_connections=100000 \
        --set server.idle_timeout=600 --set server.header_timeout=600
Use a fresh hub for each mode (resident memory does not shrink after a run) and 10,000 connections: a
few thousand fit in memory the hub's allocator already holds, and read as a few KB each.
"""
import resource
import socket
import sys
import time


def resident_bytes(pid):
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def main():
    pid, count, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    port = int(sys.argv[4]) if len(sys.argv) > 4 else 18556
    requests = {
        "none": None,
        "health": "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "poll": "GET /poll?client_id=c{i}&rooms=idle&timeout=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "sse": "GET /events?user_id=u{i}&rooms=idle HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    }
    if mode not in requests:
        sys.exit(f"unknown mode {mode!r}: none, health, poll or sse")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count + 100)), hard))
    time.sleep(0.5)
    before = resident_bytes(pid)
    sockets = []
    for i in range(count):
        connection = socket.create_connection(("127.0.0.1", port))
        if requests[mode]:
            connection.sendall(requests[mode].format(i=i).encode())
        sockets.append(connection)
    time.sleep(3)
    after = resident_bytes(pid)
    print(f"{mode}: {count} connections, {(after - before) // count} bytes per connection")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A small HTTP backend for the tests of hub.http.request: prints its port, serves until stdin closes.

GET  /hello            200 "hello", header X-Test: yes
ANY  /echo             200 {"method", "body", "header"} (header: the request's X-Echo)
GET  /slow?ms=N        200 "slow" after N milliseconds
GET  /big?bytes=N      200 with N bytes of "x"
GET  /hold?key=K       200 "released" once /release?key=K was asked (or "timed out" after 30 s)
GET  /release?key=K    200 "ok": ends the holds of key K, now and later
GET  /status/N         N "status N"
GET  /redirect         302 to http://127.0.0.1:1/ (a client must not follow it)
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


HOLDS = {}
HOLDS_LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        if url.path == "/hello":
            self.reply(200, "hello", [("X-Test", "yes")])
        elif url.path == "/echo":
            self.reply(200, json.dumps({"method": self.command, "body": body, "header": self.headers.get("X-Echo")}),
                       [("Content-Type", "application/json")])
        elif url.path == "/slow":
            time.sleep(int(query.get("ms", ["1000"])[0]) / 1000)
            self.reply(200, "slow")
        elif url.path == "/hold":
            # Answers once /release?key=K is asked (or after 30 s): a test decides when the wait ends.
            key = query.get("key", [""])[0]
            with HOLDS_LOCK:
                gate = HOLDS.setdefault(key, threading.Event())
            gate.wait(30)
            self.reply(200, "released" if gate.is_set() else "timed out")
        elif url.path == "/release":
            key = query.get("key", [""])[0]
            with HOLDS_LOCK:
                HOLDS.setdefault(key, threading.Event()).set()
            self.reply(200, "ok")
        elif url.path == "/big":
            self.reply(200, "x" * int(query.get("bytes", ["1000"])[0]))
        elif url.path.startswith("/status/"):
            code = int(url.path.rsplit("/", 1)[1])
            self.reply(code, "status %d" % code)
        elif url.path == "/redirect":
            self.reply(302, "", [("Location", "http://127.0.0.1:1/")])
        else:
            self.reply(404, "not found")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # until the test closes it (or exits)
    server.shutdown()


if __name__ == "__main__":
    main()

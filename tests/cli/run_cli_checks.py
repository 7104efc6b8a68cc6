#!/usr/bin/env python3
"""Checks of the `moonwire` command itself, against the built binary:

- `moonwire plugins check` accepts a good plugin and refuses a broken one with the file and line (exit 1);
- `moonwire plugins test` runs a spec file, exits 1 on a failure with its line, and writes JUnit XML;
- `moonwire plugins replay` runs a running hub's history through a candidate version and prints the differences;
- `moonwire serve` refuses an invalid configuration (exit 2, naming the key) and a plugin with bad settings;
- SIGHUP makes a running hub reload its plugins; `moonwire plugins reload` does too; both read the
  configuration file's plugin tables again;
- SIGTERM stops the hub with exit status 0.

Loopback only, bounded in time; exits non-zero on any failure.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

FAILURES = []


def check(condition, what):
    print(("PASS " if condition else "FAIL ") + what)
    if not condition:
        FAILURES.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for(condition, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return True
        except Exception:
            pass
        time.sleep(0.05)
    return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="moonwire-cli-")
    os.environ.pop("MOONWIRE_SERVER_PORT", None)
    try:
        plugins = os.path.join(work, "plugins")
        os.mkdir(plugins)
        good = os.path.join(plugins, "greeter.lua")
        with open(good, "w") as f:
            f.write('return { name = "greeter", version = "1", description = "says hi",\n'
                    '  config = { greeting = { type = "string", default = "hi" } },\n'
                    '  on_publish = function(ctx, event) event.data.greeting = hub.config.greeting return event end }\n')
        broken = os.path.join(work, "broken.lua")
        with open(broken, "w") as f:
            f.write('return {\n  name = "broken",\n  on_publish = function( end\n}\n')

        ok = subprocess.run([binary, "plugins", "check", good], capture_output=True, text=True, timeout=30)
        check(ok.returncode == 0 and "greeter 1" in ok.stdout and "on_publish" in ok.stdout,
              "plugins check accepts a good plugin and lists its hooks")
        bad = subprocess.run([binary, "plugins", "check", broken], capture_output=True, text=True, timeout=30)
        check(bad.returncode == 1 and "broken.lua:3:" in bad.stderr, "plugins check refuses a broken plugin with file and line")
        timed = subprocess.run([binary, "plugins", "bench", plugins, "--calls", "2000", "--json"],
                               capture_output=True, text=True, timeout=60)
        report = json.loads(timed.stdout) if timed.returncode == 0 else {}
        check(report.get("plugins") == ["greeter"] and report.get("calls") == 2000
              and 0 < report["on_publish"]["median_us"] <= report["on_publish"]["p99_us"] and report.get("on_deliver") is None,
              "plugins bench times the on_publish chain of a folder (median <= p99) and says there is no on_deliver filter")
        evicting = subprocess.run([binary, "plugins", "bench", plugins, "--calls", "50", "--evict-mib", "1", "--json"],
                                  capture_output=True, text=True, timeout=60)
        cold = json.loads(evicting.stdout) if evicting.returncode == 0 else {}
        check(cold.get("evict_mib") == 1 and cold.get("on_publish", {}).get("median_us", 0) > 0,
              "plugins bench --evict-mib writes between calls and still times every call")
        with open(os.path.join(plugins, "greeter_test.lua"), "w") as f:
            f.write('describe("greeter", function()\n'
                    '  it("greets", function()\n'
                    '    local hub = test.hub()\n'
                    '    local a, b = hub:connect("a"), hub:connect("b")\n'
                    '    a:say("x")\n'
                    '    expect(b:received("message")[1].data.greeting).to.equal("hi")\n'
                    '  end)\n'
                    '  it("fails on purpose", function() expect(1).to.equal(2) end)\n'
                    'end)\n')
        spec_run = subprocess.run([binary, "plugins", "test", plugins, "--junit", os.path.join(work, "specs.xml")],
                                  capture_output=True, text=True, timeout=60)
        check(spec_run.returncode == 1 and "✔ greeter › greets" in spec_run.stdout
              and "greeter_test.lua:8: expected 2, got 1" in spec_run.stdout and "1 passed, 1 failed" in spec_run.stdout
              and 'failures="1"' in open(os.path.join(work, "specs.xml")).read(),
              "plugins test runs a spec file, exits 1 on a failure with its line, and writes JUnit XML")
        os.remove(os.path.join(plugins, "greeter_test.lua"))
        broken_dir = os.path.join(work, "broken-plugins")
        os.mkdir(broken_dir)
        shutil.copy(broken, broken_dir)
        failed = subprocess.run([binary, "plugins", "bench", broken_dir, "--calls", "10"], capture_output=True, text=True, timeout=60)
        check(failed.returncode == 1 and "broken" in failed.stderr, "plugins bench refuses a folder whose plugin does not load")

        config = os.path.join(work, "bad.toml")
        with open(config, "w") as f:
            f.write("[server]\nprot = 1\n")
        invalid = subprocess.run([binary, "serve", "--config", config], capture_output=True, text=True, timeout=30, cwd=work)
        check(invalid.returncode == 2 and "server.prot" in invalid.stderr, "serve refuses an invalid configuration with exit 2")

        settings = os.path.join(work, "settings.toml")
        with open(settings, "w") as f:
            f.write("[plugins.greeter]\ngreeting = 42\n")
        wrong = subprocess.run([binary, "serve", "--config", settings, "--port", str(free_port())],
                               capture_output=True, text=True, timeout=30, cwd=work)
        check(wrong.returncode == 2 and "config key 'greeting' must be a string" in wrong.stderr,
              "serve refuses a plugin with bad settings, naming plugin and key")

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        hub = subprocess.Popen([binary, "serve", "--port", str(port), "--set", "plugins.watch=false"], cwd=work,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            check(wait_for(lambda: get_json(base + "/health")["status"] == "ok"), "serve starts with the plugins directory")
            listing = get_json(base + "/api/plugins")
            check([p["name"] for p in listing["plugins"]] == ["greeter"] and listing["plugins"][0]["version"] == "1",
                  "GET /api/plugins lists the loaded plugin")
            with open(good, "w") as f:
                f.write('return { name = "greeter", version = "2", on_publish = function(ctx, event) return event end }\n')
            hub.send_signal(signal.SIGHUP)
            check(wait_for(lambda: get_json(base + "/api/plugins")["plugins"][0]["version"] == "2"),
                  "SIGHUP reloads the plugins")
            with open(good, "w") as f:
                f.write('return { name = "greeter", version = "3" }\n')
            reload = subprocess.run([binary, "plugins", "reload", "--url", base], capture_output=True, text=True, timeout=30)
            check(reload.returncode == 0 and '"reloaded":["greeter"]' in reload.stdout.replace(" ", ""),
                  "moonwire plugins reload reloads a running hub")
            check(get_json(base + "/api/plugins")["plugins"][0]["version"] == "3", "the reloaded version is in force")
            for text in ["hello", "buy spam", "bye"]:
                urllib.request.urlopen(urllib.request.Request(
                    base + "/message", data=json.dumps({"content": text, "sender": "bob"}).encode(),
                    headers={"Content-Type": "application/json"}), timeout=10).read()
            candidate_dir = os.path.join(work, "candidate")
            os.mkdir(candidate_dir)
            with open(os.path.join(candidate_dir, "greeter.lua"), "w") as f:
                f.write('return { on_publish = function(ctx, e) if e.data.content == "buy spam" then return false, "no spam" end end }\n')
            replay = subprocess.run([binary, "plugins", "replay", os.path.join(candidate_dir, "greeter.lua"), "--against", base,
                                     "--room", "general", "--plugins", plugins], capture_output=True, text=True, timeout=60)
            check(replay.returncode == 0 and "candidate: rejected (rejected): no spam" in replay.stdout
                  and "3 events replayed through greeter" in replay.stdout and ": 1 differ" in replay.stdout,
                  "plugins replay runs a running hub's history through a candidate and prints the one event it would refuse")
            hub.send_signal(signal.SIGTERM)
            code = hub.wait(timeout=15)
            check(code == 0, f"SIGTERM stops the hub with status 0 (got {code})")
        finally:
            if hub.poll() is None:
                hub.kill()
                hub.wait()
        # The configuration file's plugin tables are read again on a reload.
        settings_dir = os.path.join(work, "settings-plugins")
        os.mkdir(settings_dir)
        with open(os.path.join(settings_dir, "greeter.lua"), "w") as f:
            f.write('return { config = { greeting = { type = "string", default = "hi" } } }\n')
        live_toml = os.path.join(work, "live.toml")
        with open(live_toml, "w") as f:
            f.write('[plugins.greeter]\ngreeting = "hello"\n')
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        hub = subprocess.Popen([binary, "serve", "--config", live_toml, "--port", str(port), "--plugins", settings_dir,
                                "--set", "plugins.watch=false"], cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            check(wait_for(lambda: get_json(base + "/health")["status"] == "ok"), "serve starts with a configuration file")
            greeting = lambda: get_json(base + "/api/plugins")["plugins"][0]["config"]["greeting"]
            check(greeting() == "hello", "the plugin has the file's settings")
            with open(live_toml, "w") as f:
                f.write('[plugins.greeter]\ngreeting = "hey"\n')
            hub.send_signal(signal.SIGHUP)
            check(wait_for(lambda: greeting() == "hey"), "SIGHUP reads the plugin tables of the configuration file again")
            with open(live_toml, "w") as f:
                f.write('[plugins.greeter]\ngreeting = 42\n')
            refused = subprocess.run([binary, "plugins", "reload", "--url", base], capture_output=True, text=True, timeout=30)
            check(refused.returncode == 1 and "config key 'greeting' must be a string" in refused.stdout and greeting() == "hey",
                  "a bad table fails the reload with the key named, and the old settings stay")
        finally:
            hub.kill()
            hub.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"cli checks: {'all passed' if not FAILURES else str(len(FAILURES)) + ' failed'}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())

# Moonwire: two commands set everything up.
#   make run    installs what is missing, builds, starts the hub on http://127.0.0.1:8080
#   make test   installs what is missing, builds, runs every test
SWIFT ?= swift
ARGS ?=

.PHONY: run test build release deps test-deps test-swift test-seed test-cli test-plugins clean \
	example-chat example-dashboard example-notifications

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh test

build: deps
	$(SWIFT) build --product moonwire

release: deps
	$(SWIFT) build -c release --product moonwire

run: build
	.build/debug/moonwire serve $(ARGS)

test: test-deps
	$(SWIFT) build --build-tests
	$(MAKE) test-swift test-plugins test-seed test-cli

# Two rounds: the suites that start their own processes (hub nodes, redis-server, load generator) and
# the attack suites (thousands of rooms, hundreds of connections, many-key events, hostile plugins, slow HTTP) run after the rest,
# so that timing-sensitive tests do not compete with them for the two cores.
PROCESS_SUITES = ClusterTests|RedisBrokerTests|BrokerConformanceTests|DurableHistoryTests|BenchSmokeTests|ManyKeyEventTests|RoomTableTests|PresenceLimitTests|JoinStormTests|HistoryCapTests|HostilePluginTests|HTTPTimeoutTests|RedisPluginStoreTests|HTTPRequestTests

# The browser suites (headless Chromium, one window per user) run last, on their own.
BROWSER_SUITES = ExampleBrowserTests|ChatExampleBrowserTests|BrowserClientTests

test-swift:
	$(SWIFT) test --skip-build --skip '$(PROCESS_SUITES)|$(BROWSER_SUITES)'
	$(SWIFT) test --skip-build --filter '$(PROCESS_SUITES)'
	$(SWIFT) test --skip-build --filter '$(BROWSER_SUITES)'

# The seed document's own Python clients, unchanged, against a live hub.
test-seed:
	python3 tests/seed/run_seed_clients.py --binary .build/debug/moonwire

# The command itself: plugins check, invalid configurations, SIGHUP and API reloads, SIGTERM.
# The shipped plugins' spec files (NAME_test.lua), through the CLI.
test-plugins:
	.build/debug/moonwire plugins test plugins --junit .build/plugin-specs.xml

test-cli:
	python3 tests/cli/run_cli_checks.py --binary .build/debug/moonwire

# The examples (examples/*/README.md): build, then serve the example's configuration from the repository root.
#   make example-chat | example-dashboard | example-notifications   [EXAMPLE_PORT=8080] [ARGS="..."]
EXAMPLE_PORT ?= 8080

example-chat example-dashboard example-notifications: example-%: build
	@echo
	@echo "    Moonwire $* example: open http://127.0.0.1:$(EXAMPLE_PORT)/examples/$*/"
	@echo
	.build/debug/moonwire serve --config examples/$*/moonwire.toml --port $(EXAMPLE_PORT) $(ARGS)

clean:
	rm -rf .build

# Load tests (docs/performance.md): release build, loopback only, bounded in time.
#   make bench-vs-nchan   the fan-out scenarios against Moonwire and Nchan (installed if missing), one table
#                         with the ratios (settings: DURATION, SUBSCRIBERS, TRANSPORTS, PAYLOADS, MODES, ...)
.PHONY: bench-vs-nchan
bench-vs-nchan: deps
	SWIFT="$(SWIFT)" scripts/bench-vs-nchan.sh

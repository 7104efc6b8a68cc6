#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks to build, run and test Moonwire.
#   scripts/install-deps.sh          build + run needs (Lua 5.4 headers, pkg-config)
#   scripts/install-deps.sh test     also what the test suite uses (Python websockets/aiohttp for the seed clients,
#                                    Chromium and chromedriver for the browser tests, redis-server for the
#                                    Redis broker and multi-node tests, which start their own on a free port,
#                                    nginx with Nchan for the benchmark's smoke test)
set -euo pipefail

need_apt=()
pkg-config --exists lua5.4 2>/dev/null || need_apt+=(liblua5.4-dev)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)

if [ "${1:-}" = "test" ]; then
    command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
    # Browser tests drive a real headless Chromium through chromedriver.
    command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
    command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
    # The benchmark's smoke test runs its Nchan side against a real nginx with Nchan.
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
    [ -f /usr/lib/nginx/modules/ngx_nchan_module.so ] || need_apt+=(libnginx-mod-nchan)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${need_apt[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q "${need_apt[@]}"
fi

if [ "${1:-}" = "test" ]; then
    if ! python3 -c "import websockets, aiohttp" >/dev/null 2>&1; then
        echo "Installing Python packages for the seed-client tests: websockets aiohttp"
        python3 -m pip install --quiet websockets aiohttp
    fi
fi

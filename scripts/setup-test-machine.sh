#!/usr/bin/env bash
# Makes a Debian machine ready for the test suite, so that `npm install && npm run check` is all a
# newcomer (or CI) runs: installs the Debian packages the tests use when any is missing, stops the
# nginx and Caddy services Debian starts on install (the tests start their own, on free ports), and
# starts PostgreSQL when it is installed but down, and names two test hosts in /etc/hosts. Changes
# nothing on a machine that is ready.
set -euo pipefail

# What the tests use: Chromium (browser tests), nginx with its Lua module and Caddy (data plane and
# forward-auth interop; ca-certificates: the CA bundle `postern nginx-config` points nginx at), wrk (the benchmark), Google's Python auth library and its HTTP transport, requests (Google client interop),
# a JDK (Java's own HTTP client, run from source), PHP (an upstream that reads `.` in a header name as `_`),
# sqlite3 (the README's backup of the embedded store).
PACKAGES=(chromium nginx libnginx-mod-http-lua ca-certificates caddy wrk python3-google-auth python3-requests nghttp2-client openjdk-17-jdk-headless php-cli sqlite3)

say() { printf 'setup-test-machine: %s\n' "$*" >&2; }

# Runs a command as root: directly when we are root, through sudo when it works without a password.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 126
  fi
}
can_be_root() { [ "$(id -u)" -eq 0 ] || { command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; }; }

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  say "this is not a Debian-like machine (no dpkg/apt-get); make sure these are installed: ${PACKAGES[*]}"
else
  missing=()
  for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if ! can_be_root; then
      say "the tests need Debian packages that are not installed: ${missing[*]}"
      say "install them as root, then run the tests again:"
      say "  sudo sh -c '$line'"
      exit 1
    fi
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    for p in "${missing[@]}"; do installed "$p" || { say "$p is still not installed after: $line"; exit 1; }; done
  fi
fi

# Debian starts nginx and Caddy as services on install, on ports the tests may want. Stop those
# services only — by their service manager or pid file, never by process name: other nginx and
# Caddy processes on this machine (tests of other checkouts) are not ours to end.
stop_service() {
  local svc=$1 pidfile=$2
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-active --quiet "$svc" 2>/dev/null; then
      say "stopping the $svc service"
      as_root systemctl stop "$svc" || say "could not stop the $svc service; tests that need its ports may fail"
    fi
  elif [ -n "$pidfile" ] && [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    say "stopping the $svc service"
    as_root service "$svc" stop >/dev/null 2>&1 || as_root kill "$(cat "$pidfile")" || say "could not stop the $svc service; tests that need its ports may fail"
  fi
}
stop_service nginx /run/nginx.pid
stop_service caddy ''

# A test host name in /etc/hosts, with its addresses in the order given, unless it resolves already.
name_test_host() {
  local name=$1 test=$2
  shift 2
  getent ahostsv4 "$name" >/dev/null 2>&1 && return
  if can_be_root; then
    say "adding $name ($*) to /etc/hosts"
    for address in "$@"; do printf '%s %s\n' "$address" "$name"; done | as_root tee -a /etc/hosts >/dev/null
  else
    say "add to /etc/hosts as root, for $test: $* $name"
  fi
}
# A host name with two addresses, the first of which nothing listens on, for the test that an
# upstream is reached at its next address.
name_test_host postern-two-addresses.test test/e2e/upstream-failover.test.ts 127.0.0.2 127.0.0.3
# A second name for 127.0.0.1 beside localhost, for the test that the nginx data plane never
# sends a request for one https server name over a connection opened for another at the same address.
name_test_host postern-same-address.test test/e2e/nginx-https-services.test.ts 127.0.0.1

# PostgreSQL is part of the suite (the store contract and the e2e tests run on it): start it when it
# is installed but not answering. Without it the PostgreSQL tests are skipped loudly, and under
# CI=true the run fails (test/support/global-setup.ts).
if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && can_be_root; then
    for version in $(ls /etc/postgresql); do
      say "starting PostgreSQL $version"
      as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  pg_isready -q -h 127.0.0.1 -p 5432 || say "PostgreSQL is not answering on 127.0.0.1:5432; its tests will be skipped (and fail under CI=true)"
elif ! command -v pg_isready >/dev/null 2>&1; then
  say "PostgreSQL is not installed; its tests will be skipped (and fail under CI=true). Debian: apt-get install postgresql, with trust auth for 127.0.0.1"
fi

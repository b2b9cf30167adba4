#!/usr/bin/env bash
# scripts/test.sh runs keybroker's whole test suite, installing what the
# tests need first:
#   - redis-server (apt-get, when missing and running as root; otherwise it
#     says how to install it). Tests start their own on free loopback ports
#     and never touch a Redis they did not start.
#   - buf, pinned in tools/package-lock.json (npm ci into tools/node_modules).
#   - systemd-analyze (apt-get install systemd, when missing and running as
#     root), so the systemd unit's hardening score is really checked
#     (KEYBROKER_REQUIRE_SYSTEMD_ANALYZE=1 turns the test's skip into a
#     failure).
# Then: gofmt, go vet, buf lint, the generated-code freshness check,
# buf breaking against the previous commit, a short bounded run of every
# fuzz target (FUZZTIME, default 5s each), the store and server suites on
# Redis Cluster and Sentinel, a 30s soak (KEYBROKER_SOAK), and
# go test -race ./... (single node).
# .ci/run calls this script. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "redis-server"
if ! command -v redis-server >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "redis-server is missing; installing it with apt-get"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
	else
		echo "redis-server is required by the tests and is not installed." >&2
		echo "Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis) and run again." >&2
		exit 1
	fi
fi
redis-server --version

step "systemd-analyze (deploy/keybroker.service hardening)"
if ! command -v systemd-analyze >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "systemd-analyze is missing; installing systemd with apt-get"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
	else
		echo "systemd-analyze is required to check the systemd unit's hardening; install systemd and run again." >&2
		exit 1
	fi
fi
systemd-analyze --version | head -1
export KEYBROKER_REQUIRE_SYSTEMD_ANALYZE=1

step "buf (tools/package-lock.json)"
if [ ! -x tools/node_modules/.bin/buf ]; then
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm is required to install the pinned buf (tools/package.json); install Node.js 18+ and run again." >&2
		exit 1
	fi
	(cd tools && npm ci --no-audit --no-fund --loglevel=error)
fi
export PATH="$PWD/tools/node_modules/.bin:$PATH"
buf --version

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^gen/') 2>&1 || true)
if [ -n "$unformatted" ]; then
	echo "not gofmt-clean:" >&2
	echo "$unformatted" >&2
	exit 1
fi

step "go vet"
go vet ./...

step "buf lint"
buf lint

step "generated code is fresh (buf generate)"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
buf generate -o "$fresh"
if ! diff -r "$fresh/gen" gen; then
	echo "gen/ is stale: run 'PATH=\$PWD/tools/node_modules/.bin:\$PATH buf generate' and commit the result" >&2
	exit 1
fi

step "buf breaking (against the previous commit)"
if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto/keybroker/v1/keybroker.proto 2>/dev/null; then
	buf breaking --against '.git#ref=HEAD~1'
else
	echo "no previous commit with the API; skipped"
fi

step "fuzz (${FUZZTIME:-5s} per target)"
FUZZTIME="${FUZZTIME:-5s}" bash scripts/fuzz.sh

step "store and server suites on Redis Cluster and Sentinel"
KEYBROKER_TEST_REDIS=cluster go test -count=1 ./internal/store ./server
KEYBROKER_TEST_REDIS=sentinel go test -count=1 ./internal/store ./server

step "soak: 3 brokers, workers, clients, broker and Redis kills (${KEYBROKER_SOAK:-30s})"
KEYBROKER_SOAK="${KEYBROKER_SOAK:-30s}" go test -count=1 -run '^TestSoak$' ./cmd/keybroker

step "go test -race ./..."
go test -race -count=1 "$@" ./...

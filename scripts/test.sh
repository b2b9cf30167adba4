#!/usr/bin/env bash
# scripts/test.sh runs keybroker's whole test suite, installing what the
# tests need first:
#   - Debian packages (apt-get, when missing and running as root; otherwise
#     it says what to install): redis-server (tests start their own on free
#     loopback ports and never touch a Redis they did not start);
#     protobuf-compiler and protobuf-compiler-grpc (protoc and
#     grpc_python_plugin, which buf generate runs for gen/python); and
#     python3-grpcio, python3-protobuf, python3-httpx (clients/python's
#     tests, run by Debian's /usr/bin/python3); systemd (systemd-analyze,
#     so the systemd unit's hardening score is really checked:
#     KEYBROKER_REQUIRE_SYSTEMD_ANALYZE=1 turns the test's skip into a
#     failure);
#     chromium (the status page
#     is tested in a real headless browser; KEYBROKER_BROWSER_TEST=require
#     makes that test fail instead of skip without it).
#   - promtool, extracted from Debian's prometheus package (apt-get download
#     and dpkg-deb, not installed: no service starts) into a temporary
#     directory, for promtool check rules / check metrics (KEYBROKER_PROMTOOL).
#   - npm packages pinned in package-lock.json files (npm ci): tools/ (buf,
#     protoc-gen-es, the googleapis google/rpc protos) and clients/ts.
#   - golangci-lint, pinned, built with go install into tools/bin.
# Then: gofmt, go vet, golangci-lint (.golangci.yml), buf lint, the generated-code freshness check (gen/,
# every language), buf breaking against the previous commit, a short
# bounded run of every fuzz target (FUZZTIME, default 5s each), the store
# and server suites on Redis Cluster and Sentinel, a 30s soak
# (KEYBROKER_SOAK), and go test -race ./... (single node; it runs the
# TypeScript and Python clients' suites too, see clients/clients_test.go).
# .ci/run calls this script. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# Debian packages the build and tests need, each with a command or module
# that shows it is there.
apt_needed=()
command -v redis-server >/dev/null 2>&1 || apt_needed+=(redis-server)
command -v protoc >/dev/null 2>&1 || apt_needed+=(protobuf-compiler)
command -v grpc_python_plugin >/dev/null 2>&1 || apt_needed+=(protobuf-compiler-grpc)
command -v systemd-analyze >/dev/null 2>&1 || apt_needed+=(systemd)
command -v chromium >/dev/null 2>&1 || apt_needed+=(chromium)
for mod in grpc:python3-grpcio google.protobuf:python3-protobuf httpx:python3-httpx; do
	/usr/bin/python3 -c "import ${mod%%:*}" >/dev/null 2>&1 || apt_needed+=("${mod#*:}")
done

step "Debian packages"
if [ ${#apt_needed[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing with apt-get: ${apt_needed[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_needed[@]}" >/dev/null
	else
		echo "missing: ${apt_needed[*]}" >&2
		echo "Install them (Debian/Ubuntu: sudo apt-get install ${apt_needed[*]}) and run again." >&2
		exit 1
	fi
fi
redis-server --version
protoc --version
systemd-analyze --version | head -1
export KEYBROKER_REQUIRE_SYSTEMD_ANALYZE=1
chromium --version
export KEYBROKER_BROWSER_TEST=require

step "promtool (from Debian's prometheus package, extracted)"
if command -v promtool >/dev/null 2>&1; then
	KEYBROKER_PROMTOOL=$(command -v promtool)
else
	promdir=$(mktemp -d)
	(cd "$promdir" && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus >/dev/null; }; } &&
		dpkg-deb -x prometheus_*.deb root)
	KEYBROKER_PROMTOOL="$promdir/root/usr/bin/promtool"
fi
export KEYBROKER_PROMTOOL
"$KEYBROKER_PROMTOOL" --version | head -1
"$KEYBROKER_PROMTOOL" check rules deploy/prometheus/alerts.yaml

step "npm packages (tools/ and clients/ts package-lock.json)"
if ! command -v npm >/dev/null 2>&1; then
	echo "npm is required (tools/package.json, clients/ts); install Node.js 20+ and run again." >&2
	exit 1
fi
(cd tools && npm ci --no-audit --no-fund --loglevel=error)
(cd clients/ts && npm ci --no-audit --no-fund --loglevel=error) # builds it too (prepare)
export PATH="$PWD/tools/node_modules/.bin:$PATH"
buf --version

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' | grep -v '^gen/') 2>&1 || true)
if [ -n "$unformatted" ]; then
	echo "not gofmt-clean:" >&2
	echo "$unformatted" >&2
	exit 1
fi

step "go build and go vet"
# vet compiles packages with their tests; build catches a non-test file
# that only compiles next to them.
go build ./...
go vet ./...

step "golangci-lint (.golangci.yml)"
# Pinned; built once with go install into tools/bin (about 2 minutes cold).
golangci_version=v2.15.0
if ! tools/bin/golangci-lint version 2>/dev/null | grep -q "${golangci_version#v}"; then
	GOBIN="$PWD/tools/bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@${golangci_version}"
fi
tools/bin/golangci-lint run ./...

step "buf lint"
buf lint

step "generated code is fresh (buf generate)"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh" ${promdir:-}' EXIT
buf generate -o "$fresh"
if ! diff -r "$fresh/gen" gen; then
	echo "gen/ is stale: run 'PATH=\$PWD/tools/node_modules/.bin:\$PATH buf generate' and commit the result" >&2
	echo "(gen/python is made by Debian 12's protoc 3.21.12 and grpc_python_plugin 1.51.1; this machine has $(protoc --version))" >&2
	exit 1
fi

step "buf breaking (against the previous commit)"
if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto/keybroker/v1/keybroker.proto 2>/dev/null; then
	# The API module only: the googleapis module lives in tools/node_modules,
	# which a git ref does not have.
	buf breaking proto --against '.git#ref=HEAD~1,subdir=proto'
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

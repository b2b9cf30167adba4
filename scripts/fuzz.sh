#!/usr/bin/env bash
# scripts/fuzz.sh fuzzes every fuzz target for a bounded time each
# (FUZZTIME, default 10s) and prints a summary line per target. Inputs that
# crash are written to the package's testdata/fuzz and fail the run; the
# committed corpora there also run as ordinary tests in `go test`.
#   FUZZTIME=60s scripts/fuzz.sh        # longer, for docs/reliability.md
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"

targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v node_modules | sort | while read -r f; do
	pkg="./$(dirname "${f#./}")"
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed "s|^func |$pkg |"
done)

status=0
while read -r pkg name; do
	[ -n "$pkg" ] || continue
	log=$(mktemp)
	if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" "$pkg" >"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		status=1
		cat "$log"
	fi
	execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0)
	printf 'fuzz %-8s %-28s %-24s %12s execs in %s\n' "$result" "$pkg" "$name" "$execs" "$fuzztime"
	rm -f "$log"
done <<<"$targets"
exit $status

#!/usr/bin/env bash
# scripts/fuzz.sh fuzzes every fuzz target for a bounded time each
# (FUZZTIME, default 10s) and prints a summary line per target. Inputs that
# crash are written to the package's testdata/fuzz and fail the run; the
# committed corpora there also run as ordinary tests in `go test`.
#   FUZZTIME=60s scripts/fuzz.sh        # longer, for docs/reliability.md
#
# Go 1.26's fuzz coordinator can fail a target with a bare "context deadline
# exceeded" when a duration -fuzztime runs out (go.dev/issue/75804, fixed in
# Go 1.27). Such a run wrote no crasher, so the target is fuzzed again with a
# count limit (-fuzztime=Nx, no deadline) of as many inputs as the first run
# reached; only that run's result counts.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZTIME:-10s}"

targets=$(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v node_modules | sort | while read -r f; do
	pkg="./$(dirname "${f#./}")"
	grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed "s|^func |$pkg |"
done)

# corpus lists the inputs a target has on disk, so a new crasher shows.
corpus() { ls "$1/testdata/fuzz/$2" 2>/dev/null || true; }

# fuzz runs one target with the given -fuzztime, its output in $log.
fuzz() { go test -run='^$' -fuzz="^$2\$" -fuzztime="$3" "$1" >"$log" 2>&1; }

# deadline_race says whether a failed run is go.dev/issue/75804: the only
# failure is the coordinator's deadline, and no crasher was written.
deadline_race() {
	grep -q '^    context deadline exceeded$' "$log" &&
		! grep -q 'Failing input written to' "$log" &&
		[ "$(corpus "$1" "$2")" = "$3" ]
}

execs_of() { grep -o 'execs: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo 0; }

status=0
while read -r pkg name; do
	[ -n "$pkg" ] || continue
	log=$(mktemp)
	before=$(corpus "$pkg" "$name")
	limit="$fuzztime"
	result=ok
	if ! fuzz "$pkg" "$name" "$limit"; then
		result=FAILED
		if deadline_race "$pkg" "$name" "$before" && [ "$(execs_of)" -gt 0 ]; then
			limit="$(execs_of)x"
			echo "fuzz $name: context deadline exceeded with no crasher (go.dev/issue/75804); again with -fuzztime=$limit"
			fuzz "$pkg" "$name" "$limit" && result=ok
		fi
	fi
	if [ "$result" = FAILED ]; then
		status=1
		cat "$log"
	fi
	printf 'fuzz %-8s %-28s %-24s %12s execs in %s\n' "$result" "$pkg" "$name" "$(execs_of)" "$limit"
	rm -f "$log"
done <<<"$targets"
exit $status

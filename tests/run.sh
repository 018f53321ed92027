#!/bin/bash
# The whole test suite, as `make check` runs it: the Check unit suites, the
# integration tests on a real mount, and the differential tester. Prints one
# closing line "N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.." || exit 2

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
note() { printf '%s\n' "$*"; }

for t in "$@"; do
	note "== unit: $t"
	out=$("./$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	# Check prints "100%: Checks: N, Failures: F, Errors: E".
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -n 1)
	n=$(printf '%s' "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	f=$(printf '%s' "$line" | sed -E 's/.*Failures: ([0-9]+), Errors: ([0-9]+).*/\1+\2/')
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		note "FAIL: $t printed no Check summary (exit $rc)"
		continue
	fi
	f=$((f))
	passed=$((passed + n - f))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		failed=$((failed + 1))
		note "FAIL: $t exited $rc"
	fi
done

if [ "$(id -u)" -ne 0 ]; then
	note "FAIL: the integration tests mount filesystems and create users: run as root (sudo make check)"
	failed=$((failed + 1))
else
	for s in tests/integration/run.sh tests/fsx.sh; do
		[ -f "$s" ] || continue
		note "== $s"
		start=$SECONDS
		bash "$s" 2>&1 | tee "$log"
		note "== $s: $((SECONDS - start)) s"
		out=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
		if [[ "$out" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
			passed=$((passed + BASH_REMATCH[1]))
			failed=$((failed + BASH_REMATCH[2]))
		else
			note "FAIL: $s did not finish with a result line"
			failed=$((failed + 1))
		fi
	done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

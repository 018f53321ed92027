#!/usr/bin/env bash
# Runs every test_*.sh in this directory (or the ones named as arguments)
# and sums their "N passed, N failed" lines into one final line of the same
# form. Exit status is non-zero if any check failed or a test script did not
# report a result.
#
#   sudo tests/integration/run.sh                  # against ../../src binaries
#   sudo DEV_NATIVE=1 tests/integration/run.sh     # plain directories only
#   sudo tests/integration/run.sh test_ops.sh      # one script
#
# TEST_TIMEOUT (seconds, default 2400) bounds each script.
set -u
dir=$(cd "$(dirname "$0")" && pwd)
TEST_TIMEOUT=${TEST_TIMEOUT:-2400}

if [ $# -gt 0 ]; then
    tests=("$@")
else
    tests=()
    for t in "$dir"/test_*.sh; do tests+=("$(basename "$t")"); done
fi

passed=0
failed=0
skipped=0
summary=()
for t in "${tests[@]}"; do
    log=$(mktemp)
    echo "##### $t"
    start=$SECONDS
    timeout -k 30 "$TEST_TIMEOUT" bash "$dir/$t" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    secs=$((SECONDS - start))
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    s=$(sed -n -E 's/^.*: ([0-9]+) skipped$/\1/p' "$log" | tail -n 1)
    rm -f "$log"
    if [ -z "$line" ]; then
        echo "FAIL: $t did not print a result line (exit status $rc)"
        failed=$((failed + 1))
        summary+=("$t: no result (exit $rc), ${secs} s")
        continue
    fi
    p=${line%% passed*}
    f=${line#*, }
    f=${f%% failed*}
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + ${s:-0}))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL: $t exited $rc although it reported no failed check"
        failed=$((failed + 1))
    fi
    summary+=("$t: $line, ${s:-0} skipped, ${secs} s")
done

echo
echo "##### summary"
for s in "${summary[@]}"; do echo "  $s"; done
echo "total: $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

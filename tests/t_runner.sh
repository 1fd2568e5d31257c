#!/bin/sh
# tests/run.sh itself, on a fake tree of programs whose outcomes are known: passes, failures,
# skips (gpu, sanitizer, a dependency: failed under CI=true), a crash, a hang past the time
# limit, and that programs run side by side yet print whole and in order.
cd "$(dirname "$0")/.." || exit 1
n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tests" "$tmp/build/tests"
cp tests/run.sh "$tmp/tests/"
prog() { printf '#!/bin/sh\n%s\n' "$2" >"$tmp/build/tests/$1"; chmod +x "$tmp/build/tests/$1"; }
# cmocka's own lines, as CMOCKA_MESSAGE_OUTPUT=stdout prints them
prog test_pass 'sleep 2; echo "[==========] Running 2 test(s)."; echo "[  PASSED  ] 2 test(s)."'
prog test_fail 'echo "[==========] Running 2 test(s)."; echo "[  PASSED  ] 1 test(s)."; echo "[  FAILED  ] 1 test(s), listed below:"; exit 1'
prog test_gpu 'echo "SKIP(gpu): no CUDA device"; exit 0'
prog test_crash 'echo "[==========] Running 1 test(s)."; kill -SEGV $$'
prog test_hang 'sleep 30'
prog test_skip 'echo "[==========] Running 2 test(s)."; echo "[ RUN      ] a"; echo "SKIP(sanitizer): not under ASan"; echo "[  SKIPPED ] a"; echo "[  PASSED  ] 1 test(s)."'
printf 'sleep 2\necho "ok 1 - first"\necho "ok 2 - needs curl # SKIP curl: not installed"\necho "not ok 3 - broken"\nexit 1\n' >"$tmp/tests/t_a.sh"
printf 'echo "ok 1 - alone"\n' >"$tmp/tests/t_b.sh"

# 4 at a time: the hang must not hold the others up; its limit is 3 s
t0=$(date +%s)
CI= VAPD_TEST_JOBS=4 VAPD_TEST_LIMIT=3 sh "$tmp/tests/run.sh" >"$tmp/out" 2>&1; rc=$?
secs=$(($(date +%s) - t0))
sum=$(tail -1 "$tmp/out")
check "counts: passed, failed, skipped apart ($sum)" '[ "$sum" = "summary: 6 passed, 4 failed, 3 skipped" ]'
check "exit status 1 on failures" '[ $rc -eq 1 ]'
check "the hang fails by name with its limit" 'grep -q "^failing: .*test_hang (timed out after 3 s)" "$tmp/out"'
check "a crash without a failed line fails" 'grep -q "^failing: .*test_crash" "$tmp/out"'
check "skips are named by kind" 'grep -q "^skipped: gpu (1), sanitizer (1), other (1)$" "$tmp/out"'
check "side by side: the run took less than the sum of its sleeps ($secs s)" '[ $secs -lt 6 ]'
order=$(grep "^== " "$tmp/out" | tr '\n' ' ')
check "output in the usual order, whole per program ($order)" \
	'[ "$order" = "== test_crash == test_fail == test_gpu == test_hang == test_pass == test_skip == t_a.sh == t_b.sh " ] &&
	 [ "$(sed -n "/^== t_a.sh/,/^# t_a.sh/p" "$tmp/out" | grep -c "^ok\|^not ok")" -eq 3 ]'

# CI=true: a dependency skip is a failure; one at a time gives the same counts
CI=true VAPD_TEST_JOBS=1 VAPD_TEST_LIMIT=3 sh "$tmp/tests/run.sh" >"$tmp/ci" 2>&1
check "CI=true: a dependency skip fails ($(tail -1 "$tmp/ci"))" \
	'[ "$(tail -1 "$tmp/ci")" = "summary: 6 passed, 5 failed, 2 skipped" ] && grep -q "t_a.sh (needs curl) (skip curl: not installed)" "$tmp/ci"'

# nothing failing: exit 0
rm "$tmp/build/tests/test_fail" "$tmp/build/tests/test_crash" "$tmp/build/tests/test_hang" "$tmp/tests/t_a.sh"
CI= sh "$tmp/tests/run.sh" >"$tmp/good" 2>&1; rc=$?
check "all passing: exit 0 ($(tail -1 "$tmp/good"))" '[ $rc -eq 0 ] && [ "$(tail -1 "$tmp/good")" = "summary: 4 passed, 0 failed, 2 skipped" ]'
echo "1..$n"
[ $failed -eq 0 ]

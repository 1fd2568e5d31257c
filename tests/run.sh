#!/bin/sh
# Runs the whole suite: every cmocka binary build/tests/test_* and every script tests/t_*.sh,
# then prints one closing line counting tests. --gpu runs build/tests/gpu_* instead.
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
export BUILD SHARED
export CMOCKA_MESSAGE_OUTPUT=stdout
cd "$(dirname "$0")/.." || exit 1
pattern="test_"
[ "$1" = "--gpu" ] && pattern="gpu_"
total=0; failed=0; failed_names=""
log=$(mktemp)
for t in "$BUILD"/tests/${pattern}*; do
	case "$t" in *.o|*.d) continue ;; esac
	[ -x "$t" ] || continue
	echo "== $(basename "$t")"
	"$t" >"$log" 2>&1; rc=$?
	cat "$log"
	n=$(grep -Eo '^\[==========\] [0-9]+ test' "$log" | tail -1 | grep -Eo '[0-9]+')
	f=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$log" | tail -1 | grep -Eo '[0-9]+')
	total=$((total + ${n:-1}))
	if [ $rc -ne 0 ]; then failed=$((failed + ${f:-1})); failed_names="$failed_names $(basename "$t")"; fi
done
if [ "$pattern" = "test_" ]; then
	for s in tests/t_*.sh; do
		[ -f "$s" ] || continue
		echo "== $(basename "$s")"
		sh "$s" >"$log" 2>&1; rc=$?
		cat "$log"
		n=$(grep -Ec '^(ok|not ok) ' "$log")
		f=$(grep -Ec '^not ok ' "$log")
		[ "$n" -eq 0 ] && n=1
		[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
		total=$((total + n)); failed=$((failed + f))
		[ $rc -ne 0 ] && failed_names="$failed_names $(basename "$s")"
	done
fi
rm -f "$log"
echo "vapd tests: $((total - failed)) passed, $failed failed, $total total${failed_names:+ (failing:$failed_names)}"
[ $failed -eq 0 ]

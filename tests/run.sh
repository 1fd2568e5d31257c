#!/bin/sh
# Runs the whole suite: every cmocka binary build/tests/test_* and every script tests/t_*.sh
# (--gpu: every build/tests/gpu_* instead), then counts tests passed, failed and skipped.
#
# A skip names its kind: cmocka tests print "SKIP(kind): reason" before skip()
# (tests/test_skip.h, tests/gpu_skip.h), scripts print "ok N - what # SKIP kind: reason".
# gpu (no GPU or no NVDEC here) and sanitizer (the ASan build cannot check it) are skips
# everywhere. Any other kind is a dependency that `make deps` installs, so with CI=true it
# is counted as failed, with its name listed.
#
# Every program runs under timeout(1): DEFAULT_LIMIT seconds, or its row in limit_for; one
# that runs longer fails with "timed out after N s".
#
# Programs run VAPD_TEST_JOBS at a time (default 3; --gpu: 1, one GPU shared by timed
# checks). Most of the suite waits on peers, clocks and child processes rather than the
# CPU, so three at a time on 2 cores roughly halves the wall time. Each program's output is
# kept apart and printed whole, in the usual order, once all have run; a line per program
# says when it ends. Programs share nothing but the build: every one takes its own
# temporary folder and free ports, and the two that make $BUILD-asan take a lock for it.
#
# The last line is what CI reads; keep its shape, alone on its line:
#   summary: N passed, N failed, N skipped
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
export BUILD SHARED
export CMOCKA_MESSAGE_OUTPUT=stdout
cd "$(dirname "$0")/.." || exit 1
DEFAULT_LIMIT=${VAPD_TEST_LIMIT:-300}

# Seconds per program where DEFAULT_LIMIT could be too short. Measured in two runs on the
# loaded 2-core machine the suite runs on, every other program took at most 42 s
# (t_daemon.sh; t_accuracy.sh 27 s, test_preprocess_cpu 17 s, test_decode 16 s), so 300 s is
# over 3x for them. The two scripts that build $BUILD-asan (whichever runs first pays for
# the build; a cold one takes minutes) and run vapd under ASan get more.
limit_for() {
	case "$1" in
	t_daemon_rtsp.sh) echo 600 ;;   # 12 s; 83 s when it rebuilt $BUILD-asan
	t_sanitize.sh) echo 900 ;;      # 80 s and 200 s with $BUILD-asan up to date
	*) echo "$DEFAULT_LIMIT" ;;
	esac
}

# Reads one program's output ($2; $1 says cmocka or tap, $3 names the program) and prints
# tab-separated lines: one "skip KIND NAME REASON" per skipped test, then
# "count PASSED FAILED RAN" (RAN 0: no test reported, the exit status decides).
parse() {
	awk -v mode="$1" -v prog="$3" '
	function skipline(kind, name, why) { print "skip\t" kind "\t" name "\t" why }
	mode == "cmocka" && /^\[==========\] Running / { group = 1; groups++; kind = ""; why = "" }
	mode == "cmocka" && /^\[ RUN      \] / { kind = ""; why = "" }
	mode == "cmocka" && /^SKIP\([A-Za-z0-9_-]+\): / {
		kind = $0; sub(/^SKIP\(/, "", kind); sub(/\).*/, "", kind)
		why = $0; sub(/^SKIP\([^)]*\): */, "", why)
	}
	mode == "cmocka" && group && /^\[  SKIPPED \] / && $5 !~ /^test\(s\)/ {
		skipline(kind == "" ? "unknown" : kind, prog "/" $4, why == "" ? "no SKIP(kind) line" : why)
		kind = ""; why = ""
	}
	mode == "cmocka" && /^\[==========\] [0-9]+ test\(s\) run/ { group = 0 }
	mode == "cmocka" && /^\[  PASSED  \] [0-9]+ test/ { passed += $4 }
	mode == "cmocka" && /^\[  FAILED  \] [0-9]+ test/ { failed += $4 }
	mode == "tap" && /^not ok / { failed++; tap = 1; next }
	mode == "tap" && /^ok / {
		tap = 1
		if (!match($0, /# *[Ss][Kk][Ii][Pp]([ \t:]|$)/)) { passed++; next }
		name = substr($0, 1, RSTART - 1); sub(/^ok [0-9]* *-? */, "", name); sub(/ *$/, "", name)
		kind = substr($0, RSTART + RLENGTH); sub(/^[ \t:]*/, "", kind); why = kind
		if (kind ~ /^[A-Za-z0-9_-]+:/) { sub(/:.*/, "", kind); sub(/^[^:]*: */, "", why) }
		else kind = "unknown"
		skipline(kind, prog (name == "" ? "" : " (" name ")"), why)
	}
	END {
		# A program that skipped itself before any test ran (tests/gpu_skip.h).
		if (mode == "cmocka" && !groups && kind != "") { skipline(kind, prog, why); skipped_whole = 1 }
		print "count\t" passed + 0 "\t" failed + 0 "\t" (groups || tap || skipped_whole)
	}' "$2"
}

# The worker, one per program (xargs runs JOBS of them): runs "$2" under its time limit and
# leaves its output in $RESULTS/NAME.log and "exit-status seconds" in $RESULTS/NAME.res.
if [ "$1" = "--one" ]; then
	name=$2
	case "$name" in
	*.sh) set -- sh "tests/$name" ;;
	*) set -- "$BUILD/tests/$name" ;;
	esac
	limit=$(limit_for "$name")
	t0=$(date +%s)
	timeout -k 10 "$limit" "$@" >"$RESULTS/$name.log" 2>&1; rc=$?
	secs=$(($(date +%s) - t0))
	echo "$rc $secs" >"$RESULTS/$name.res"
	echo "# ended: $name ($secs s)"
	exit 0
fi

TAB=$(printf '\t')
passed=0; failed=0; skipped=0; skip_gpu=0; skip_san=0; skip_other=0
RESULTS=$(mktemp -d); counts=$(mktemp); failing=$(mktemp); others=$(mktemp)
export RESULTS
trap 'rm -rf "$RESULTS" "$counts" "$failing" "$others"' EXIT

# Adds the counts of one program that has run ($1 its name, $2 cmocka or tap).
collect() {
	name=$1; mode=$2; log="$RESULTS/$name.log"
	limit=$(limit_for "$name")
	echo "== $name"
	rc=1; secs=0
	[ -f "$RESULTS/$name.res" ] && read -r rc secs <"$RESULTS/$name.res"
	cat "$log" 2>/dev/null
	if { [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; } && [ "$secs" -ge "$limit" ]; then
		echo "# $name: timed out after $limit s"
		failed=$((failed + 1)); echo "$name (timed out after $limit s)" >>"$failing"
		return
	fi
	echo "# $name: $secs s (limit $limit s)"
	parse "$mode" "$log" "$name" >"$counts"
	p=0; f=0; ran=0
	while IFS="$TAB" read -r what a b c; do
		case "$what" in
		count) p=$a; f=$b; ran=$c ;;
		skip)
			case "$a" in
			gpu) skip_gpu=$((skip_gpu + 1)); skipped=$((skipped + 1)) ;;
			sanitizer) skip_san=$((skip_san + 1)); skipped=$((skipped + 1)) ;;
			*)
				if [ "${CI:-}" = true ]; then
					echo "# $b: a skip of kind $a fails under CI=true ($c)"
					failed=$((failed + 1)); echo "$b (skip $a: $c)" >>"$failing"
				else
					skip_other=$((skip_other + 1)); skipped=$((skipped + 1)); echo "$b ($a: $c)" >>"$others"
				fi ;;
			esac ;;
		esac
	done <"$counts"
	# No test counted: one for the program, by its exit status.
	if [ "$ran" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		[ "$rc" -eq 0 ] && p=1 || f=1
	fi
	# A crash or a failed group setup is a failure even when no test said so.
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p)); failed=$((failed + f))
	[ "$f" -gt 0 ] && echo "$name" >>"$failing"
}

pattern="test_"; jobs=${VAPD_TEST_JOBS:-3}
[ "$1" = "--gpu" ] && pattern="gpu_" && jobs=1
progs=""
for t in "$BUILD"/tests/${pattern}*; do
	case "$t" in *.o|*.d) continue ;; esac
	[ -x "$t" ] || continue
	progs="$progs $(basename "$t")"
done
if [ "$pattern" = "test_" ]; then
	for s in tests/t_*.sh; do
		[ -f "$s" ] && progs="$progs $(basename "$s")"
	done
fi

# The longest programs start first (seconds measured on the loaded 2-core machine in the
# comment above limit_for and since), so none of them is left to run alone at the end.
LONG="t_fuzz.sh t_sanitize.sh t_view_http.sh t_daemon_rtsp.sh t_fleet.sh t_daemon.sh
t_fleet_files.sh t_tracking.sh test_view_record test_decode test_decode_live
test_netsinks_mqtt t_e2e.sh t_view_e2e.sh t_models_e2e.sh"
{
	for p in $LONG; do
		case " $progs " in *" $p "*) echo "$p" ;; esac
	done
	for p in $progs; do
		case " $(echo $LONG) " in *" $p "*) ;; *) echo "$p" ;; esac
	done
} | xargs -P "$jobs" -I{} sh tests/run.sh --one {}

for p in $progs; do
	case "$p" in *.sh) collect "$p" tap ;; *) collect "$p" cmocka ;; esac
done

[ -s "$failing" ] && echo "failing: $(sed 's/$/;/' "$failing" | tr '\n' ' ' | sed 's/; $//')"
[ -s "$others" ] && echo "skipped for a missing dependency (failures under CI=true): $(sed 's/$/;/' "$others" | tr '\n' ' ' | sed 's/; $//')"
echo "skipped: gpu ($skip_gpu), sanitizer ($skip_san)$([ $skip_other -gt 0 ] && echo ", other ($skip_other)")"
echo "summary: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]

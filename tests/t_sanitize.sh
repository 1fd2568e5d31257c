#!/bin/sh
# The end-to-end run under AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
# included): a sanitizer build in $BUILD-asan, then a clip through decode, the detector,
# the file and stdout sinks, a SIGTERM drain, and the tracking stage (its unit tests and a
# clip with a zone and a line). Any report fails the test.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
ASAN_BUILD=$BUILD-asan
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
# Waits up to $2 tenths of a second for the shell condition $1.
wait_for() { i=0; while ! eval "$1"; do i=$((i + 1)); [ $i -ge "$2" ] && return 1; sleep 0.1; done; }

# unit tests run under the sanitizers too: the tracking stage's, and the operators' hostile-node test
ANALYTICS_TESTS="test_tracker test_counting test_analytics test_ops_hostile test_ops_more test_view_live test_view_snaps test_view_events"
# t_daemon_rtsp.sh makes the same build, maybe at the same time (tests/run.sh runs programs
# side by side): one make at a time in the folder.
mkdir -p "$ASAN_BUILD"
if ! flock "$ASAN_BUILD/.lock" make -s -j"$(nproc)" BUILD="$ASAN_BUILD" SANITIZE=1 "$ASAN_BUILD/vapd" \
	$(for t in $ANALYTICS_TESTS; do echo "$ASAN_BUILD/tests/$t"; done) >"$tmp/build.log" 2>&1; then
	nok "sanitizer build: $(tail -5 "$tmp/build.log")"
	exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=23
# OpenBLAS keeps its thread pool for the process's life: one thread keeps LSan quiet about it.
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1

run_clip() { # name clip family model
	printf 'sources:\n  - id: s1\n    uri: %s\n  - id: s2\n    uri: %s\n    interval: 3\nmodel:\n  path: %s\n  family: %s\n  labels: %s/models/coco.names\n  batch: { max_size: 4 }\nsinks:\n  - type: file\n    path: %s/out.jsonl\n    mode: truncate\n  - type: stdout\n' \
		"$2" "$2" "$4" "$3" "$SHARED" "$tmp" > "$tmp/c.yaml"
	"$ASAN_BUILD/vapd" -q -c "$tmp/c.yaml" >/dev/null 2>"$tmp/err"; rc=$?
	frames=$(grep -c '"stream":"s1","frame"' "$tmp/out.jsonl")
	if [ $rc = 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/err" && [ "$frames" -gt 0 ]; then
		ok "$1 under ASan+UBSan: $frames frames, no report"
	else
		nok "$1 under ASan+UBSan (rc=$rc): $(grep -m6 -A3 'Sanitizer\|runtime error\|error' "$tmp/err")"
	fi
}
run_clip "yolox on people-2s" "$SHARED/data/videos/people-2s.mp4" yolox "$SHARED/models/yolox_nano.onnx"
run_clip "yolov8 on highway-160x90" "$SHARED/data/videos/highway-160x90.mp4" yolov8 "$SHARED/models/yolov8n.onnx"

# A truncated clip and a SIGTERM in the middle of a run.
head -c 30000 "$SHARED/data/videos/people-432p.mp4" > "$tmp/cut.mp4"
printf 'sources:\n  - id: cut\n    uri: %s\n  - id: live\n    uri: %s\n    realtime: true\nsinks:\n  - type: file\n    path: %s/t.jsonl\n' \
	"$tmp/cut.mp4" "$SHARED/data/videos/people-432p.mp4" "$tmp" > "$tmp/t.yaml"
"$ASAN_BUILD/vapd" -q -c "$tmp/t.yaml" 2>"$tmp/err" &
pid=$!
# In the middle of the run: the truncated clip has ended and the live one is running.
wait_for 'grep -q "\[source cut\] ended" "$tmp/err" && grep -q "\[decode live\] connecting → running" "$tmp/err"' 300
kill -TERM $pid
wait $pid; rc=$?
if [ $rc = 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/err" && [ "$(grep -c '"eos":true' "$tmp/t.jsonl")" = 2 ]; then
	ok "truncated clip + SIGTERM drain under ASan+UBSan"
else
	nok "truncated + SIGTERM (rc=$rc): $(grep -m6 -A3 'Sanitizer\|runtime error' "$tmp/err")"
fi
# The tracking stage: the unit tests, then tracks, a zone and a line through a whole clip.
for t in $ANALYTICS_TESTS; do
	# The view's tests draw text: fontconfig's process-long cache is suppressed, which needs
	# whole stacks (fontconfig has no frame pointers for the fast unwinder).
	opts=$ASAN_OPTIONS
	case $t in test_view_*) opts=$ASAN_OPTIONS:fast_unwind_on_malloc=0 ;; esac
	if ASAN_OPTIONS=$opts LSAN_OPTIONS=suppressions=$(cd "$(dirname "$0")" && pwd)/lsan.supp "$ASAN_BUILD/tests/$t" >"$tmp/err" 2>&1 && ! grep -q "Sanitizer\|runtime error" "$tmp/err"; then
		ok "$t under ASan+UBSan"
	else
		nok "$t under ASan+UBSan: $(grep -m6 -A3 'Sanitizer\|runtime error\|FAILED' "$tmp/err")"
	fi
done
printf 'sources:\n  - id: hw\n    uri: %s\n    interval: 2\n    zones: [{name: z, polygon: [[0, 40], [80, 40], [80, 90], [0, 90]]}]\n    lines: [{name: l, points: [[40, 90], [40, 30]]}]\nmodel:\n  path: %s/models/yolox_nano.onnx\n  labels: %s/models/coco.names\ntracker: { low_threshold: 0.05 }\nsinks:\n  - type: file\n    path: %s/trk.jsonl\n    mode: truncate\n' \
	"$SHARED/data/videos/highway-160x90.mp4" "$SHARED" "$SHARED" "$tmp" >"$tmp/trk.yaml"
"$ASAN_BUILD/vapd" -q -c "$tmp/trk.yaml" >/dev/null 2>"$tmp/err"; rc=$?
if [ $rc = 0 ] && ! grep -q "Sanitizer\|runtime error" "$tmp/err" && grep -q '"event":"track_end"' "$tmp/trk.jsonl"; then
	ok "tracking, zone and line on highway-160x90 under ASan+UBSan: $(grep -c '"event"' "$tmp/trk.jsonl") events"
else
	nok "tracking under ASan+UBSan (rc=$rc): $(grep -m6 -A3 'Sanitizer\|runtime error\|error' "$tmp/err")"
fi
[ $fails = 0 ]

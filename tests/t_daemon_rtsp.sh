#!/bin/sh
# RTSP end to end through build/vapd: tests/rtsp_server.py (GStreamer) streams a shared
# clip; the test kills it mid-stream (vapd must log the loss and back off, not crash),
# restarts it on the same port, and frames must flow again within reconnect.max_ms + 1.5 s
# of the server being ready.
# Repeated under the ASan+UBSan build of t_sanitize.sh.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
PY=/usr/bin/python3
CLIP=$SHARED/data/videos/highway-540p.mp4
MAX_MS=1000
tmp=$(mktemp -d)
srv=; pid=
trap '[ -n "$srv" ] && kill -KILL $srv 2>/dev/null; [ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }
wait_for() { i=0; while ! eval "$1"; do i=$((i + 1)); [ $i -ge "$2" ] && return 1; sleep 0.1; done; }
now_ms() { date +%s%3N; }
frames() { cat "$tmp/out.jsonl" 2>/dev/null | grep -c '"stream":"cam","frame"'; }

if ! $PY -c 'import gi; gi.require_version("GstRtspServer", "1.0")' 2>/dev/null; then
	ok "RTSP # SKIP deps: GStreamer's RTSP server (python3-gi, gir1.2-gst-rtsp-server-1.0) is not installed"
	exit 0
fi
port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
start_server() {
	$PY tests/rtsp_server.py "$port" "$CLIP" /cam >"$tmp/srv.out" 2>&1 &
	srv=$!
	wait_for 'grep -q "^ready" "$tmp/srv.out" 2>/dev/null' 100
}

{ printf 'sources:\n  - id: cam\n    uri: rtsp://127.0.0.1:%s/cam\n' "$port"
  printf '    reconnect: { initial_ms: 200, max_ms: %d }\n    rtsp: { transport: tcp, timeout_ms: 2000 }\n' $MAX_MS
  printf 'sinks:\n  - type: file\n    path: %s/out.jsonl\n    mode: truncate\n    flush_ms: 0\n' "$tmp"
} >"$tmp/c.yaml"

scenario() { # label vapd-binary
	label=$1
	rm -f "$tmp/out.jsonl"
	start_server || { nok "$label: the RTSP server did not start: $(cat "$tmp/srv.out")"; return; }
	"$2" -q -c "$tmp/c.yaml" 2>"$tmp/err" &
	pid=$!
	wait_for '[ "$(frames)" -ge 25 ]' 150
	before=$(frames)
	kill -KILL $srv; wait $srv 2>/dev/null; srv=
	check "$label: frames flowed from the RTSP server ($before before the kill)" '[ "$before" -ge 25 ]'
	lost=0; wait_for 'grep -q "\[decode cam\] running → backoff" "$tmp/err"' 50 && lost=1
	# Dead server: three refused connects, each followed by a longer backoff (delays up to
	# 200, 400, 800 ms): the next delay is at reconnect.max_ms when the server comes back.
	wait_for '[ "$(grep -c "\[decode cam\] connecting → backoff" "$tmp/err")" -ge 3 ]' 150
	backoffs=$(grep -c "\[decode cam\] connecting → backoff" "$tmp/err")
	check "$label: the loss is logged and vapd backs off ($backoffs refused reconnects)" \
		'[ $lost = 1 ] && [ "$backoffs" -ge 3 ] && kill -0 $pid 2>/dev/null'
	mid=$(frames)
	t0=$(now_ms)
	start_server
	t1=$(now_ms)
	wait_for '[ "$(frames)" -gt "$mid" ]' 100
	t2=$(now_ms)
	# Timed from the server's "ready": its own start (Python + GStreamer) is not vapd's.
	# The backoff is at its cap, so the next try comes within max_ms; then the RTSP
	# handshake and the first decodable frame. Measured under load on the 2-core machine
	# (2 busy loops, 20 runs): server start 8-873 ms (median 305); ready to frames
	# 558-1863 ms (median 931) with max_ms 1000, 771-1756 ms (median 1218) under ASan with
	# max_ms 2000; the old limit, max_ms + 1 s from before the server start, failed 1 of 20.
	dt=$((t2 - t1))
	check "$label: frames flow again ${dt} ms after the restarted server is ready ($((t1 - t0)) ms to start it; limit reconnect.max_ms + 1.5 s = $((MAX_MS + 1500)) ms)" \
		'[ "$(frames)" -gt "$mid" ] && [ $dt -le $((MAX_MS + 1500)) ]'
	# Flowing, not one frame: ten more before the stop.
	wait_for '[ "$(frames)" -ge $((mid + 10)) ]' 100
	kill -TERM $pid; wait $pid; rc=$?; pid=
	kill -KILL $srv 2>/dev/null; wait $srv 2>/dev/null; srv=
	check "$label: no crash, clean exit with the stream's EOS (rc=$rc)" \
		'[ $rc = 0 ] && grep -q "\"stream\":\"cam\",\"eos\":true" "$tmp/out.jsonl" &&
		 ! grep -q "Sanitizer\|runtime error" "$tmp/err"'
	check "$label: frame indices stay consecutive across the reconnect" \
		'$PY - "$tmp/out.jsonl" <<PY
import json, sys
idx = [m["frame"] for m in map(json.loads, open(sys.argv[1])) if "frame" in m]
assert idx == list(range(len(idx))), idx[:3]
PY'
}

scenario "vapd" "$BUILD/vapd"
# The same build as t_sanitize.sh (whichever runs first pays for it; its lock keeps two makes
# out of the folder at once).
mkdir -p "$BUILD-asan"
if flock "$BUILD-asan/.lock" make -s -j"$(nproc)" BUILD="$BUILD-asan" SANITIZE=1 "$BUILD-asan/vapd" >"$tmp/build.log" 2>&1; then
	export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
	export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:exitcode=23
	MAX_MS=2000
	sed -i "s/max_ms: 1000/max_ms: $MAX_MS/" "$tmp/c.yaml"
	scenario "vapd under ASan+UBSan" "$BUILD-asan/vapd"
else
	nok "sanitizer build: $(tail -5 "$tmp/build.log")"
fi
[ $fails = 0 ]

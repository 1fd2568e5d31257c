#!/bin/sh
# build/vapd's process lifecycle as supervisors drive it: started with stdout or stderr
# closed, and stopped by signals that come twice or come before the pipeline runs.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
V=$SHARED/data/videos
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -KILL $pid 2>/dev/null; rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }
# flush_ms 0: every line is in the file once published, so the file can be read live.
file_sink() { printf '  - type: file\n    path: %s\n    mode: truncate\n    flush_ms: 0\n' "$1"; }
# Every line of $1 is a JSON object; stream $2's frames are 0..$3-1 in order, each once,
# and its EOS line comes last (pass - as $3 when the count is not known in advance).
jsonl_ok() {
	$PY - "$1" "$2" "$3" <<'PY'
import json, sys
path, sid, want = sys.argv[1], sys.argv[2], sys.argv[3]
msgs = []
for i, line in enumerate(open(path), 1):
    try:
        msgs.append(json.loads(line))
    except ValueError:
        sys.exit(f"# {path}:{i}: not JSON: {line[:80]!r}")
own = [m for m in msgs if m.get("stream") == sid]
idx = [m["frame"] for m in own if "frame" in m]
if idx != list(range(len(idx))) or (want != "-" and len(idx) != int(want)):
    sys.exit(f"# {path}: frames {idx[:5]}... ({len(idx)}), want 0..{want}")
if not own or not own[-1].get("eos") or sum(1 for m in own if m.get("eos")) != 1:
    sys.exit(f"# {path}: {len(own)} lines, the last is not the one EOS")
if len(msgs) != len(own):
    sys.exit(f"# {path}: lines of other streams")
PY
}

# --- stdout/stderr closed: the file sink must not get descriptor 1 or 2 -------------------
# A stdout sink as well: with fd 1 closed it would write into the file sink's descriptor.
for redir in '>&- 2>>"$tmp/err"' '2>&- >/dev/null' '>&- 2>&-'; do
	{ printf 'sources:\n  - id: cam\n    uri: %s\nsinks:\n' "$V/people-2s.mp4"
	  file_sink "$tmp/closed.jsonl"; printf '  - type: stdout\n'; } >"$tmp/closed.yaml"
	rm -f "$tmp/closed.jsonl"
	eval "\"\$VAPD\" -c \"\$tmp/closed.yaml\" $redir"; rc=$?
	lines=$(cat "$tmp/closed.jsonl" 2>/dev/null | wc -l)
	check "started with $redir: rc $rc, the file has 20 frame lines + EOS ($lines lines), all JSON, no log lines" \
		'[ $rc = 0 ] && [ "$lines" = 21 ] && jsonl_ok "$tmp/closed.jsonl" cam 20'
done

# --- a stop signal that comes twice within milliseconds is one stop -----------------------
# Waits up to $2 tenths of a second for the shell condition $1.
wait_for() { i=0; while ! eval "$1"; do i=$((i + 1)); [ $i -ge "$2" ] && return 1; sleep 0.1; done; }
# sh starts background commands with SIGINT ignored; exec vapd as a terminal would run it.
dfl() {
	exec $PY -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL); signal.signal(signal.SIGPIPE, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$@"
}
{ printf 'sources:\n  - id: loop\n    uri: %s\n    realtime: true\n    loop: true\nsinks:\n' \
	"$V/highway-160x90.mp4"; file_sink "$tmp/twice.jsonl"; } >"$tmp/twice.yaml"
for sig in TERM INT; do
	rm -f "$tmp/twice.jsonl"
	dfl "$VAPD" -q -c "$tmp/twice.yaml" 2>"$tmp/twice.err" &
	pid=$!
	wait_for 'grep -q "\"frame\":2," "$tmp/twice.jsonl" 2>/dev/null' 600
	# a few ms apart: the first is being handled when the second comes
	kill -$sig $pid; sleep 0.005; kill -$sig $pid
	wait $pid; rc=$?; pid=
	check "SIG$sig twice within a few ms: exit $rc (want 0), frames then the EOS line" \
		'[ $rc = 0 ] && jsonl_ok "$tmp/twice.jsonl" loop -'
done
# timeout(1) signals its child and then its process group: two SIGTERMs microseconds apart.
rm -f "$tmp/twice.jsonl"
timeout --preserve-status -s TERM 3 "$VAPD" -q -c "$tmp/twice.yaml" 2>"$tmp/twice.err"; rc=$?
check "timeout(1) stops it: exit $rc (want 0), and what was written ends with the EOS line" \
	'[ $rc = 0 ] && { ! [ -s "$tmp/twice.jsonl" ] || jsonl_ok "$tmp/twice.jsonl" loop -; }'

# --- SIGTERM right after start: drained or stopped cleanly, never killed -------------------
# Starts vapd without GOMP_SPINCOUNT in its environment and sends SIGTERM $2 seconds after
# exec, or ("main") as soon as /proc/PID/environ shows the re-exec that vapd's main does
# (vp_omp_tune): vapd's own code has run by then. Prints the exit status (-15: killed by
# the signal), then 1 if the re-exec had happened when the signal was sent.
early_term() {
	$PY - "$VAPD" "$1" "$2" "$tmp/early.err" <<'PY'
import os, signal, subprocess, sys, time
vapd, cfg, when, err = sys.argv[1:5]
env = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
p = subprocess.Popen([vapd, "-q", "-c", cfg], env=env, stderr=open(err, "w"),
                     stdout=subprocess.DEVNULL)
def reexeced():
    try:
        return b"GOMP_SPINCOUNT=" in open(f"/proc/{p.pid}/environ", "rb").read()
    except OSError:
        return False
if when == "main":
    deadline = time.monotonic() + 30
    while not reexeced() and time.monotonic() < deadline:
        time.sleep(0.0005)
else:
    time.sleep(float(when))
seen = reexeced()
p.send_signal(signal.SIGTERM)
try:
    rc = p.wait(60)
except subprocess.TimeoutExpired:
    p.kill(); rc = "hung"
print(rc, int(seen))
PY
}
{ printf 'sources:\n  - id: loop\n    uri: %s\n    realtime: true\n    loop: true\nsinks:\n' \
	"$V/highway-160x90.mp4"; file_sink "$tmp/early.jsonl"; } >"$tmp/early.yaml"
for when in main main main; do
	rm -f "$tmp/early.jsonl"
	res=$(early_term "$tmp/early.yaml" $when)
	check "SIGTERM as soon as vapd's main has run: exit ${res% *} (want 0), no partial output" \
		'[ "${res% *}" = 0 ] && { ! [ -s "$tmp/early.jsonl" ] || jsonl_ok "$tmp/early.jsonl" loop -; }'
done
# While the model loads the main thread is not waiting for signals: a thread that does not
# block SIGTERM (OpenBLAS starts one before main) must not take it with the default action.
{ printf 'sources:\n  - id: loop\n    uri: %s\n    realtime: true\n    loop: true\n' "$V/highway-160x90.mp4"
  printf 'model:\n  path: %s/models/yolox_nano.onnx\n  family: yolox\n' "$SHARED"
  printf '  labels: %s/models/coco.names\nsinks:\n' "$SHARED"; file_sink "$tmp/load.jsonl"; } >"$tmp/load.yaml"
"$VAPD" -q -c "$tmp/load.yaml" 2>"$tmp/load.err" &
pid=$!
i=0; until grep -q "\[model\] backend" "$tmp/load.err" || [ $i -ge 3000 ]; do i=$((i + 1)); sleep 0.01; done
kill -TERM $pid; wait $pid; rc=$?; pid=
check "SIGTERM while the model loads: exit $rc (want 0), what was written ends with the EOS line" \
	'[ $rc = 0 ] && { ! [ -s "$tmp/load.jsonl" ] || jsonl_ok "$tmp/load.jsonl" loop -; }'

# Before vapd's main runs (the dynamic loader maps ~100 libraries, tens of ms) no program
# can catch a signal: there the default action may kill it, with nothing written.
for when in 0 0.02 0.05 0.1; do
	rm -f "$tmp/early.jsonl"
	res=$(early_term "$tmp/early.yaml" $when)
	check "SIGTERM ${when}s after exec: exit ${res% *}; 0, or -15 only while still loading" \
		'[ "${res% *}" = 0 ] && { ! [ -s "$tmp/early.jsonl" ] || jsonl_ok "$tmp/early.jsonl" loop -; } ||
		 { [ "$res" = "-15 0" ] && ! [ -s "$tmp/early.jsonl" ]; }'
done

[ $fails = 0 ]

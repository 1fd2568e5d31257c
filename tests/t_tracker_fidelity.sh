#!/bin/sh
# ByteTrack fidelity: build/tests/tool_bytetrack (analytics/bytetrack.c) against
# tools/bytetrack_ref.py (an independent port of the official BYTETracker) on reference
# detections, with the default thresholds and with lower ones (more low-score
# associations). Per clip and setting: the same (frame, detection) pairs get a track, the
# track ids correspond one-to-one over the whole clip, the Kalman boxes agree within
# 1e-3 px; the C tool also checks its ended/confirmed bookkeeping (exit 1 on a fault).
# The reference solves the assignments with scipy; on the NMS-free detectors' output
# (identical boxes of several classes, so exactly tied assignments) it runs lap's own
# algorithm (--lap jv) instead, since only that decides ties as the official run does.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
PY=/usr/bin/python3
TOOL=$BUILD/tests/tool_bytetrack
REF=tools/bytetrack_ref.py
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

compare() { # c-output ref-output: prints a summary, exits non-zero on a mismatch
	"$PY" - "$1" "$2" <<'PY'
import sys
def load(path):
    rows = {}
    for line in open(path):
        f, d, k, *b = line.split()
        rows[(int(f), int(d))] = (k, [float(v) for v in b])
    return rows
c, r = load(sys.argv[1]), load(sys.argv[2])
if set(c) != set(r):
    only_c, only_r = sorted(set(c) - set(r)), sorted(set(r) - set(c))
    sys.exit("tracked (frame, det) differ: C only %s, ref only %s" % (only_c[:5], only_r[:5]))
fwd, back, diff = {}, {}, 0.0
for key, (kc, bc) in c.items():
    kr, br = r[key]
    if fwd.setdefault(kc, kr) != kr or back.setdefault(kr, kc) != kc:
        sys.exit("ids do not correspond at frame %d det %d: C %s, ref %s" % (key + (kc, kr)))
    diff = max(diff, max(abs(x - y) for x, y in zip(bc, br)))
if diff > 1e-3:
    sys.exit("Kalman boxes differ by %.3g px" % diff)
frames = len(set(f for f, _ in c))
print("%d tracks, %d track-frames over %d frames, max box diff %.2g px" % (len(fwd), len(c), frames, diff))
PY
}

run() { # clip solver args...
	clip=$1 solver=$2
	shift 2
	dets=$SHARED/data/reference/$clip.jsonl
	if ! "$TOOL" "$dets" "$@" >"$tmp/c" 2>"$tmp/err"; then
		nok "$clip ($*): tool_bytetrack failed: $(tail -2 "$tmp/err")"
		return
	fi
	if ! "$PY" "$REF" "$dets" --lap "$solver" "$@" >"$tmp/r" 2>"$tmp/err"; then
		nok "$clip ($*): bytetrack_ref.py failed: $(tail -2 "$tmp/err")"
		return
	fi
	if msg=$(compare "$tmp/c" "$tmp/r" 2>&1); then
		ok "$clip ($*, $solver): $msg"
	else
		nok "$clip ($*, $solver): $msg"
	fi
}

DEFAULT="--high 0.5 --low 0.1 --new 0.6 --match 0.8 --max-lost 30"
LOWER="--high 0.3 --low 0.1 --new 0.4 --match 0.8 --max-lost 30"
SHORT="--high 0.3 --low 0.1 --new 0.4 --match 0.8 --max-lost 2"
for clip in highway-540p.yolox_nano people-432p.yolov8n parking-432p.yolov8n cars-1080p.yolox_nano; do
	# shellcheck disable=SC2086
	run $clip scipy $DEFAULT
	# shellcheck disable=SC2086
	run $clip scipy $LOWER
done
# shellcheck disable=SC2086
run highway-540p.yolox_nano scipy $SHORT
for clip in parking-432p.deimv2_atto highway-540p.yolo26n; do
	# shellcheck disable=SC2086
	run $clip jv $DEFAULT
	# shellcheck disable=SC2086
	run $clip jv $SHORT
done

[ $fails = 0 ]

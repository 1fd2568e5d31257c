#!/bin/sh
# The view stage's cost, end to end: frames/s of YOLOX-Nano (CPU backend) on the shared 1080p
# clip with everything off, then the live view with 1 and 10 viewers of live.mjpeg, snapshots
# on every event, and recording (1280 wide, every frame), each configuration run ROUNDS times
# interleaved with the others (the machine's drift hits them all alike); the median is shown.
#   bench/bench_view.sh [ROUNDS]
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
ROUNDS=${1:-3}
VAPD=$BUILD/vapd
CLIP=$SHARED/data/videos/cars-1080p.mp4
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
[ -x "$VAPD" ] || { echo "bench_view: $VAPD not built"; exit 1; }
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

config() { # name: writes $tmp/NAME.yaml
	{
		echo "sources:"
		echo "  - id: cars"
		echo "    uri: $CLIP"
		case $1 in record) printf '    record: { dir: %s/rec, segment_s: 2, max_mb: 200 }\n' "$tmp" ;; esac
		echo "model: { path: $SHARED/models/yolox_nano.onnx, labels: $SHARED/models/coco.names }"
		echo "tracker: {}"
		case $1 in view*) echo "http: { listen: \"127.0.0.1:$port\" }" ;; esac
		case $1 in snapshots)
			printf 'snapshots: { dir: %s/snaps, events: [track_start, track_end, zone_enter, zone_exit, line_cross] }\n' "$tmp" ;;
		esac
		echo "sinks: [{ type: file, path: $tmp/out.jsonl, mode: truncate }]"
	} >"$tmp/$1.yaml"
}

viewers() { # n: starts n clients of live.mjpeg once the server answers
	i=0
	while ! curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; do
		i=$((i + 1)); [ $i -gt 600 ] && return 1; sleep 0.01
	done
	k=0
	while [ $k -lt "$1" ]; do
		curl -s -o /dev/null --max-time 120 "http://127.0.0.1:$port/streams/cars/live.mjpeg" &
		pids="$pids $!"; k=$((k + 1))
	done
}

run() { # config viewers -> prints frames/s from the summary
	"$VAPD" -c "$tmp/$1.yaml" 2>"$tmp/err" &
	vp=$!
	[ "$2" -gt 0 ] && viewers "$2"
	wait $vp
	for p in $pids; do kill $p 2>/dev/null; done; pids=
	awk '$1 == "cars" && NF == 5 { print $4 }' "$tmp/err"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

names="off view1 view10 snapshots record"
for c in off view snapshots record; do config $c; done
cp "$tmp/view.yaml" "$tmp/view1.yaml"; cp "$tmp/view.yaml" "$tmp/view10.yaml"
r=0
while [ $r -lt "$ROUNDS" ]; do
	for c in $names; do
		case $c in view1) v=1 ;; view10) v=10 ;; *) v=0 ;; esac
		rm -rf "$tmp/rec" "$tmp/snaps"
		run $c $v >>"$tmp/$c.fps"
	done
	r=$((r + 1))
done
base=$(median <"$tmp/off.fps")
echo "| configuration (cars-1080p.mp4, 125 frames, YOLOX-Nano CPU, tracker on) | frames/s (median of $ROUNDS) | vs off |"
echo "| --- | ---: | ---: |"
for c in $names; do
	f=$(median <"$tmp/$c.fps")
	case $c in
	off) what="everything off" ;; view1) what="live view, 1 viewer (view.fps 5, width 640)" ;;
	view10) what="live view, 10 viewers" ;; snapshots) what="snapshots of every event kind" ;;
	record) what="recording every frame at 1280 wide (libx264)" ;;
	esac
	echo "| $what | $f | $(awk -v a="$f" -v b="$base" 'BEGIN { printf "%+.1f%%", (b > 0) ? 100 * (a - b) / b : 0 }') |"
done

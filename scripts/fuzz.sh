#!/bin/sh
# Runs the libFuzzer harnesses that `make fuzz-build` made, as TAP:
#   scripts/fuzz.sh SECONDS [config] [onnx] [decode] [http]
# For each target: the seed corpus is generated from $SHARED into $FUZZ_BUILD/seeds/T
# (never committed), the regression cases tests/fuzz-cases/T/* are replayed once, then
# the fuzzer runs SECONDS on its growing corpus $FUZZ_BUILD/corpus/T (kept until
# `make clean`, so long runs build on earlier ones). A crash, leak, timeout (> 10 s for
# one input) or out-of-memory is "not ok" with the reproducer's path and the command that
# replays it. Logs: $FUZZ_BUILD/logs/T.log.
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
SHARED=${SHARED:-../shared}
secs=${1:-600}
shift
targets=${*:-config onnx decode http}
cd "$(dirname "$0")/.." || exit 1
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

# ---- seeds ----
seed_config() { # dir
	cp configs/*.yaml "$1/" 2>/dev/null
	# Every section and sink type, with the shared model and clips, so that checks past
	# the parser (classes against labels, zones, lines, sinks) have something to chew on.
	cat > "$1/all-sections.yaml" <<EOF
pipeline: { name: fuzz }
metrics: { listen: "127.0.0.1:9100" }
log: { level: warn }
sources:
  - id: cam1
    uri: $SHARED/data/videos/people-2s.mp4
    loop: true
    realtime: true
    interval: 2
    queue: { depth: 4, policy: drop_oldest }
    zones:
      - { name: door, polygon: [[0, 0], [100, 0], [100, 100], [0, 100]], classes: [person] }
    lines:
      - { name: gate, points: [[0, 50], [200, 50]], classes: [0, car] }
  - id: cam2
    uri: rtsp://127.0.0.1:8554/cam
    rtsp: { transport: tcp, timeout_ms: 2000 }
    reconnect: { initial_ms: 200, max_ms: 2000 }
model:
  path: $SHARED/models/yolox_nano.onnx
  family: yolox
  labels: $SHARED/models/coco.names
  classes: [person, car]
  class_thresholds: { person: 0.4, 2: 0.5 }
  batch: { max_size: 2 }
tracker: { type: bytetrack }
sinks:
  - { type: stdout, messages: [frames, events, eos] }
  - { type: file, path: /tmp/vapd-fuzz-never-written.jsonl, mode: truncate }
  - { type: socket, address: "tcp://127.0.0.1:9" }
  - { type: socket, address: "udp://[::1]:9" }
  - { type: socket, address: "unix:///tmp/vapd-fuzz.sock" }
  - { type: mqtt, broker: "mqtt://127.0.0.1:1883", topic: "vapd/{pipeline}/{stream}", qos: 1 }
EOF
	printf 'sources:\n  - id: a\n    uri: ${CLIP:-%s}\nsinks:\n  - &s { type: stdout }\n  - *s\n' \
		"$SHARED/data/videos/people-2s.mp4" > "$1/anchors-env.yaml"
	printf 'sources: [ { id: x, uri: "a\\tb\\u00e9" } ]\nmodel: { path: "", input_w: -1 }\n' \
		> "$1/bad-values.yaml"
}

seed_onnx() { # dir
	cp "$SHARED"/models/*.onnx "$1/" 2>/dev/null
	# Small single-operator models (libonnx-testdata) of the operators detectors use: fast
	# to mutate, so most executions reach shape functions rather than weight bytes.
	td=/usr/share/libonnx-testdata/data/node
	[ -d $td ] || return 0
	for d in $td/test_*; do
		case "${d##*/}" in
		test_conv*|test_resize*|test_concat*|test_reshape*|test_transpose*|test_sigmoid*|\
		test_maxpool*|test_slice*|test_split*|test_gather_*|test_mul*|test_add*|test_sub*|\
		test_div*|test_softmax*|test_matmul*|test_batchnorm*|test_relu*|test_leakyrelu*|\
		test_pad*|test_shape*|test_unsqueeze*|test_squeeze*|test_expand*|test_topk*|\
		test_reduce_max*|test_averagepool*|test_globalaveragepool*|test_gemm*|test_flatten*|\
		test_clip*|test_hardswish*|test_hardsigmoid*|test_where*|test_cast_*|test_constant*)
			[ -f "$d/model.onnx" ] && cp "$d/model.onnx" "$1/${d##*/}.onnx" ;;
		esac
	done
}

seed_decode() { # dir
	for f in "$SHARED"/data/videos/*.mp4 "$SHARED"/data/videos/*.mkv "$SHARED"/data/videos/*.h264; do
		[ -f "$f" ] && head -c 65536 "$f" > "$1/$(basename "$f")"
	done
	# Tiny whole clips in the containers and codecs a camera or a file may bring (64x48:
	# Debian's x265 3.5 sometimes aborts on 48x32).
	command -v ffmpeg >/dev/null || return 0
	for spec in h264.mp4:libx264 h264.mkv:libx264 hevc.mkv:libx265 h264.ts:libx264 \
	            mjpeg.avi:mjpeg mpeg4.mp4:mpeg4; do
		timeout 20 ffmpeg -v quiet -y -f lavfi -i testsrc=size=64x48:rate=10 -frames:v 4 \
			-pix_fmt yuv420p -c:v "${spec#*:}" -x265-params log-level=none \
			"$1/tiny-${spec%:*}" </dev/null >/dev/null 2>&1 || true
	done
}

seed_http() { # dir
	printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' > "$1/metrics"
	printf 'GET /healthz HTTP/1.0\r\n\r\n' > "$1/healthz"
	printf 'HEAD /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' > "$1/readyz-head"
	printf 'GET /metrics?x=1&y=%%41 HTTP/1.1\r\nHost: x\r\nAccept: text/plain;q=0.5\r\n\r\n' > "$1/query"
	printf 'GET http://h/healthz HTTP/1.1\r\nHost: h\r\n\r\nGET /readyz HTTP/1.1\r\nHost: h\r\n\r\n' \
		> "$1/absolute-pipelined"
	printf 'POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n' \
		> "$1/post-chunked"
	printf 'PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello' > "$1/put"
	printf 'GET /%%2e%%2e/%%00 HTTP/1.1\r\nHost: x\r\nX-Long: %s\r\n\r\n' \
		"$(head -c 2000 /dev/zero | tr '\0' a)" > "$1/encoded-long-header"
}

status=0
for t in $targets; do
	bin=$FUZZ_BUILD/fuzz/fuzz_$t
	if [ ! -x "$bin" ]; then
		nok "fuzz_$t: $bin not built (make fuzz-build)"
		status=1; continue
	fi
	seeds=$FUZZ_BUILD/seeds/$t corpus=$FUZZ_BUILD/corpus/$t crashes=$FUZZ_BUILD/crashes/$t
	log=$FUZZ_BUILD/logs/$t.log
	rm -rf "$seeds"
	mkdir -p "$seeds" "$corpus" "$crashes" "$FUZZ_BUILD/logs"
	"seed_$t" "$seeds"
	cases=tests/fuzz-cases/$t
	# Regression cases first: each runs once and must come back clean.
	if [ -d "$cases" ] && [ -n "$(ls "$cases")" ]; then
		if "$bin" -runs=0 "$cases"/* >"$log.cases" 2>&1; then
			ok "fuzz_$t replays $(ls "$cases" | wc -l) regression case(s)"
		else
			nok "fuzz_$t regression case: $(grep -m1 -E 'ERROR|runtime error|Running:' "$log.cases" | tail -1)"
			status=1
		fi
	fi
	opts="-max_total_time=$secs -timeout=10 -rss_limit_mb=4096 -close_fd_mask=2 -print_final_stats=1"
	case $t in
	onnx) opts="$opts -max_len=16777216" ;;   # the shared models whole, up to 13 MB
	esac
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$bin" $opts -artifact_prefix="$crashes/" "$corpus" "$seeds" ${cases:+$(test -d "$cases" && echo "$cases")} \
		>"$log" 2>&1; rc=$?
	took=$(($(date +%s) - start))
	execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$')
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+')
	if [ $rc -eq 0 ]; then
		ok "fuzz_$t: ${execs:-?} executions in ${took} s, coverage ${cov:-?}, no crash"
	else
		art=$(grep -Eo "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //')
		why=$(grep -m1 -E '==ERROR|runtime error|ALARM|out-of-memory|deadly signal' "$log")
		nok "fuzz_$t crashed after ${took} s: ${why:-rc $rc}; reproducer ${art:-none} (replay: $bin ${art:-FILE}; log $log)"
		status=1
	fi
done
echo "1..$n"
exit $status

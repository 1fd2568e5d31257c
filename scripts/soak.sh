#!/bin/sh
# Soak: scripts/soak.sh MINUTES (make soak MINUTES=N). Runs $BUILD/vapd on a looping
# multi-source pipeline for MINUTES and fails when it grows:
#   sources  three shared clips, looped and paced in real time, plus one RTSP camera
#            (tests/rtsp_server.py); YOLOX-Nano on the CPU (2 threads, interval 6, so two
#            shared cores keep up), ByteTrack, a zone and a line
#   sinks    stdout (to /dev/null), file, socket tcp-listen (with a reader), tcp, udp and
#            unix (to receivers started here), mqtt to a real mosquitto
#   peers    every CYCLE_S the broker is killed (SIGKILL) and restarted DOWN_S later on the
#            same port; half a cycle later the same happens to the RTSP server
# Every SAMPLE_S: RSS (VmRSS), open descriptors (/proc/PID/fd) and threads, into
# $SOAK_DIR/samples.csv. After WARMUP_S, the samples are cut in thirds and the median of
# the last third is compared with the first's. Tolerances (growth allowed before failing):
#   RSS      max(16 MiB, 10 %): glibc arenas, libav's buffer pools and the tcp-listen
#            subscriber buffers settle in steps of a few MiB after reconnects; a leak of
#            300 bytes per frame (at ~100 frames/s) still passes 10 % of ~300 MiB within
#            the 20 minutes that separate the thirds of a 30-minute run.
#   fds      +4: the broker's socket, the RTSP connection and the demuxer's descriptors,
#            and a subscriber come and go with the peers; one descriptor leaked per
#            restart would add ~15 over 30 minutes.
#   threads  +2: libav decoder threads follow the RTSP reconnects; one leaked per restart
#            would add ~15.
# Also fails when vapd dies or does not exit 0 on SIGTERM. Prints RSS, descriptors and
# threads at start and end, and per sink the messages vapd accepted (sent + dropped +
# failed, from its exit summary), what it says it sent, and what the peer received.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
MINUTES=${1:-30}
SAMPLE_S=${SAMPLE_S:-5}
CYCLE_S=${CYCLE_S:-60}
DOWN_S=${DOWN_S:-5}
WARMUP_S=${WARMUP_S:-30}
PY=/usr/bin/python3
cd "$(dirname "$0")/.." || exit 1
VAPD=$BUILD/vapd
VIDEOS=$SHARED/data/videos
[ -x "$VAPD" ] || { echo "soak: $VAPD not built (make)"; exit 1; }
SOAK_DIR=${SOAK_DIR:-$(mktemp -d /tmp/vapd-soak.XXXXXX)}
mkdir -p "$SOAK_DIR"
tmp=$SOAK_DIR
pid=; broker=; rtsp=; helpers=""
cleanup() {
	for p in $pid $broker $rtsp $helpers; do kill "$p" 2>/dev/null; done
	rm -f "$tmp/out.jsonl"   # the only big file; samples, logs and counts stay
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { $PY -c "import socket,sys; s=socket.socket(type=socket.SOCK_DGRAM if sys.argv[1]=='udp' else socket.SOCK_STREAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])" "$1"; }
wait_for() { i=0; while ! eval "$1"; do i=$((i + 1)); [ $i -ge "$2" ] && return 1; sleep 0.1; done; }

# Receivers count newline-terminated messages (datagrams for udp) and write the count to
# a file every second and when stopped; the data itself is thrown away.
cat > "$tmp/recv.py" <<'PY'
import os, signal, socket, sys, threading, time
kind, where, out = sys.argv[1], sys.argv[2], sys.argv[3]
count = 0
lock = threading.Lock()
def save():
    with open(out + '.tmp', 'w') as f: f.write('%d\n' % count)
    os.replace(out + '.tmp', out)
def add(n):
    global count
    with lock: count += n
def stop(*_):
    save(); os._exit(0)
signal.signal(signal.SIGTERM, stop)
def pump(c):
    while True:
        try: d = c.recv(1 << 16)
        except OSError: d = b''
        if not d: break
        add(d.count(b'\n'))
    c.close()
def serve(fam, addr):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind(addr); s.listen(4)
    while True:
        c, _ = s.accept()
        threading.Thread(target=pump, args=(c,), daemon=True).start()
def main():
    if kind == 'tcp': serve(socket.AF_INET, ('127.0.0.1', int(where)))
    elif kind == 'unix': serve(socket.AF_UNIX, where)
    elif kind == 'udp':
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(('127.0.0.1', int(where)))
        while True:
            s.recv(1 << 16); add(1)
    elif kind == 'connect':   # a subscriber of vapd's tcp-listen, reconnecting
        while True:
            try: c = socket.create_connection(('127.0.0.1', int(where)), 2)
            except OSError: time.sleep(0.2); continue
            c.settimeout(None); pump(c)
    elif kind == 'stdin':
        for line in sys.stdin.buffer: add(1)
threading.Thread(target=main, daemon=True).start()
open(out, 'w').write('0\n')
while True:
    time.sleep(1); save()
PY

MQ=$(free_port tcp); RP=$(free_port tcp); TL=$(free_port tcp); TC=$(free_port tcp)
UP=$(free_port udp); MP=$(free_port tcp)
start_broker() {
	/usr/sbin/mosquitto -c "$tmp/mosquitto.conf" >>"$tmp/broker.log" 2>&1 &
	broker=$!
	wait_for "$PY -c 'import socket; socket.create_connection((\"127.0.0.1\", $MQ), 1).close()' 2>/dev/null" 50
}
start_rtsp() {
	: >"$tmp/rtsp.out"
	$PY tests/rtsp_server.py "$RP" "$VIDEOS/highway-540p.mp4" /cam >"$tmp/rtsp.out" 2>&1 &
	rtsp=$!
	wait_for 'grep -q "^ready" "$tmp/rtsp.out"' 100
}
printf 'listener %s 127.0.0.1\npersistence false\nallow_anonymous true\nuser %s\n' "$MQ" "$(id -un)" \
	>"$tmp/mosquitto.conf"
start_broker || { echo "soak: mosquitto did not start: $(tail -3 "$tmp/broker.log")"; exit 1; }
start_rtsp || { echo "soak: the RTSP server did not start: $(tail -3 "$tmp/rtsp.out")"; exit 1; }
$PY "$tmp/recv.py" tcp "$TC" "$tmp/n.tcp" & helpers="$helpers $!"
$PY "$tmp/recv.py" udp "$UP" "$tmp/n.udp" & helpers="$helpers $!"
$PY "$tmp/recv.py" unix "$tmp/u.sock" "$tmp/n.unix" & helpers="$helpers $!"
# mosquitto_sub reconnects and subscribes again after each broker restart.
rm -f "$tmp/mqtt.fifo"; mkfifo "$tmp/mqtt.fifo"
$PY "$tmp/recv.py" stdin - "$tmp/n.mqtt" <"$tmp/mqtt.fifo" & helpers="$helpers $!"
mosquitto_sub -h 127.0.0.1 -p "$MQ" -q 1 -t 'soak/#' >"$tmp/mqtt.fifo" 2>/dev/null & helpers="$helpers $!"
wait_for '[ -e "$tmp/n.tcp" ] && [ -e "$tmp/n.udp" ] && [ -e "$tmp/n.unix" ] && [ -e "$tmp/n.mqtt" ]' 100

cat >"$tmp/soak.yaml" <<EOF
pipeline: { name: soak }
metrics: { listen: "127.0.0.1:$MP" }
sources:
  - id: people
    uri: $VIDEOS/people-432p.mp4
    realtime: true
    loop: true
    interval: 6
    queue: { depth: 4, policy: drop_oldest }
    zones: [ { name: middle, polygon: [[200, 100], [560, 100], [560, 380], [200, 380]] } ]
    lines: [ { name: across, points: [[0, 216], [768, 216]] } ]
  - id: cars
    uri: $VIDEOS/cars-432p.mp4
    realtime: true
    loop: true
    interval: 6
    queue: { depth: 4, policy: drop_oldest }
  - id: parking
    uri: $VIDEOS/parking-432p.mp4
    realtime: true
    loop: true
    interval: 6
    queue: { depth: 4, policy: drop_oldest }
  - id: cam
    uri: rtsp://127.0.0.1:$RP/cam
    interval: 6
    queue: { depth: 4, policy: drop_oldest }
    reconnect: { initial_ms: 500, max_ms: 2000 }
    rtsp: { transport: tcp, timeout_ms: 3000 }
model:
  path: $SHARED/models/yolox_nano.onnx
  family: yolox
  labels: $SHARED/models/coco.names
  backend: cpu
  threads: 2
  batch: { max_size: 4 }
tracker: { type: bytetrack }
sinks:
  - { type: stdout }
  - { type: file, path: $tmp/out.jsonl, mode: truncate }
  - { type: socket, address: "tcp-listen://127.0.0.1:$TL" }
  - { type: socket, address: "tcp://127.0.0.1:$TC" }
  - { type: socket, address: "udp://127.0.0.1:$UP" }
  - { type: socket, address: "unix://$tmp/u.sock" }
  - { type: mqtt, broker: "mqtt://127.0.0.1:$MQ", topic: "soak/{pipeline}/{stream}/{kind}", qos: 1 }
EOF
"$VAPD" -c "$tmp/soak.yaml" >/dev/null 2>"$tmp/vapd.log" &
pid=$!
$PY "$tmp/recv.py" connect "$TL" "$tmp/n.tcp-listen" & helpers="$helpers $!"

echo "soak: $MINUTES min, vapd pid $pid, files in $tmp"
echo "t_s,rss_kb,fds,threads" >"$tmp/samples.csv"
sample() { # t
	rss=$(awk '/^VmRSS:/ { print $2 }' /proc/$pid/status 2>/dev/null)
	thr=$(awk '/^Threads:/ { print $2 }' /proc/$pid/status 2>/dev/null)
	fds=$(ls /proc/$pid/fd 2>/dev/null | wc -l)
	[ -n "$rss" ] && echo "$1,$rss,$fds,$thr" >>"$tmp/samples.csv"
}
start=$(date +%s)
end=$((start + MINUTES * 60))
broker_up_at=0; rtsp_up_at=0; restarts_b=0; restarts_r=0; next_sample=$start
# The broker goes down every CYCLE_S, the RTSP server half a cycle after it.
kill_b=$((start + CYCLE_S)); kill_r=$((start + CYCLE_S + CYCLE_S / 2))
while :; do
	now=$(date +%s)
	[ "$now" -ge "$end" ] && break
	if ! kill -0 $pid 2>/dev/null; then
		echo "soak: vapd died after $((now - start)) s: $(tail -5 "$tmp/vapd.log")"
		exit 1
	fi
	[ "$now" -ge "$next_sample" ] && { sample $((now - start)); next_sample=$((next_sample + SAMPLE_S)); }
	if [ "$now" -ge "$kill_b" ]; then
		kill -KILL $broker; wait $broker 2>/dev/null; broker_up_at=$((now + DOWN_S)); kill_b=$((kill_b + CYCLE_S))
	fi
	if [ "$broker_up_at" -ne 0 ] && [ "$now" -ge "$broker_up_at" ]; then
		start_broker; broker_up_at=0; restarts_b=$((restarts_b + 1))
	fi
	if [ "$now" -ge "$kill_r" ]; then
		kill -KILL $rtsp; wait $rtsp 2>/dev/null; rtsp_up_at=$((now + DOWN_S)); kill_r=$((kill_r + CYCLE_S))
	fi
	if [ "$rtsp_up_at" -ne 0 ] && [ "$now" -ge "$rtsp_up_at" ]; then
		start_rtsp; rtsp_up_at=0; restarts_r=$((restarts_r + 1))
	fi
	sleep 1
done
[ "$broker_up_at" -ne 0 ] && start_broker
[ "$rtsp_up_at" -ne 0 ] && start_rtsp
sample $(($(date +%s) - start))
curl -s -m 5 "http://127.0.0.1:$MP/metrics" >"$tmp/metrics.txt"
# Let the receivers and the subscriber take what is in flight, then stop vapd (EOS goes out).
kill -TERM $pid
i=0; while kill -0 $pid 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $pid 2>/dev/null; then
	kill -KILL $pid; rc=killed
else
	wait $pid; rc=$?
fi
pid=
sleep 2
for p in $helpers; do kill -TERM "$p" 2>/dev/null; done
sleep 0.5
helpers=""
lines_file=$(wc -l <"$tmp/out.jsonl" 2>/dev/null || echo 0)

$PY - "$tmp" "$WARMUP_S" "$rc" "$restarts_b" "$restarts_r" "$lines_file" <<'PY'
import re, statistics, sys
tmp, warm, rc, rb, rr, lines_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
rows = [list(map(int, l.split(','))) for l in open(tmp + '/samples.csv').read().split('\n')[1:] if l]
ok = True
print('soak summary (%d samples, broker restarted %s times, RTSP server %s times)' % (len(rows), rb, rr))
steady = [r for r in rows if r[0] >= warm]
if steady:
    # "start": the first sample after the warm-up (model loaded, every peer connected).
    f, l = steady[0], rows[-1]
    print('  start = t %d s (after the %d s warm-up), end = t %d s' % (f[0], warm, l[0]))
    print('  RSS      start %7.1f MiB  end %7.1f MiB  peak %7.1f MiB' % (f[1] / 1024, l[1] / 1024, max(r[1] for r in rows) / 1024))
    print('  fds      start %7d      end %7d      peak %7d' % (f[2], l[2], max(r[2] for r in rows)))
    print('  threads  start %7d      end %7d      peak %7d' % (f[3], l[3], max(r[3] for r in rows)))
if len(steady) < 6:
    print('  growth: too few samples after the %d s warm-up to judge' % warm)
    ok = False
else:
    k = len(steady) // 3
    first, last = steady[:k], steady[-k:]
    for col, name, tol in ((1, 'RSS', lambda m: max(16 * 1024, m * 0.10)), (2, 'fds', lambda m: 4), (3, 'threads', lambda m: 2)):
        a, b = statistics.median(r[col] for r in first), statistics.median(r[col] for r in last)
        grew = b - a > tol(a)
        unit = (lambda v: '%.1f MiB' % (v / 1024)) if col == 1 else (lambda v: '%g' % v)
        print('  growth %-8s median first third %s, last third %s (allowed +%s): %s' % (
            name, unit(a), unit(b), unit(tol(a)), 'GREW' if grew else 'flat'))
        ok = ok and not grew
# Per sink: vapd's exit summary "[sink NAME] closed: S sent, D dropped, F failed".
log = open(tmp + '/vapd.log', errors='replace').read()
closed = re.findall(r'\[sink (\S+)\] closed: (\d+) sent, (\d+) dropped, (\d+) failed', log)
def got(name):
    try: return int(open(tmp + '/n.' + name).read())
    except (OSError, ValueError): return None
peer = {'stdout': None, 'file': lines_file}
print('  %-16s %9s %9s %9s %9s %9s  %s' % ('sink', 'accepted', 'sent', 'dropped', 'failed', 'received', 'peer'))
addr = re.findall(r'address: "([a-z-]+)://', open(tmp + '/soak.yaml').read())
for name, s, d, fl in closed:
    s, d, fl = int(s), int(d), int(fl)
    kind = name.split('[')[0]
    idx = int(name.split('[')[1].rstrip(']'))
    if kind == 'socket':
        scheme = addr[idx - 2]
        recv, what = got(scheme), scheme + ' receiver'
    elif kind == 'mqtt':
        recv, what = got('mqtt'), 'mosquitto_sub (restarted broker: losses expected)'
    elif kind == 'file':
        recv, what = lines_file, 'lines in the file'
    else:
        recv, what = None, '/dev/null'
    print('  %-16s %9d %9d %9d %9d %9s  %s' % (name, s + d + fl, s, d, fl, '-' if recv is None else recv, what))
# Per stream: vapd's exit statistics, reconnects from the last /metrics scrape.
try: metrics = open(tmp + '/metrics.txt', errors='replace').read()
except OSError: metrics = ''
# vapd logs these every minute too: the last line of each stream is the exit summary.
stats = {}
for st, fr, pr, dr, er in re.findall(r'\[stats (\S+)\] frames (\d+), processed (\d+), dropped (\d+), errors (\d+)', log):
    stats[st] = (fr, pr, dr, er)
for st, (fr, pr, dr, er) in stats.items():
    rec = re.search(r'^vapd_stream_reconnects_total\{stream="%s"\} (\d+)' % re.escape(st), metrics, re.M)
    print('  stream %-9s frames %7s  processed %6s  dropped %5s  errors %3s  reconnects %s' % (
        st, fr, pr, dr, er, rec.group(1) if rec else '?'))
if not closed:
    print('  no sink exit summary in the log')
    ok = False
if rc != '0':
    print('  vapd exit status on SIGTERM: %s' % rc)
    ok = False
errs = [l for l in log.splitlines() if 'Sanitizer' in l or 'runtime error' in l]
if errs:
    print('  sanitizer: ' + errs[0]); ok = False
print('soak: %s (samples: %s/samples.csv, log: %s/vapd.log)' % ('PASS' if ok else 'FAIL', tmp, tmp))
sys.exit(0 if ok else 1)
PY

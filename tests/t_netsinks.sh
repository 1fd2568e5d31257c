#!/bin/sh
# End to end: build/vapd on a shared clip (no model: every frame passes with empty
# detections) publishes every frame message and the EOS message to a TCP server, a UDP
# receiver, a Unix socket server and a real mosquitto broker (topic from the template,
# with the pipeline name; one sink at QoS 1, one at QoS 2, which --check accepts too), all
# started here on free loopback ports; with every peer dead the run still finishes on time
# and exits 0.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
CLIP=$SHARED/data/videos/people-2s.mp4
tmp=$(mktemp -d)
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

free_port() { # tcp|udp
	$PY -c "import socket,sys; s=socket.socket(type=socket.SOCK_DGRAM if sys.argv[1]=='udp' else socket.SOCK_STREAM); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])" "$1"
}

# A receiver that writes what it gets to a file: stream servers until the peer closes,
# UDP until a datagram holding '"eos":true' arrived.
cat > "$tmp/recv.py" <<'PY'
import socket, sys
kind, where, out = sys.argv[1], sys.argv[2], open(sys.argv[3], 'wb')
if kind == 'udp':
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(('127.0.0.1', int(where)))
    open(sys.argv[3] + '.ready', 'w').close()
    while True:
        d = s.recv(65536)
        out.write(b'D' + d); out.flush()
        if b'"eos":true' in d: break
else:
    fam = socket.AF_UNIX if kind == 'unix' else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind(where if kind == 'unix' else ('127.0.0.1', int(where)))
    s.listen(1)
    open(sys.argv[3] + '.ready', 'w').close()
    c, _ = s.accept()
    while True:
        d = c.recv(65536)
        if not d: break
        out.write(d); out.flush()
PY

wait_port() { $PY -c "
import socket, sys, time
for i in range(100):
    try: socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close(); break
    except OSError: time.sleep(0.05)
" "$1"; }
wait_file() { i=0; while [ ! -e "$1" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done; [ -e "$1" ]; }

TCP=$(free_port tcp); UDP=$(free_port udp); MQ=$(free_port tcp)
$PY "$tmp/recv.py" tcp "$TCP" "$tmp/tcp.out" & pids="$pids $!"
$PY "$tmp/recv.py" udp "$UDP" "$tmp/udp.out" & pids="$pids $!"
$PY "$tmp/recv.py" unix "$tmp/u.sock" "$tmp/unix.out" & pids="$pids $!"
printf 'listener %s 127.0.0.1\npersistence false\nallow_anonymous true\nuser %s\n' "$MQ" "$(id -un)" > "$tmp/mosquitto.conf"
/usr/sbin/mosquitto -c "$tmp/mosquitto.conf" >"$tmp/broker.log" 2>&1 & broker=$!; pids="$pids $broker"
wait_port "$MQ"
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$MQ" -q 1 -v -t 'vapd/#' > "$tmp/mqtt.out" 2>/dev/null & pids="$pids $!"
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$MQ" -q 2 -v -t 'q2/#' > "$tmp/mqtt2.out" 2>/dev/null & pids="$pids $!"
# Ready when a probe published now comes back through each subscriber.
i=0
while ! { grep -q '^vapd/probe' "$tmp/mqtt.out" && grep -q '^q2/probe' "$tmp/mqtt2.out"; } 2>/dev/null &&
      [ $i -lt 60 ]; do
	mosquitto_pub -h 127.0.0.1 -p "$MQ" -t vapd/probe -m ready 2>/dev/null
	mosquitto_pub -h 127.0.0.1 -p "$MQ" -t q2/probe -m ready 2>/dev/null
	sleep 0.1; i=$((i + 1))
done
wait_file "$tmp/tcp.out.ready" && wait_file "$tmp/udp.out.ready" && wait_file "$tmp/unix.out.ready"

cat > "$tmp/base.yaml" <<EOF
pipeline: { name: lobby }
sources:
  - id: cam1
    uri: $CLIP
sinks:
  - type: socket
    address: tcp://127.0.0.1:$TCP
  - type: socket
    address: udp://127.0.0.1:$UDP
  - type: socket
    address: unix://$tmp/u.sock
  - type: mqtt
    broker: mqtt://127.0.0.1:$MQ
    topic: vapd/{pipeline}/{stream}/detections
    qos: 1
EOF
cat "$tmp/base.yaml" - > "$tmp/c.yaml" <<EOF
  - type: mqtt
    broker: mqtt://127.0.0.1:$MQ
    topic: q2/{pipeline}/{stream}/detections
    qos: 2
    client_id: vapd-lobby-q2
EOF
if "$VAPD" --check -c "$tmp/c.yaml" >/dev/null 2>"$tmp/check.err"; then ok "--check accepts the file (qos: 1 and qos: 2)"
else nok "--check refuses the file: $(head -3 "$tmp/check.err")"; fi
want=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$CLIP")
if "$VAPD" -q -c "$tmp/c.yaml" 2>"$tmp/err"; then ok "vapd ran with five network sinks"; else nok "vapd failed: $(tail -3 "$tmp/err")"; fi
# The subscriber prints what the broker forwarded, later than vapd exits on a loaded machine.
i=0
# A QoS 2 subscriber took over 10 s on a machine loaded by a parallel build: 60 s at most.
while ! { grep -q '"eos":true' "$tmp/mqtt.out" && grep -q '"eos":true' "$tmp/mqtt2.out"; } 2>/dev/null &&
      [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done

# Each output must hold want frame messages (0..want-1 in order) and one EOS, all valid JSON.
check() { # name file format(lines|udp|mqtt) [mqtt topic prefix, default vapd]
	if $PY - "$2" "$3" "$want" "${4:-vapd}" <<'PY'
import json, sys
path, fmt, want, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
raw = open(path, 'rb').read()
if fmt == 'udp':
    msgs = [d for d in raw.split(b'D{')[1:]]
    msgs = [b'{' + d for d in msgs]
    assert all(m.endswith(b'\n') for m in msgs), 'datagram without its newline'
elif fmt == 'mqtt':
    msgs = []
    for line in raw.decode().splitlines():
        topic, _, payload = line.partition(' ')
        if topic == prefix + '/probe': continue
        assert topic == prefix + '/lobby/cam1/detections', 'topic ' + topic
        msgs.append(payload.encode())
else:
    assert raw.endswith(b'\n'), 'last line cut'
    msgs = raw.split(b'\n')[:-1]
objs = [json.loads(m) for m in msgs]
frames = [o['frame'] for o in objs if not o.get('eos')]
eos = [o for o in objs if o.get('eos')]
assert frames == list(range(want)), 'frames %s' % frames[:5]
assert len(eos) == 1 and eos[0]['frames'] == want, 'eos %s' % eos
PY
	then ok "$1: $want frame messages in order + EOS, valid JSON"; else nok "$1: output does not match"; fi
}
check "tcp client" "$tmp/tcp.out" lines
check "udp" "$tmp/udp.out" udp
check "unix client" "$tmp/unix.out" lines
check "mqtt qos1 (topic vapd/lobby/cam1/detections)" "$tmp/mqtt.out" mqtt
check "mqtt qos2 (topic q2/lobby/cam1/detections, each message once)" "$tmp/mqtt2.out" mqtt q2

# Every peer dead: the same run is not held up (the mqtt sink waits <= 3 s for acks; the
# sinks close one after the other, so this run has one mqtt sink: base.yaml, without QoS 2).
kill "$broker" 2>/dev/null
sed -e "s/:$TCP/:$(free_port tcp)/" -e "s/:$MQ/:$(free_port tcp)/" -e "s#$tmp/u.sock#$tmp/none.sock#" "$tmp/base.yaml" > "$tmp/dead.yaml"
start=$(date +%s)
"$VAPD" -q -c "$tmp/dead.yaml" 2>"$tmp/err.dead"; rc=$?
secs=$(( $(date +%s) - start ))
if [ $rc = 0 ] && [ $secs -le 8 ]; then
	ok "all peers dead: vapd still exits 0 in ${secs}s"
else
	nok "all peers dead: rc=$rc after ${secs}s: $(tail -3 "$tmp/err.dead")"
fi
exit $((fails > 0))

#!/bin/sh
# Fleet benchmark (not a test): a real etcd on free loopback ports and 3 vapd nodes
# (lease_ttl_s: TTL, default 3). Prints
#   - failover time over KILLS kill -9s (default 20): from the kill until every camera of
#     the killed node is claimed by another node; p50, p95, max;
#   - cameras moved per join and per graceful leave;
#   - etcd requests per minute in steady state, with 10 running cameras and with BIG
#     cameras (default 1000: unreachable rtsp:// cameras, claimed and reconnecting, so the
#     machine is not the limit), read from etcd's own gRPC counters.
#   bench/fleet.sh [KILLS] [BIG]
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
KILLS=${1:-20}; BIG=${2:-1000}; TTL=${TTL:-3}
CLIP=$SHARED/data/videos/highway-160x90.mp4
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill -KILL $p 2>/dev/null; done; wait 2>/dev/null; [ -n "$KEEP" ] && echo "kept $tmp" || rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { $PY -c 'import time; print(time.time())'; }
cport=$(free_port); pport=$(free_port); ETCD=http://127.0.0.1:$cport
etcd --name b --data-dir "$tmp/etcd" --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "b=http://127.0.0.1:$pport" >"$tmp/etcd.log" 2>&1 &
pids="$pids $!"
i=0; until curl -sf "$ETCD/health" >/dev/null; do i=$((i + 1)); [ $i -ge 100 ] && exit 1; sleep 0.1; done

# "camera node epoch" per claim, through etcd's JSON gateway (as the nodes read it).
cat >"$tmp/claims.py" <<'PY'
import base64, json, sys, urllib.request
prefix = "/vapd/claims/"
b = lambda s: base64.b64encode(s.encode()).decode()
body = json.dumps({"key": b(prefix), "range_end": b(prefix[:-1] + "0")}).encode()
try:
    kvs = json.load(urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/v3/kv/range", body), timeout=2)).get("kvs", [])
except Exception:
    sys.exit(1)
for kv in kvs:
    print(base64.b64decode(kv["key"]).decode()[len(prefix):], base64.b64decode(kv["value"]).decode(), kv["create_revision"])
PY
claims() { $PY "$tmp/claims.py" "$ETCD"; }
owned_by() { claims | awk -v n="$1" '$2 == n' | wc -l; }
settle() { # all $1 cameras claimed and unchanged for 2 s
	prev=; same=0; i=0
	while [ $i -lt 600 ]; do
		i=$((i + 1)); sleep 0.1; cur=$(claims)
		if [ "$(echo "$cur" | grep -c .)" = "$1" ] && [ "$cur" = "$prev" ]; then
			same=$((same + 1)); [ $same -ge 20 ] && return 0
		else same=0; fi
		prev=$cur
	done
	return 1
}
start_node() {
	cat >"$tmp/$1.yaml" <<EOF2
pipeline: { name: $1 }
fleet: { etcd: [$ETCD], node_id: $1, capacity: ${2:-100}, lease_ttl_s: $TTL }
sinks: [ { type: file, path: /dev/null } ]
EOF2
	"$VAPD" -q -c "$tmp/$1.yaml" >>"$tmp/$1.log" 2>&1 &
	eval "pid_$1=$!"; pids="$pids $!"
}
# etcd's count of gRPC calls started (the JSON gateway goes through gRPC), watches included.
etcd_calls() { curl -s "$ETCD/metrics" | awk '/^grpc_server_started_total/ { s += $NF } END { print s + 0 }'; }
rate() { # requests per minute over $1 seconds
	a=$(etcd_calls); sleep "$1"; b=$(etcd_calls)
	echo $(( (b - a) * 60 / $1 ))
}

echo "# vapd fleet benchmark ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, etcd $(etcd --version | head -1 | cut -d' ' -f3), TTL $TTL s)"
for c in $(seq -w 1 10); do
	"$VAPD" fleet --etcd "$ETCD" add "{id: cam$c, uri: $CLIP, realtime: true, loop: true}" >/dev/null
done
for nd in n1 n2 n3; do start_node $nd; done
settle 10 || echo "(did not settle)"
echo "steady state, 10 cameras, 3 nodes: $(rate 30) etcd requests/min"

: >"$tmp/times"
k=1; victim=n1
while [ $k -le "$KILLS" ]; do
	mine=$(owned_by $victim)
	if [ "$mine" -eq 0 ]; then victim=$( [ $victim = n1 ] && echo n2 || ([ $victim = n2 ] && echo n3 || echo n1)); continue; fi
	t0=$(now)
	eval "kill -KILL \$pid_$victim"
	i=0
	while [ $i -lt 300 ]; do
		i=$((i + 1)); sleep 0.05
		c=$(claims)
		[ "$(echo "$c" | grep -c .)" = 10 ] && [ -z "$(echo "$c" | awk -v n=$victim '$2 == n')" ] && break
	done
	echo "$(now) - $t0" | bc -l >>"$tmp/times"
	before=$(claims)
	start_node $victim
	settle 10
	moved=$(claims | diff - /dev/fd/3 3<<EOF3 | grep -c '^<'
$before
EOF3
)
	echo "kill $k: $victim ($mine cameras) failed over in $(tail -1 "$tmp/times" | cut -c1-5) s; its rejoin moved $moved"
	k=$((k + 1))
	victim=$( [ $victim = n1 ] && echo n2 || ([ $victim = n2 ] && echo n3 || echo n1))
done
sort -n "$tmp/times" | awk '{ t[NR] = $1 } END {
	p50 = t[int((NR + 1) / 2)]; i95 = int(NR * 0.95 + 0.999); if (i95 > NR) i95 = NR
	printf "failover (kill -9 -> claimed elsewhere), %d kills: p50 %.2f s, p95 %.2f s, max %.2f s (TTL '"$TTL"' s)\n", NR, p50, t[i95], t[NR] }'

before=$(claims)
eval "kill -TERM \$pid_n2"; eval "wait \$pid_n2"
settle 10
left=$(echo "$before" | awk '$2 == "n2"' | wc -l)
moved=$(claims | diff - /dev/fd/3 3<<EOF3 | grep -c '^<'
$before
EOF3
)
echo "graceful leave of n2 ($left cameras): $moved cameras moved"
start_node n2

"$VAPD" fleet --etcd "$ETCD" remove $(for c in $(seq -w 1 10); do echo cam$c; done) >/dev/null
{
	echo "sources:"
	for c in $(seq 1 "$BIG"); do echo "  - { id: r$c, uri: 'rtsp://127.0.0.1:9/r$c', reconnect: { initial_ms: 30000, max_ms: 60000 } }"; done
} >"$tmp/big.yaml"
for nd in n1 n2 n3; do eval "kill -TERM \$pid_$nd"; done
for nd in n1 n2 n3; do eval "wait \$pid_$nd"; done
"$VAPD" fleet --etcd "$ETCD" import "$tmp/big.yaml" >/dev/null
for nd in n1 n2 n3; do start_node $nd $(( BIG / 2 )); done
t0=$(now)
settle "$BIG" && echo "$BIG cameras on 3 nodes claimed and settled in $(echo "$(now) - $t0 - 2" | bc -l | cut -c1-5) s"
sleep 1
# What each node last applied to its pipeline ("N camera(s) to run"), summed.
running=0
for nd in n1 n2 n3; do
	k=$(grep "camera(s) to run" "$tmp/$nd.log" | tail -1 | sed 's/.*\] \([0-9]*\) camera(s).*/\1/')
	running=$((running + ${k:-0}))
done
echo "cameras the nodes' pipelines run: $running of $BIG; errors: $(cat "$tmp"/n?.log | grep -c "not applied")"
echo "steady state, $BIG cameras, 3 nodes: $(rate 30) etcd requests/min"

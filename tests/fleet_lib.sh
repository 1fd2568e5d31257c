# Sourced by the fleet tests (t_fleet.sh, t_fleet_files.sh, t_fleet_tls.sh): a temporary folder cleaned up
# on exit (KEEP=1 keeps it), the TAP helpers, and one etcd on free loopback ports ($ETCD; its
# pid in etcd_pid) — or a skip line naming $FLEET_TEST when etcd-server is not installed.
# Expects PY; sets tmp, pids, ok/nok/check/free_port.
tmp=$(mktemp -d)
pids=
etcd_pid=
cleanup() {
	[ -n "$etcd_pid" ] && kill -CONT "$etcd_pid" 2>/dev/null
	for p in $pids $etcd_pid; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -n "$KEEP" ]; then echo "# kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if ! command -v etcd >/dev/null 2>&1; then
	echo "ok 1 - $FLEET_TEST # SKIP etcd: etcd-server is not installed"
	exit 0
fi

# ETCD_SCHEME (https) and ETCD_ARGS (certificates) come from the test; start_etcd starts
# it again on the same ports and data (a restart). fleet_before_etcd, when the test defines
# it, runs first (to make certificates in $tmp).
cport=$(free_port); pport=$(free_port)
ETCD=${ETCD_SCHEME:-http}://127.0.0.1:$cport
start_etcd() {
	etcd --name t --data-dir "$tmp/etcd" --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
		--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
		--initial-cluster "t=http://127.0.0.1:$pport" $ETCD_ARGS >>"$tmp/etcd.log" 2>&1 &
	etcd_pid=$!
}
command -v fleet_before_etcd >/dev/null 2>&1 && fleet_before_etcd
start_etcd

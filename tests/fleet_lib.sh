# Sourced by the fleet tests (t_fleet.sh, t_fleet_files.sh): a temporary folder cleaned up
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

cport=$(free_port); pport=$(free_port)
ETCD=http://127.0.0.1:$cport
etcd --name t --data-dir "$tmp/etcd" --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
	--listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "t=http://127.0.0.1:$pport" >"$tmp/etcd.log" 2>&1 &
etcd_pid=$!

#!/bin/sh
# Fleet mode against an etcd run as in production, with certificates made here by openssl
# and a real etcd on free loopback ports: first https with client certificates required
# (--client-cert-auth), then https with etcd's users (auth enabled). Nodes claim and run
# cameras over both; `vapd fleet` works with its flags and with --config; after an etcd
# restart (tokens do not survive one) a node asks for a new token and keeps its cameras. A
# CA that did not sign etcd's certificate, no client certificate, a wrong password and no
# user each fail with one line naming the cause, and claim nothing.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
CLIP=$SHARED/data/videos/people-2s.mp4
FLEET_TEST="fleet over TLS with etcd users"
ETCD_SCHEME=https
# The client certificate's name is no etcd user: with --client-cert-auth etcd would take
# the certificate's CN as the user when no token comes, and the password must be what works.
fleet_before_etcd() {
	( cd "$tmp" || exit 1
	  key() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$1.key" \
	          -out "$1.csr" -subj "/CN=$2" 2>/dev/null; }
	  sign() { openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	           -out "$1.pem" -extfile "$1.ext" 2>/dev/null; }
	  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key \
		-out ca.pem -days 2 -subj /CN=vapd-test-ca 2>/dev/null
	  # clientAuth too: etcd's gateway dials its own gRPC port with the server certificate
	  key server 127.0.0.1; printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >server.ext
	  sign server
	  key client nobody; printf 'extendedKeyUsage=clientAuth\n' >client.ext
	  sign client
	  # a second CA that signed nothing of etcd's: a node trusting it must refuse the server
	  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key \
		-out other.pem -days 2 -subj /CN=other-ca 2>/dev/null
	  echo secret >pw; echo wrong >badpw ) >"$tmp/openssl.log" 2>&1
	ETCD_ARGS="--cert-file $tmp/server.pem --key-file $tmp/server.key --trusted-ca-file $tmp/ca.pem --client-cert-auth"
}
. "$(dirname "$0")/fleet_lib.sh"

# etcdctl speaks gRPC (not the gateway): its certificate and, once auth is on, root.
ctl() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD" --cacert "$tmp/ca.pem" --cert "$tmp/client.pem" \
	--key "$tmp/client.key" --dial-timeout 2s $CTL_USER "$@"; }
i=0; until ctl endpoint health >/dev/null 2>&1; do i=$((i + 1)); [ $i -ge 100 ] && break; sleep 0.1; done
check "etcd answers on $ETCD (TLS, client certificates required)" \
	'[ -s "$tmp/server.pem" ] && ctl endpoint health >/dev/null 2>&1'

node_conf() { # name tls-map [password-file]
	cat >"$tmp/$1.yaml" <<EOF2
pipeline: { name: $1 }
log: { level: debug }
fleet:
  etcd: [$ETCD]
  node_id: $1
  capacity: 2
  lease_ttl_s: 3
  tls: $2
EOF2
	[ -n "$3" ] && printf '  username: vapd\n  password_file: %s\n' "$3" >>"$tmp/$1.yaml"
	echo "sinks: [ { type: file, path: $tmp/$1.jsonl, flush_ms: 100 } ]" >>"$tmp/$1.yaml"
}
start_node() {
	node_conf "$@"
	"$VAPD" -q -c "$tmp/$1.yaml" >>"$tmp/$1.log" 2>&1 &
	eval "pid_$1=$!"
	pids="$pids $!"
}
CERTS="{ ca_file: $tmp/ca.pem, cert_file: $tmp/client.pem, key_file: $tmp/client.key }"
# The owner of camera $1, read as $AS (etcd's client certificate, later user vapd).
AS="--cert $tmp/client.pem --key $tmp/client.key"
owner() { "$VAPD" fleet --etcd "$ETCD" --cacert "$tmp/ca.pem" $AS status 2>/dev/null | awk -v id="$1" '$1 == id { print $2 }'; }
frames() { grep -c "\"stream\":\"$2\",.*\"frame\":" "$tmp/$1.jsonl" 2>/dev/null || true; }
# Waits up to $1 tenths of a second for the shell condition $2.
wait_for() { i=0; until eval "$2"; do i=$((i + 1)); [ $i -ge "$1" ] && return 1; sleep 0.1; done; }

# ---- client certificates (etcd --client-cert-auth) ----------------------------------
"$VAPD" fleet --etcd "$ETCD" --cacert "$tmp/ca.pem" --cert "$tmp/client.pem" --key "$tmp/client.key" \
	add "{id: cam1, uri: $CLIP, loop: true, realtime: true}" >"$tmp/add.out" 2>&1
check "vapd fleet add over https with --cacert, --cert and --key ($(cat "$tmp/add.out"))" \
	'grep -q "^added cam1$" "$tmp/add.out"'
node_conf n1 "$CERTS"
"$VAPD" fleet --config "$tmp/n1.yaml" list >"$tmp/list" 2>&1
check "vapd fleet --config NODE.yaml list: etcd and TLS from the node's fleet: section" 'grep -q "^- {id: cam1," "$tmp/list"'
start_node n1 "$CERTS"
start_node bad_ca "{ ca_file: $tmp/other.pem, cert_file: $tmp/client.pem, key_file: $tmp/client.key }"
start_node no_cert "{ ca_file: $tmp/ca.pem }"
wait_for 150 '[ "$(owner cam1)" = n1 ] && [ "$(frames n1 cam1)" -gt 5 ]'
check "node n1 joins over https with its client certificate, claims cam1 and runs it ($(frames n1 cam1) frames)" \
	'[ "$(owner cam1)" = n1 ] && [ "$(frames n1 cam1)" -gt 5 ]'
sleep 2
# Each bad node retried about every 0.3 s for 4 s or more: a reason is logged once, not per try
# (a refused handshake cycles through three texts; a slow first try adds a timeout).
check "a CA that did not sign etcd's certificate: the TLS reason logged once, nothing claimed ($(grep -m1 "warn .*etcd.*certificate" "$tmp/bad_ca.log" | cut -c1-150))" \
	'[ "$(grep -c "warn .*etcd.*certificate problem" "$tmp/bad_ca.log")" = 1 ] && [ "$(grep -c "warn .*etcd" "$tmp/bad_ca.log")" -le 4 ] &&
	 ! grep -q "claimed" "$tmp/bad_ca.log"'
check "no client certificate: the refused handshake logged (at most 4 lines), nothing claimed ($(grep -m1 "warn .*etcd" "$tmp/no_cert.log" | cut -c1-150))" \
	'[ "$(grep -c "warn .*etcd" "$tmp/no_cert.log")" -ge 1 ] && [ "$(grep -c "warn .*etcd" "$tmp/no_cert.log")" -le 4 ] &&
	 ! grep -q "claimed" "$tmp/no_cert.log"'
kill -TERM $pids 2>/dev/null
for p in $pids; do wait "$p" 2>/dev/null; done
pids=

# ---- etcd users: auth enabled; server TLS only (etcd 3.4's JSON gateway refuses a client
# certificate's name beside user authentication, CVE-2018-16886) -----------------------
{ ctl user add root --new-user-password rootpw --interactive=false &&
  ctl user add vapd --new-user-password secret --interactive=false &&
  ctl role add fleet && ctl role grant-permission fleet --prefix=true readwrite /vapd/ &&
  ctl user grant-role vapd fleet && ctl auth enable; } >"$tmp/ctl.log" 2>&1
kill -TERM "$etcd_pid"; wait "$etcd_pid" 2>/dev/null
ETCD_ARGS="--cert-file $tmp/server.pem --key-file $tmp/server.key"
start_etcd
wait_for 100 'ctl endpoint health >/dev/null 2>&1'
check "etcd auth enabled, user vapd with read-write on /vapd/ ($(tail -1 "$tmp/ctl.log"))" \
	'grep -q "Authentication Enabled" "$tmp/ctl.log"'
CA="{ ca_file: $tmp/ca.pem }"
AS="--user vapd --password-file $tmp/pw"
"$VAPD" fleet --etcd "$ETCD" --cacert "$tmp/ca.pem" --user vapd --password-file "$tmp/pw" \
	add "{id: cam2, uri: $CLIP, loop: true, realtime: true}" >"$tmp/add2.out" 2>&1
check "vapd fleet add with --user and --password-file ($(cat "$tmp/add2.out"))" 'grep -q "^added cam2$" "$tmp/add2.out"'
"$VAPD" fleet --etcd "$ETCD" --cacert "$tmp/ca.pem" add "{id: cam3, uri: $CLIP}" >"$tmp/noauth.out" 2>&1; rc=$?
check "without --user the same add is refused: exit $rc, the reason named ($(grep -m1 . "$tmp/noauth.out" | cut -c1-150))" \
	'[ $rc -eq 1 ] && grep -q "user name is empty\|permission denied" "$tmp/noauth.out"'

start_node n2 "$CA" "$tmp/pw"
start_node bad_pw "$CA" "$tmp/badpw"
wait_for 150 '[ "$(owner cam2)" = n2 ] && [ "$(frames n2 cam2)" -gt 5 ]'
check "node n2 joins with a password token, claims cam1 and cam2 and runs them ($(frames n2 cam2) frames of cam2)" \
	'[ "$(owner cam2)" = n2 ] && [ "$(owner cam1)" = n2 ] && [ "$(frames n2 cam2)" -gt 5 ]'
sleep 2
check "a wrong password: the refusal logged once with the user and member, nothing claimed ($(grep -m1 "warn .*etcd.*authentication failed" "$tmp/bad_pw.log" | cut -c1-150))" \
	'[ "$(grep -c "warn .*etcd.*authenticate as vapd: .*authentication failed" "$tmp/bad_pw.log")" = 1 ] &&
	 [ "$(grep -c "warn .*etcd" "$tmp/bad_pw.log")" -le 4 ] && ! grep -q "claimed" "$tmp/bad_pw.log"'

# An etcd restart: its tokens are gone; n2 must ask for a new one and keep its cameras.
tokens() { grep -c "authenticated as vapd" "$tmp/n2.log"; }
t0=$(tokens)
kill -TERM "$etcd_pid"; wait "$etcd_pid" 2>/dev/null
start_etcd
f0=$(frames n2 cam2)
wait_for 200 '[ "$(tokens)" -gt "$t0" ] && [ "$(owner cam2)" = n2 ] && [ "$(frames n2 cam2)" -gt $((f0 + 10)) ]'
check "after an etcd restart n2 asks for a new token and keeps cam2 (tokens $t0 -> $(tokens), frames $f0 -> $(frames n2 cam2))" \
	'[ "$(tokens)" -gt "$t0" ] && [ "$(owner cam2)" = n2 ] && [ "$(frames n2 cam2)" -gt $((f0 + 10)) ] &&
	 ! grep -q "was refused" "$tmp/n2.log"'

kill -TERM $pids 2>/dev/null
for p in $pids; do wait "$p" 2>/dev/null; done
pids=
echo "1..$n"
[ $fails = 0 ]

#!/bin/sh
# The systemd units: `systemd-analyze verify` accepts them without a single warning, they
# carry the service contract (notify, watchdog, reload, restart) and the hardening, and
# `systemd-analyze security` rates them OK. Runs on temp copies whose ExecStart points
# at a binary that exists here.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
bin=$(cd "$BUILD" 2>/dev/null && pwd)/vapd
[ -x "$bin" ] || bin=/bin/true
for u in vapd.service vapd@.service; do
	sed "s|^ExecStart=/usr/local/bin/vapd |ExecStart=$bin |" "systemd/$u" >"$tmp/$u"
done
# verify needs an instance of the template: the copy is named like one.
cp "$tmp/vapd@.service" "$tmp/vapd@lobby.service"

has() { grep -qx "$2" "systemd/$1"; }
for u in vapd.service vapd@.service; do
	for d in Type=notify NotifyAccess=main WatchdogSec=30s Restart=on-failure \
	         'ExecReload=/bin/kill -HUP $MAINPID' DynamicUser=yes 'SupplementaryGroups=video render' \
	         ProtectSystem=strict ProtectHome=yes PrivateTmp=yes NoNewPrivileges=yes \
	         'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK' DevicePolicy=closed \
	         'DeviceAllow=char-nvidia-frontend rw' 'DeviceAllow=char-nvidia-uvm rw' \
	         'DeviceAllow=char-video4linux rw' CapabilityBoundingSet= \
	         SystemCallFilter=@system-service ConfigurationDirectory=vapd; do
		has "$u" "$d" || { echo "# $u lacks '$d'"; missing=1; }
	done
	# CUDA's JIT needs W+X pages: the option must stay unset.
	grep -q '^MemoryDenyWriteExecute=' "systemd/$u" && { echo "# $u sets MemoryDenyWriteExecute"; missing=1; }
done
check "units carry notify/watchdog/reload/restart and the hardening set" '[ -z "$missing" ]'
check "vapd@.service reads /etc/vapd/%i.yaml, vapd.service /etc/vapd/vapd.yaml" \
	'grep -q "^ExecStart=.* -c /etc/vapd/%i.yaml$" systemd/vapd@.service &&
	 grep -q "^ExecStart=.* -c /etc/vapd/vapd.yaml$" systemd/vapd.service &&
	 ! grep -q "%i" systemd/vapd.service'

if ! command -v systemd-analyze >/dev/null 2>&1; then
	for t in "verify vapd.service" "verify vapd@lobby.service" "security exposure" "verify flags a bad unit"; do
		ok "$t # SKIP deps: systemd-analyze (systemd) not installed"
	done
	exit 0
fi

# verify reports most mistakes as warnings with exit status 0: any output is a failure.
# --man=no: the man pages named in Documentation= are not installed here.
verify() {
	out=$(cd "$tmp" && systemd-analyze verify --man=no "$1" 2>&1); rc=$?
	[ -n "$out" ] && echo "$out" | sed 's/^/# /'
	[ $rc -eq 0 ] && [ -z "$out" ]
}
check "systemd-analyze verify vapd.service is clean" 'verify vapd.service'
check "systemd-analyze verify vapd@lobby.service is clean" 'verify vapd@lobby.service'

score_ok=1
for u in vapd.service vapd@lobby.service; do
	line=$(systemd-analyze security --offline=yes "$tmp/$u" 2>/dev/null | grep 'Overall exposure level')
	echo "# $u: ${line#→ }"
	score=$(echo "$line" | grep -Eo 'level for [^:]*: [0-9.]+' | grep -Eo '[0-9.]+$')
	# 0 is fully locked down, 10 unprotected; "OK" ends at 3.9. A GPU/camera daemon with
	# network sinks cannot reach 0: hold the line at 2.0.
	awk -v s="${score:-99}" 'BEGIN { exit !(s <= 2.0) }' || score_ok=
done
check "systemd-analyze security exposure <= 2.0 for both units" '[ -n "$score_ok" ]'

# The checks above can fail: a broken copy must be reported.
sed 's/^Restart=on-failure/Restart=sometimes/' "$tmp/vapd.service" >"$tmp/broken.service"
check "verify flags a unit with a bad value" '! verify broken.service >/dev/null'
[ $failed -eq 0 ]

#!/bin/sh
# `make install`: PREFIX, DESTDIR and UNITDIR/MANDIR put every file where expected, the
# units run the installed binary, the man pages render without a groff warning, and the
# installed units pass `systemd-analyze verify` with their Documentation= pages found.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
inst() { make -s --no-print-directory BUILD="$BUILD" install "$@" >"$tmp/make.log" 2>&1 ||
	{ sed 's/^/# /' "$tmp/make.log"; return 1; }; }

D=$tmp/stage
check "make install DESTDIR=... PREFIX=/usr succeeds" 'inst DESTDIR="$D" PREFIX=/usr'
expect="usr/bin/vapd
usr/bin/vapd-run-model
usr/lib/systemd/system/vapd.service
usr/lib/systemd/system/vapd@.service
usr/share/man/man1/vapd.1
usr/share/man/man5/vapd.yaml.5"
for c in configs/*.yaml; do
	[ -f "$c" ] && expect="$expect
usr/share/vapd/configs/${c##*/}"
done
(cd "$D" && find . -type f | sed 's|^\./||' | sort) >"$tmp/got"
echo "$expect" | sort >"$tmp/want"
check "exactly the expected files land under DESTDIR" 'diff "$tmp/want" "$tmp/got" | sed "s/^/# /"; cmp -s "$tmp/want" "$tmp/got"'
check "binaries are executable, units and man pages mode 644" \
	'[ -x "$D/usr/bin/vapd" ] && [ -x "$D/usr/bin/vapd-run-model" ] &&
	 [ "$(stat -c %a "$D/usr/lib/systemd/system/vapd@.service")" = 644 ] &&
	 [ "$(stat -c %a "$D/usr/share/man/man5/vapd.yaml.5")" = 644 ]'
check "installed units run PREFIX/bin/vapd" \
	'grep -qx "ExecStart=/usr/bin/vapd -c /etc/vapd/vapd.yaml" "$D/usr/lib/systemd/system/vapd.service" &&
	 grep -qx "ExecStart=/usr/bin/vapd -c /etc/vapd/%i.yaml" "$D/usr/lib/systemd/system/vapd@.service"'
check "installed binary runs (-V)" '"$D/usr/bin/vapd" -V >/dev/null'

D2=$tmp/stage2
check "UNITDIR and MANDIR override the defaults" \
	'inst DESTDIR="$D2" PREFIX=/opt/vapd UNITDIR=/etc/systemd/system MANDIR=/usr/share/man &&
	 [ -f "$D2/etc/systemd/system/vapd@.service" ] && [ -f "$D2/usr/share/man/man1/vapd.1" ] &&
	 [ -x "$D2/opt/vapd/bin/vapd" ] && [ ! -e "$D2/opt/vapd/lib" ] &&
	 grep -q "^ExecStart=/opt/vapd/bin/vapd " "$D2/etc/systemd/system/vapd.service"'

if command -v man >/dev/null 2>&1; then
	for p in man1/vapd.1 man5/vapd.yaml.5; do
		w=$(MANWIDTH=80 man --warnings -l "$D/usr/share/man/$p" 2>&1 >"$tmp/page.txt")
		[ -n "$w" ] && echo "$w" | sed 's/^/# /'
		check "man -l renders $p without warnings" '[ -z "$w" ] && grep -q "^NAME" "$tmp/page.txt"'
	done
else
	ok "man pages # SKIP deps: man (man-db) not installed"; ok "man pages # SKIP deps: man (man-db) not installed"
fi

# Installed to a real PREFIX, the units verify with their binary and man pages found.
P=$tmp/prefix
if command -v systemd-analyze >/dev/null 2>&1 && command -v man >/dev/null 2>&1; then
	inst PREFIX="$P" || not_ok "make install PREFIX=$P"
	cp "$P/lib/systemd/system/vapd@.service" "$tmp/vapd@lobby.service"
	for u in "$P/lib/systemd/system/vapd.service" "$tmp/vapd@lobby.service"; do
		out=$(cd "${u%/*}" && MANPATH="$P/share/man" systemd-analyze verify "${u##*/}" 2>&1); rc=$?
		[ -n "$out" ] && echo "$out" | sed 's/^/# /'
		check "installed ${u##*/} verifies with Documentation= pages found" '[ $rc -eq 0 ] && [ -z "$out" ]'
	done
else
	ok "verify installed units # SKIP deps: systemd-analyze (systemd) or man (man-db) missing"
	ok "verify installed units # SKIP deps: systemd-analyze (systemd) or man (man-db) missing"
fi
[ $failed -eq 0 ]

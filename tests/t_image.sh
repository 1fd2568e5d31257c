#!/bin/sh
# `make image`'s package list on this build, without building the image (that needs root,
# the apt mirror and minutes): scripts/image-pkgs.sh maps every library `ldd $BUILD/vapd`
# lists to an installed Debian package, the list has no -dev package, holds the extras
# (ca-certificates for TLS, fonts-dejavu-core for the live view's text), and the script
# refuses a binary it cannot resolve. The Containerfile and make target are checked by shape.
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

check "image-pkgs.sh derives a package list from $BUILD/vapd" \
	'scripts/image-pkgs.sh "$BUILD/vapd" >"$tmp/pkgs" 2>"$tmp/err" || { sed "s/^/# /" "$tmp/err"; false; }'

# Independently of the script: each library path, its /usr or / twin and its link target;
# one of them must be owned by a package the list names.
ldd "$BUILD/vapd" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' | sort -u >"$tmp/libs"
# The installed files of the listed packages, once (dpkg -L of them all).
: >"$tmp/paths"
xargs dpkg -L <"$tmp/pkgs" >"$tmp/paths" 2>/dev/null || true
unowned=
while read -r lib; do
	found=
	for p in "$lib" "/usr$lib" "${lib#/usr}" "$(readlink -f "$lib")"; do
		grep -qxF "$p" "$tmp/paths" && { found=1; break; }
	done
	[ -n "$found" ] || unowned="$unowned $lib"
done <"$tmp/libs"
[ -n "$unowned" ] && echo "# not in any listed package:$unowned"
check "every library of ldd $BUILD/vapd ($(wc -l <"$tmp/libs")) is a file of a listed package" '[ -z "$unowned" ] && [ -s "$tmp/libs" ]'

check "every listed package is installed here" \
	'[ -z "$(xargs dpkg-query -W -f="\${db:Status-Abbrev} \${Package}\n" <"$tmp/pkgs" 2>&1 | grep -v "^ii ")" ]'
check "no -dev package in the list" '! grep -q -- "-dev$" "$tmp/pkgs"'
check "the list has libc6, libavcodec, ca-certificates and fonts-dejavu-core" \
	'grep -qx libc6 "$tmp/pkgs" && grep -q "^libavcodec[0-9]" "$tmp/pkgs" &&
	 grep -qx ca-certificates "$tmp/pkgs" && grep -qx fonts-dejavu-core "$tmp/pkgs"'

# A library outside dpkg (a copy put first on LD_LIBRARY_PATH, which ldd honours) is refused
# by name.
mkdir -p "$tmp/lib"
cp "$(ldd "$BUILD/vapd" | awk '$1 ~ /^libjansson/ { print $3 }')" "$tmp/lib/"
check "a library no package owns is refused by name" \
	'! LD_LIBRARY_PATH="$tmp/lib" scripts/image-pkgs.sh "$BUILD/vapd" >/dev/null 2>"$tmp/err" &&
	 grep -q "no installed package owns: .*libjansson" "$tmp/err"'

check "make image is a target and the Containerfile builds without a registry or RUN" \
	'grep -q "^image: all" Makefile && grep -q "^\.PHONY:.*" Makefile &&
	 sed -n "/^\.PHONY/,/^all:/p" Makefile | grep -qw image &&
	 grep -q -- "--pull=never" scripts/image.sh &&
	 ! grep -q "^RUN" deploy/image/Containerfile &&
	 grep -qx "ENTRYPOINT \[\"/usr/bin/vapd\"\]" deploy/image/Containerfile &&
	 grep -qx "USER vapd" deploy/image/Containerfile && grep -qx "EXPOSE 9464" deploy/image/Containerfile'

echo "1..$n"
[ "$failed" -eq 0 ]

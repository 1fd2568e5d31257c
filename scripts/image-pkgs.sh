#!/bin/sh
# Prints the Debian packages a binary needs at run time, one per line, sorted: every library
# `ldd BINARY` lists, mapped to its installed package with one `dpkg -S` call, plus EXTRA
# (default: ca-certificates fonts-dejavu-core). Fails, naming them, when a library maps to no
# installed package (built against a library outside dpkg, or not found at all) or when a
# -dev package ends up in the list. scripts/image.sh builds the image from this list;
# tests/t_image.sh runs it on the current build.
#
#   scripts/image-pkgs.sh [BINARY [EXTRA...]]
set -e
bin=${1:-${BUILD:-build}/vapd}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- ca-certificates fonts-dejavu-core
die() { echo "image-pkgs: $*" >&2; exit 1; }

[ -x "$bin" ] || die "$bin: no such executable (run make all first)"
command -v ldd >/dev/null 2>&1 || die "ldd not found (Debian package libc-bin)"
command -v dpkg >/dev/null 2>&1 || die "dpkg not found: the package list is derived on a Debian system"

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ldd "$bin" >"$tmp/ldd" 2>&1 || die "ldd $bin failed: $(cat "$tmp/ldd")"
if grep -q 'not found' "$tmp/ldd"; then
	die "$bin: libraries not found: $(grep 'not found' "$tmp/ldd" | awk '{print $1}' | tr '\n' ' ')"
fi
# The libraries' paths (the loader too; not linux-vdso, which is in the kernel).
awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' "$tmp/ldd" | sort -u >"$tmp/libs"
[ -s "$tmp/libs" ] || die "$bin: ldd lists no library (a static binary needs no package list)"

# With /usr merged, ldd says /lib/... where the package ships /usr/lib/... (or the other way),
# and a symbolic link (alternatives: libopenblas.so.0) may be owned by no package while its
# target is. Every library gets these candidate paths: "LIB<TAB>CANDIDATE".
while read -r lib; do
	real=$(readlink -f "$lib")
	for p in "$lib" "$real"; do
		printf '%s\t%s\n' "$lib" "$p"
		case $p in
		/usr/*) printf '%s\t%s\n' "$lib" "${p#/usr}" ;;
		*) printf '%s\t%s\n' "$lib" "/usr$p" ;;
		esac
	done
done <"$tmp/libs" | sort -u >"$tmp/cand"

# One dpkg -S for all candidates ("pkg1:arch, pkg2: /path"; diversions skipped). It exits 1
# when some candidates are not owned, which is expected.
cut -f2 "$tmp/cand" | sort -u | xargs dpkg -S 2>/dev/null | grep -v '^diversion ' >"$tmp/owned" || true
awk -F'\t' '
	NR == FNR { i = index($0, ": /"); if (i == 0) next
	            path = substr($0, i + 2); n = split(substr($0, 1, i - 1), p, ", ")
	            for (k = 1; k <= n; k++) { sub(/:.*/, "", p[k]); owner[path] = owner[path] " " p[k] }
	            next }
	($2 in owner) { print $1 "\t" owner[$2] }
' "$tmp/owned" "$tmp/cand" >"$tmp/map"

cut -f1 "$tmp/map" | sort -u | comm -23 "$tmp/libs" - >"$tmp/orphans"
[ -s "$tmp/orphans" ] && die "no installed package owns: $(tr '\n' ' ' <"$tmp/orphans")"

{ cut -f2 "$tmp/map" | tr ' ' '\n'; printf '%s\n' "$@"; } | grep -v '^$' | sort -u >"$tmp/pkgs"
if grep -q -- '-dev$' "$tmp/pkgs"; then
	die "-dev packages in the run-time list: $(grep -- '-dev$' "$tmp/pkgs" | tr '\n' ' ')"
fi
cat "$tmp/pkgs"

#!/bin/sh
# vapd --check on hostile pipeline files stays fast and its output stays short: each file is
# generated here, must be refused (exit 2) within LIMIT seconds (generous: the build machine is
# shared) with FILE:LINE:COL positions, in less than 64 KB of output. The wall time of each is
# printed.
BUILD=${BUILD:-build}
LIMIT=${LIMIT:-5}
cd "$(dirname "$0")/.." || exit 1
vapd=$(cd "$BUILD" && pwd)/vapd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
result() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
src='sources:\n  - id: a\n    uri: rtsp://h/x\n'

# check NAME WANT: runs vapd --check on $tmp/NAME.yaml (killed after 4 x LIMIT), wants exit 2 in
# LIMIT seconds, less than 64 KB of output and a line starting with NAME.yaml:WANT.
check() {
	start=$(date +%s%N)
	(cd "$tmp" && timeout $((LIMIT * 4)) "$vapd" -c "$1.yaml" --check) >"$tmp/$1.out" 2>&1
	rc=$?
	ms=$((($(date +%s%N) - start) / 1000000))
	bytes=$(wc -c <"$tmp/$1.out")
	echo "# $1: $(wc -c <"$tmp/$1.yaml") bytes in, exit $rc after $ms ms, $bytes bytes out"
	sed -n '1,3p;$p' "$tmp/$1.out" | cut -c1-160 | sed 's/^/#   /'
	[ $rc -eq 2 ] && [ $ms -le $((LIMIT * 1000)) ] && [ "$bytes" -lt 65536 ] &&
		grep -q "^$1.yaml:$2" "$tmp/$1.out"
}

# 64k distinct unknown keys in one map: the duplicate check is linear.
{ printf "$src"; seq -f 'k%05g: 1' 0 65535; } >"$tmp/keys.yaml"
check keys '4:1: k00000: unknown key' && tail -1 "$tmp/keys.out" | grep -qx 'keys.yaml: ... and 65486 more errors'
result $? "a map of 64k keys is checked in time, 50 errors shown, then how many more"

# The same, one section down, with a duplicate among the first errors.
{ printf "${src}pipeline:\n"; seq -f '  k%05g: 1' 0 9; echo '  k00003: 2'; seq -f '  k%05g: 1' 10 65535; } \
	>"$tmp/keys2.yaml"
check keys2 '15:3: pipeline.k00003: duplicate key (first at line 8)'
result $? "a duplicate among 64k keys is found, naming the first"

# 100k levels of nesting (libyaml alone takes a time quadratic in it): refused at level 65.
{ printf 'sources: '; head -c 100000 /dev/zero | tr '\0' '['; head -c 100000 /dev/zero | tr '\0' ']'; echo; } \
	>"$tmp/deep.yaml"
check deep '1:73: (syntax): nested deeper than 64 levels$'
result $? "a file nested 100k deep is refused at the 65th level"
{ printf 'sources:\n'; for i in $(seq 2000); do printf -- '- '; done; echo x; } >"$tmp/deep2.yaml"
check deep2 '2:127: (syntax): nested deeper than 64 levels$'
result $? "block lists nested 2000 deep are refused at the 65th level"

# An alias bomb: 256 sources x 64 zones x 512 bad points and classes (8M errors) from 3 KB; the
# walk stops after a budget of node visits.
rep() { i=1; while [ $i -lt "$1" ]; do printf ', %s' "$2"; i=$((i + 1)); done; }
{ echo 'x:'; echo '  - &p [q, q, q]'
  echo "  - &z {name: z, polygon: [*p$(rep 256 '*p')], classes: [*p$(rep 256 '*p')]}"
  echo "  - &s {id: a, uri: rtsp://h/x, zones: [*z$(rep 64 '*z')]}"
  echo "sources: [*s$(rep 256 '*s')]"; } >"$tmp/bomb.yaml"
check bomb "2:5: (aliases): aliases repeat the file's values more than [0-9]* times; checking stopped here$"
result $? "an alias bomb stops the check once"

# Long values are quoted cut to 80 bytes.
{ printf "${src}"; printf '    interval: '; head -c 100000 /dev/zero | tr '\0' 7; echo; } >"$tmp/long.yaml"
check long "4:15: sources\[0\].interval: expected an integer, got '7\{80\}\.\.\.'$"
result $? "a 100 KB value is cut in the message"
[ "$n" -gt 0 ]

#!/bin/sh
# `make test` N times in a row while HOGS busy loops compete for the CPU, as flake-proofing
# evidence (issue: the suite passes on a loaded 2-core machine, not only on an idle one).
# Prints a row per run and a total; exits 1 if any run failed. Logs stay in $OUT.
#
#   scripts/loaded-tests.sh [N] [HOGS]      (default 20 runs, 1 hog per 2 cores)
#
# Each hog is a shell busy loop at normal priority, so on 2 cores the suite gets about
# two thirds of the machine while its own programs run side by side (tests/run.sh).
N=${1:-20}
HOGS=${2:-$((($(nproc) + 1) / 2))}
OUT=${OUT:-$(mktemp -d /tmp/vapd-loaded.XXXXXX)}
cd "$(dirname "$0")/.." || exit 2
make -s tests-build >"$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log"; exit 2; }

hogs=""
stop_hogs() { [ -n "$hogs" ] && kill $hogs 2>/dev/null; hogs=""; }
trap 'stop_hogs' EXIT
trap 'stop_hogs; exit 130' INT TERM
i=0
while [ $i -lt "$HOGS" ]; do
	sh -c 'while :; do :; done' &
	hogs="$hogs $!"
	i=$((i + 1))
done

echo "# $N runs of make test beside $HOGS busy loop(s) on $(nproc) cores; logs in $OUT"
printf '%-4s %-44s %6s %6s  %s\n' run summary wall_s load1 failing
bad=0; i=1
while [ $i -le "$N" ]; do
	t0=$(date +%s)
	make -s test >"$OUT/run$i.log" 2>&1; rc=$?
	secs=$(($(date +%s) - t0))
	load=$(cut -d' ' -f1 /proc/loadavg)
	sum=$(grep '^summary:' "$OUT/run$i.log" | tail -1 | sed 's/^summary: //')
	fail=$(grep '^failing:' "$OUT/run$i.log" | sed 's/^failing: //')
	[ $rc -ne 0 ] && bad=$((bad + 1))
	printf '%-4s %-44s %6s %6s  %s\n' "$i" "${sum:-no summary (exit $rc)}" "$secs" "$load" "$fail"
	i=$((i + 1))
done
echo "# $((N - bad)) of $N runs passed"
[ $bad -eq 0 ]

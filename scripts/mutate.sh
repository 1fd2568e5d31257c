#!/bin/sh
# Mutation smoke (make mutate; not part of make test): applies each mutation of
# scripts/mutations.txt, one at a time, to a copy of the tree (never this one), builds what
# its tests need, runs them, and prints a table of the mutations the tests caught and those
# that survived. Exits 1 if any survived, or if a mutation no longer applies (its old text
# is not in its file exactly once) or no longer builds: the list must stay honest.
#   scripts/mutate.sh [--no-baseline] [NAME...]   NAMEs: only these mutations
# Before mutating, every test the list names runs once on the unmutated copy (the baseline):
# a test that fails there would "catch" everything.
set -u
BUILD=${BUILD:-build}
cd "$(dirname "$0")/.." || exit 2
SHARED=${SHARED:-$(cd .. && pwd)/shared}
export SHARED BUILD CMOCKA_MESSAGE_OUTPUT=stdout
LIST=scripts/mutations.txt
LIMIT=${VAPD_MUTATE_LIMIT:-600}   # seconds per test program
baseline=1
if [ "${1:-}" = --no-baseline ]; then baseline=0; shift; fi
only=" $* "

work=$(mktemp -d /tmp/vapd-mutate.XXXXXX) || exit 2
trap 'rm -rf "$work"' EXIT
tree=$work/tree
# The working tree as it is (uncommitted changes included) and its build folder, so only
# what a mutation touches is rebuilt; .git stays behind, so nothing here reaches the repo.
mkdir "$tree" && tar -cf - --exclude=./.git --exclude="./$BUILD-*" . | tar -xf - -C "$tree" || exit 2

# The records as tab-separated "name file tests old new" lines (old and new keep their \n
# and \t escapes; a literal tab is written as \t).
records=$work/records
python3 - "$LIST" >"$records" <<'PY' || exit 2
import sys
recs, cur = [], None
for n, line in enumerate(open(sys.argv[1]), 1):
    line = line.rstrip("\n")
    if not line.strip() or line.startswith("#"):
        continue
    key, sep, val = line.partition(":")
    if not sep or key not in ("name", "file", "tests", "old", "new"):
        sys.exit(f"{sys.argv[1]}:{n}: expected name:, file:, tests:, old: or new:")
    if key == "name":
        cur = {}; recs.append(cur)
    elif cur is None:
        sys.exit(f"{sys.argv[1]}:{n}: {key}: before the first name:")
    cur[key] = (val[1:] if val.startswith(" ") else val).replace("\t", "\\t")
for r in recs:
    miss = [k for k in ("name", "file", "tests", "old", "new") if k not in r]
    if miss:
        sys.exit(f"mutation {r.get('name', '?')}: no {', '.join(miss)}")
    print("\t".join(r[k] for k in ("name", "file", "tests", "old", "new")))
PY

# $1 file, $2 old, $3 new (escaped): replaces the one occurrence; exit 3 if not exactly one.
apply() {
	python3 - "$@" <<'PY'
import sys
def unesc(s):  # only \n and \t: every other backslash is the code's own
    return s.replace("\\n", "\n").replace("\\t", "\t")
path, old, new = sys.argv[1], unesc(sys.argv[2]), unesc(sys.argv[3])
text = open(path).read()
if text.count(old) != 1:
    print(f"{path}: old text found {text.count(old)} times", file=sys.stderr)
    sys.exit(3)
open(path, "w").write(text.replace(old, new))
PY
}

# Make targets for test programs $1 (space-separated): a cmocka test is its binary; a
# script needs the programs and the tools it names.
targets() {
	for t in $1; do
		case "$t" in
		test_*) echo "$BUILD/tests/$t" ;;
		t_*.sh)
			echo "$BUILD/vapd $BUILD/vapd-run-model"
			for tool in $(grep -o 'tool_[a-z_]*' "tests/$t" | sort -u); do
				echo "$BUILD/tests/$tool"
			done ;;
		*) echo "mutate: unknown test $t" >&2; return 1 ;;
		esac
	done
}

# Runs test programs $1 in the copy; prints the first that failed, or nothing.
run_tests() {
	for t in $1; do
		case "$t" in
		test_*) (cd "$tree" && timeout -k 10 "$LIMIT" "$BUILD/tests/$t") ;;
		*) (cd "$tree" && timeout -k 10 "$LIMIT" sh "tests/$t") ;;
		esac </dev/null >"$work/log" 2>&1 || { echo "$t"; return; }
	done
}

wanted() { [ "$only" = "  " ] || case "$only" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if [ $baseline -eq 1 ]; then
	all=$(while IFS="$(printf '\t')" read -r name file tests old new; do
		wanted "$name" && echo "$tests"; done <"$records" | tr ' ' '\n' | sort -u | tr '\n' ' ')
	echo "baseline: $all"
	if ! (cd "$tree" && make -s -j2 $(targets "$all")) </dev/null >"$work/build.log" 2>&1; then
		tail -20 "$work/build.log"; echo "mutate: the unmutated tree does not build"; exit 2
	fi
	bad=$(run_tests "$all")
	if [ -n "$bad" ]; then
		tail -30 "$work/log"; echo "mutate: $bad fails without a mutation"; exit 2
	fi
fi

TAB=$(printf '\t')
table=$work/table
survived=0; broken=0; total=0
while IFS="$TAB" read -r name file tests old new; do
	wanted "$name" || continue
	total=$((total + 1))
	cp "$tree/$file" "$work/orig"
	t0=$(date +%s)
	if ! (cd "$tree" && apply "$file" "$old" "$new"); then
		result="NOT APPLIED (old text not found exactly once)"; broken=$((broken + 1))
	elif ! (cd "$tree" && make -s -j2 $(targets "$tests")) </dev/null >"$work/build.log" 2>&1; then
		result="BUILD FAILED"; broken=$((broken + 1))
		tail -5 "$work/build.log" | sed 's/^/    /'
	else
		by=$(run_tests "$tests")
		if [ -n "$by" ]; then
			result="caught by $by"
		else
			result="SURVIVED"; survived=$((survived + 1))
		fi
	fi
	cp "$work/orig" "$tree/$file"
	echo "$name: $result ($(($(date +%s) - t0)) s)"
	printf '| %s | %s | %s | %s |\n' "$name" "$file" "$tests" "$result" >>"$table"
done <"$records"

echo
echo "| mutation | file | tests | result |"
echo "| --- | --- | --- | --- |"
cat "$table" 2>/dev/null
echo
echo "mutate: $total mutations, $((total - survived - broken)) caught, $survived survived, $broken not applied or not built"
[ $survived -eq 0 ] && [ $broken -eq 0 ] && [ $total -gt 0 ]

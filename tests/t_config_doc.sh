#!/bin/sh
# The key reference and the example configs stay in step with the key table:
# docs/config-reference.md equals pipe_config_print_reference(out, 1), the plain form has one line
# per key, every configs/*.yaml passes the check, and a broken file fails it with FILE:LINE:COL.
BUILD=${BUILD:-build}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
cd "$(dirname "$0")/.." || exit 1
ref=$BUILD/tests/tool_config_ref
check=$BUILD/tests/tool_config_check
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
result() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

"$ref" >"$tmp/ref.md" && diff -u docs/config-reference.md "$tmp/ref.md" >"$tmp/diff"
rc=$?
[ $rc -ne 0 ] && cat "$tmp/diff" && echo "# regenerate: $ref > docs/config-reference.md"
result $rc "docs/config-reference.md matches the key table"

rows=$(grep -c '^| `' "$tmp/ref.md")
lines=$("$ref" --text | wc -l)
[ "$rows" -gt 40 ] && [ "$rows" -eq "$lines" ]
result $? "text reference has one line per key ($lines lines, $rows table rows)"

VAPD_MODELS=$SHARED/models VAPD_INPUT=$SHARED/data/videos/people-2s.mp4 VAPD_OUT=$tmp \
	"$check" configs/*.yaml >"$tmp/check.out" 2>&1
rc=$?
cat "$tmp/check.out"
[ $rc -eq 0 ] && [ "$(grep -c ': ok (' "$tmp/check.out")" -eq "$(ls configs/*.yaml | wc -l)" ]
result $? "every configs/*.yaml passes the check"

printf 'sources:\n  - id: cam1\n    uri: rtsp://h/1\n    reconnect: { initial_ms: 500, max_ms: 100 }\n' \
	>"$tmp/lobby.yaml"
(cd "$tmp" && "$OLDPWD/$check" lobby.yaml) >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -qx 'lobby.yaml:4:43: sources\[0\].reconnect.max_ms: must be >= initial_ms (500)' "$tmp/err"
result $? "a broken file exits 2 with FILE:LINE:COL: key: message (rc=$rc: $(cat "$tmp/err"))"

sed -n '/<!-- config-reference:begin -->/,/<!-- config-reference:end -->/p' README.md | sed '1d;$d' >"$tmp/readme.md"
diff -u "$tmp/ref.md" "$tmp/readme.md" >"$tmp/diff2"
rc=$?
[ $rc -ne 0 ] && head -20 "$tmp/diff2"
result $rc "the README's key reference equals the key table"

#!/bin/sh
# The key reference and the example configs stay in step with the key table:
# docs/config-reference.md equals pipe_config_print_reference(out, 1), the plain form has one line
# per key, every configs/*.yaml passes the check, a broken file fails it with FILE:LINE:COL (also
# through vapd --check), and the README embeds the same reference.
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

# vapd --check itself: MQTT topics take {kind}; an unknown placeholder exits 2 at the topic.
mqtt() {
	printf 'sources:\n  - id: cam1\n    uri: rtsp://h/1\nsinks:\n  - type: mqtt\n    broker: mqtt://h\n'
	printf '    topic: %s\n    messages: [events, eos]\n' "$1"
}
mqtt 'vapd/{stream}/{kind}' >"$tmp/kind.yaml"
mqtt 'vapd/{nope}' >"$tmp/nope.yaml"
"$BUILD/vapd" --check -c "$tmp/kind.yaml" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && [ ! -s "$tmp/err" ]
result $? "vapd --check takes {kind} in an MQTT topic (rc=$rc: $(cat "$tmp/err"))"
"$BUILD/vapd" --check -c "$tmp/nope.yaml" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "^$tmp/nope.yaml:7:12: sinks\[0\].topic: topic 'vapd/{nope}': unknown placeholder" "$tmp/err"
result $? "vapd --check refuses {nope} in an MQTT topic with exit 2 at 7:12 (rc=$rc: $(cat "$tmp/err"))"

sed -n '/<!-- config-reference:begin -->/,/<!-- config-reference:end -->/p' README.md | sed '1d;$d' >"$tmp/readme.md"
diff -u "$tmp/ref.md" "$tmp/readme.md" >"$tmp/diff2"
rc=$?
[ $rc -ne 0 ] && head -20 "$tmp/diff2"
result $rc "the README's key reference equals the key table"

#!/bin/sh
# End to end: build/vapd on a shared clip (no model: one message per frame plus EOS)
# with outputs that lose everything or part of it: stdout on /dev/full, a file sink that
# hits its size limit mid-run (ulimit -f, SIGXFSZ ignored: EFBIG at that offset), a
# tcp:// peer nobody listens on. The sinks' closing lines must count the losses as
# failed, never as sent, and the file must end with a whole line: exactly those sent.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
CLIP=$SHARED/data/videos/people-2s.mp4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }

want=$(ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$CLIP")
msgs=$((want + 1))
port=$($PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")

# "closed: S sent, D dropped, F failed" of sink $1 in log $2, as "S D F".
counts() { sed -n "s/.*\[sink $1\] closed: \([0-9]*\) sent, \([0-9]*\) dropped, \([0-9]*\) failed.*/\1 \2 \3/p" "$2"; }

cat > "$tmp/c.yaml" <<YAML
pipeline: { name: lobby }
sources:
  - id: cam1
    uri: $CLIP
sinks:
  - type: stdout
  - type: file
    path: $tmp/limited.jsonl
    mode: truncate
  - type: socket
    address: tcp://127.0.0.1:$port
YAML
# The size limit must not reach the log: stderr goes through a pipe to a process outside it.
( trap '' XFSZ; ulimit -f 2; exec "$VAPD" -q -c "$tmp/c.yaml" >/dev/full ) 2>&1 | cat > "$tmp/err"

set -- $(counts 'stdout\[0\]' "$tmp/err")
if [ "$1" = 0 ] && [ "$2" = 0 ] && [ "$3" = "$msgs" ]; then
	ok "stdout on /dev/full: 0 sent, $msgs failed"
else
	nok "stdout on /dev/full: got '$*' (sent dropped failed), want '0 0 $msgs'"
fi

set -- $(counts 'file\[1\]' "$tmp/err")
lines=$(wc -l < "$tmp/limited.jsonl")
if [ -n "$1" ] && [ "$1" -gt 0 ] && [ "$3" -gt 0 ] && [ $(($1 + $2 + $3)) = "$msgs" ] &&
   [ "$lines" = "$1" ] && [ "$(tail -c 1 "$tmp/limited.jsonl" | od -An -c | tr -d ' ')" = '\n' ] &&
   $PY -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$tmp/limited.jsonl"; then
	ok "file at its size limit: $1 sent = $lines whole lines on disk, $3 failed"
else
	nok "file at its size limit: got '$*' (sent dropped failed), $lines lines on disk, $(wc -c < "$tmp/limited.jsonl") bytes"
fi

set -- $(counts 'socket\[2\]' "$tmp/err")
if [ "$1" = 0 ] && [ $(($2 + $3)) = "$msgs" ]; then
	ok "tcp:// to a refusing port: 0 sent, $3 failed, $2 dropped"
else
	nok "tcp:// to a refusing port: got '$*' (sent dropped failed), want 0 sent of $msgs"
fi
[ $fails = 0 ] || sed -n '/\[sink/p' "$tmp/err" | head -20
exit $((fails > 0))

#!/bin/sh
# The live view in a real browser: Debian's chromium, headless, driven over the DevTools
# protocol (--remote-debugging-pipe, from a small python3 script: nothing to install) loads
# the page of a vapd running on the highway clip (tracker, a counting line, a token): no
# console error, every stream listed, its picture loads and changes, counts and events
# appear. The screenshot goes to $VIEW_SHOT, $BUILD/view.png by default (the README's
# docs/view.png is refreshed with VIEW_SHOT=docs/view.png tests/t_view_browser.sh).
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
PY=/usr/bin/python3
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
V=$SHARED/data/videos
M=$SHARED/models
SHOT=${VIEW_SHOT:-$BUILD/view.png}
tmp=$(mktemp -d)
pids=
trap 'for p in $pids; do kill -KILL $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
n=0; fails=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() { if eval "$2"; then ok "$1"; else nok "$1"; fi; }
wait_for() { i=0; while ! eval "$1"; do i=$((i + 1)); [ $i -ge "$2" ] && return 1; sleep 0.1; done; }
free_port() { $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ ! -x "$CHROMIUM" ]; then
	ok "browser # SKIP deps: chromium is not installed ($CHROMIUM)"
	echo "1..$n"
	exit 0
fi

TOKEN=tok-browser-51c2
printf '%s\n' "$TOKEN" >"$tmp/token"
port=$(free_port)
cat >"$tmp/view.yaml" <<EOF
pipeline: { name: browser }
http: { listen: 127.0.0.1:$port, token_file: $tmp/token }
view: { fps: 5, width: 640 }
sources:
  - id: highway
    uri: $V/highway-540p.mp4
    realtime: true
    loop: true
    lines:
      - name: overtake
        points: [[120, 450], [120, 300]]
        classes: [car, truck]
model:
  path: $M/yolox_nano.onnx
  family: yolox
  labels: $M/coco.names
  threshold: 0.3
  classes: [car, truck, bus]
tracker: { type: bytetrack }
snapshots: { dir: $tmp/snaps, events: [line_cross], crop: false, width: 640 }
sinks:
  - type: file
    path: $tmp/events.jsonl
    messages: [events]
EOF
"$VAPD" -q -c "$tmp/view.yaml" 2>"$tmp/vapd.err" & pid=$!; pids="$pids $pid"
check "vapd serves the view" \
	"wait_for '[ \$(curl -s -o /dev/null -w %{http_code} http://127.0.0.1:$port/readyz) = 200 ]' 600"

# The DevTools client: one message per NUL-terminated JSON text on fds 3 (to chromium) and 4
# (from it). Prints one "name: ok|FAIL detail" line per check, waiting on what the page shows.
cat >"$tmp/cdp.py" <<'PY'
import json, os, subprocess, sys, time
chromium, url, shot, profile = sys.argv[1:5]
to_r, to_w = os.pipe()
from_r, from_w = os.pipe()
def child_fds():   # via high numbers: a pipe end may itself be 3 or 4
    os.dup2(to_r, 100)
    os.dup2(from_w, 101)
    os.dup2(100, 3)
    os.dup2(101, 4)
proc = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
                         "--no-first-run", "--no-default-browser-check", "--remote-debugging-pipe",
                         f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
                        close_fds=False, preexec_fn=child_fds,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(to_r); os.close(from_w)
out, inp = os.fdopen(to_w, "wb"), os.fdopen(from_r, "rb")
buf, next_id, errors, events = b"", 0, [], []

def read_msg():
    global buf
    while b"\0" not in buf:
        chunk = os.read(inp.fileno(), 65536)
        if not chunk:
            raise EOFError("chromium closed the pipe")
        buf += chunk
    text, buf = buf.split(b"\0", 1)
    return json.loads(text)

def note(m):
    method, p = m.get("method"), m.get("params", {})
    if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
        errors.append("console: " + " ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
    elif method == "Runtime.exceptionThrown":
        errors.append("exception: " + p["exceptionDetails"].get("text", "") + " " +
                      str(p["exceptionDetails"].get("exception", {}).get("description", "")))
    elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
        errors.append("log: " + p["entry"]["text"] + " " + p["entry"].get("url", ""))

def call(method, session=None, **params):
    global next_id
    next_id += 1
    m = {"id": next_id, "method": method, "params": params}
    if session:
        m["sessionId"] = session
    out.write(json.dumps(m).encode() + b"\0")
    out.flush()
    while True:
        r = read_msg()
        if r.get("id") == next_id:
            if "error" in r:
                raise RuntimeError(f"{method}: {r['error']}")
            return r["result"]
        note(r)

def js(expr):
    r = call("Runtime.evaluate", s, expression=expr, returnByValue=True)
    return r["result"].get("value")

def wait(name, expr, secs):
    end, v = time.monotonic() + secs, None
    while time.monotonic() < end:
        v = js(expr)
        if v:
            print(f"{name}: ok {v}")
            return v
        time.sleep(0.2)
    print(f"{name}: FAIL last {v!r}")
    return None

try:
    target = call("Target.createTarget", url="about:blank")["targetId"]
    s = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for d in ("Runtime", "Log", "Page"):
        call(d + ".enable", s)
    call("Emulation.setDeviceMetricsOverride", s, width=1280, height=860, deviceScaleFactor=1, mobile=False)
    call("Page.navigate", s, url=url)
    wait("page", "document.title === 'vapd' && document.readyState === 'complete'", 30)
    wait("stream listed", "[...document.querySelectorAll('.card .name')].map(e => e.textContent).join(',') === 'highway' && 'highway'", 30)
    wait("state running", "document.querySelector('.card .state.running') && 'running'", 30)
    first = wait("picture loads", "(() => { const i = document.querySelector('.card img'); return i && i.complete && i.naturalWidth === 640 && i.src; })()", 30)
    wait("picture changes", f"(() => {{ const i = document.querySelector('.card img'); return i.complete && i.naturalWidth === 640 && i.src !== {json.dumps(first)} && i.src; }})()", 30)
    wait("stats shown", "(() => { const t = document.querySelector('.card .stats').textContent; return /frames\\/s/.test(t) && !/^0\\.0 /.test(t) && t; })()", 30)
    wait("counts shown", "(() => { const t = document.querySelector('.card .counts').textContent; return /tracks: \\d+/.test(t) && /line overtake: \\d+ in \\/ \\d+ out/.test(t) && t; })()", 30)
    wait("events appear", "(() => { const l = document.querySelectorAll('#eventlist li'); return l.length > 0 && l[0].textContent; })()", 60)
    wait("a line count", "/line overtake: [1-9]\\d* in/.test(document.querySelector('.card .counts').textContent) && 'counted'", 90)
    wait("a line_cross event", "[...document.querySelectorAll('#eventlist li')].some(l => /line_cross overtake/.test(l.textContent)) && 'listed'", 60)
    wait("a snapshot thumbnail", "[...document.querySelectorAll('#eventlist li img')].some(i => i.complete && i.naturalWidth === 640) && 'loaded'", 60)
    png = call("Page.captureScreenshot", s, format="png")["data"]
    import base64
    with open(shot, "wb") as f:
        f.write(base64.b64decode(png))
    js("1")   # collects what came in meanwhile
    print("console errors: " + ("ok none" if not errors else "FAIL " + " | ".join(errors)))
finally:
    try:
        call("Browser.close")
    except Exception:
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
PY

mkdir -p "$(dirname "$SHOT")"
timeout 600 $PY "$tmp/cdp.py" "$CHROMIUM" "http://127.0.0.1:$port/?token=$TOKEN" "$SHOT" "$tmp/profile" >"$tmp/cdp.out" 2>"$tmp/cdp.err"
for what in "page" "stream listed" "state running" "picture loads" "picture changes" "stats shown" \
            "counts shown" "events appear" "a line count" "a line_cross event" "a snapshot thumbnail" \
            "console errors"; do
	line=$(grep "^$what: " "$tmp/cdp.out")
	check "browser: $what (${line#*: })" "echo '$line' | grep -q '^$what: ok'"
done
[ -s "$tmp/cdp.err" ] && sed 's/^/# /' "$tmp/cdp.err" | tail -5
check "the screenshot is a PNG ($SHOT)" "$PY -c \"import sys; sys.exit(open('$SHOT', 'rb').read(8) != bytes.fromhex('89504e470d0a1a0a'))\""
kill -TERM $pid
wait_for "! kill -0 $pid 2>/dev/null" 150

echo "1..$n"
[ $fails -eq 0 ]

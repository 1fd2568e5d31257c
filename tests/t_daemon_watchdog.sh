#!/bin/sh
# build/vapd's watchdog gate (pipeline/daemon.c): WATCHDOG=1 is sent only while the engine
# makes progress. A batch is made to hang for real: the file sink writes into a FIFO whose
# reader stops reading, so the pipe fills, the sink's queue fills and the engine blocks in
# publishing (a file sink never drops). The pings must stop, come back once the reader
# drains the FIFO, and SIGTERM must still drain and exit 0.
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
VAPD=$BUILD/vapd
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkfifo "$tmp/out.fifo"
printf 'sources:\n  - id: cam\n    uri: %s\n    loop: true\nsinks:\n  - type: file\n    path: %s\n    flush_ms: 0\n' \
	"$SHARED/data/videos/highway-160x90.mp4" "$tmp/out.fifo" >"$tmp/c.yaml"

/usr/bin/python3 - "$VAPD" "$tmp" <<'PY'
import os, signal, socket, subprocess, sys, threading, time
vapd, tmp = sys.argv[1], sys.argv[2]
n = 0; fails = 0
def check(ok, what):
    global n, fails
    n += 1
    if not ok: fails += 1
    print(("ok" if ok else "not ok") + f" {n} - {what}", flush=True)

sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(f"{tmp}/notify.sock")
pings = []                       # monotonic times of WATCHDOG=1
lock = threading.Lock()
def receive():
    while True:
        try:
            msg = sock.recv(4096).decode()
        except OSError:
            return
        if "WATCHDOG=1" in msg.split("\n"):
            with lock: pings.append(time.monotonic())
threading.Thread(target=receive, daemon=True).start()

# WATCHDOG_USEC 1 s: the gate closes once one batch has been busy for 0.5 s.
env = dict(os.environ, NOTIFY_SOCKET=f"{tmp}/notify.sock", WATCHDOG_USEC="1000000")
err = open(f"{tmp}/err", "w")
vp = subprocess.Popen([vapd, "-q", "-c", f"{tmp}/c.yaml"], env=env, stderr=err)
# Opened without waiting for the writer, and not read: the FIFO fills.
fifo = os.open(f"{tmp}/out.fifo", os.O_RDONLY | os.O_NONBLOCK)

def last_gap():
    with lock: return time.monotonic() - (pings[-1] if pings else 0)

def wait(cond, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if cond(): return True
        if vp.poll() is not None: return False
        time.sleep(0.05)
    return False

# Pings stop: none for 3 s (six times the 0.5 s the daemon waits between pings).
stopped = wait(lambda: len(pings) > 0 and last_gap() >= 3.0, 60)
with lock: before = len(pings)
check(stopped and vp.poll() is None,
      f"pings stop while the sink blocks the engine ({before} pings before, rc {vp.poll()})")

# Drain the FIFO from here on: the engine moves and the pings come back.
draining = True
def drain():
    os.set_blocking(fifo, True)
    while draining:
        if not os.read(fifo, 1 << 16): time.sleep(0.01)
threading.Thread(target=drain, daemon=True).start()
back = wait(lambda: len(pings) >= before + 2 and last_gap() < 1.0, 30)
check(back, f"pings come back once the FIFO is read ({len(pings) - before} more)")

vp.send_signal(signal.SIGTERM)
try:
    rc = vp.wait(60)
except subprocess.TimeoutExpired:
    vp.kill(); rc = vp.wait()
check(rc == 0, f"SIGTERM drains and exits 0 (rc {rc})")
if fails:
    sys.stdout.write(open(f"{tmp}/err").read()[-2000:])
sys.exit(1 if fails else 0)
PY

#!/bin/sh
# Installs the Debian packages that building, testing and the demo need, only when some
# are missing (idempotent; silent when everything is present). Every program a test would
# otherwise skip for is here (curl, man from man-db, systemd-analyze from systemd, the
# GStreamer RTSP server, mosquitto): under CI=true such a skip fails the suite.
set -e
PKGS="build-essential pkg-config ca-certificates curl
libavformat-dev libavcodec-dev libavutil-dev libavdevice-dev libswscale-dev libffmpeg-nvenc-dev ffmpeg
libyaml-dev libcmocka-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata
libopenblas-dev python3 python3-onnx python3-numpy python3-scipy clang libclang-rt-dev libomp-dev
libmosquitto-dev mosquitto mosquitto-clients openssl libsystemd-dev libmicrohttpd-dev
python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
gstreamer1.0-plugins-bad
man-db systemd
libcairo2-dev fonts-dejavu-core chromium
etcd-server etcd-client libcurl4-openssl-dev libjansson-dev"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null

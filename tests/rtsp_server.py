#!/usr/bin/python3
"""Serves an mp4 file's H.264 over RTSP for the decode tests: rtsp_server.py PORT FILE [PATH].
Every client gets the file from its start, paced in real time. PORT 0 picks a free one;
prints "ready PORT" once listening."""
import sys

import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer

port, clip = sys.argv[1], sys.argv[2]
path = sys.argv[3] if len(sys.argv) > 3 else "/clip"
Gst.init(None)
server = GstRtspServer.RTSPServer(address="127.0.0.1", service=port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(f'( filesrc location="{clip}" ! qtdemux ! h264parse config-interval=-1 '
                   '! rtph264pay name=pay0 pt=96 )')
server.get_mount_points().add_factory(path, factory)
if server.attach(None) == 0:
    sys.exit(f"rtsp_server: cannot listen on 127.0.0.1:{port}")
print(f"ready {server.get_bound_port()}", flush=True)
GLib.MainLoop().run()

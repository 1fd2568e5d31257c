/* The one table of config keys. Each row drives parsing (type, offset), defaults (def, parsed
 * like a written value), validation (range, enum names, required, check) and the reference
 * printed by vapd --help-config and docs/config-reference.md. */
#include "config_internal.h"

#include <stddef.h>
#include <string.h>

static const char *const decoders[] = { "auto", "nvdec", "software", NULL };
static const char *const policies[] = { "auto", "block", "drop_oldest", NULL };
static const char *const transports[] = { "tcp", "udp", NULL };
static const char *const families[] = { "yolox", "yolov8", "yolov5", "yolov10", "detr", "auto", NULL };
static const char *const box_formats[] = { "auto", "raw", "decoded", NULL };
static const char *const backends[] = { "auto", "cpu", "cuda", NULL };
static const char *const precisions[] = { "fp16", "fp32", NULL };
static const char *const resizes[] = { "letterbox", "stretch", NULL };
static const char *const placements[] = { "top_left", "center", NULL };
static const char *const orders[] = { "rgb", "bgr", NULL };
static const char *const file_modes[] = { "append", "truncate", NULL };
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
const char *const cfg_sink_type_names[] = { "stdout", "file", "socket", "mqtt", NULL };
static const char *const tracker_types[] = { "bytetrack", NULL };
/* Same order as enum pipe_msg_kind. */
static const char *const msg_kinds[] = { "frames", "events", "eos", NULL };
/* Same order as enum an_event_kind. */
static const char *const event_kinds[] = { "track_start", "track_end", "zone_enter", "zone_exit",
                                           "line_cross", NULL };
static const char *const codecs[] = { "auto", "libx264", "h264_nvenc", NULL };
static const char *const coord_loss[] = { "stop", "keep", NULL };

/* Enums are stored through an int pointer. */
_Static_assert(sizeof(enum pipe_decoder) == sizeof(int), "enum size");
_Static_assert(sizeof(enum pipe_sink_type) == sizeof(int), "enum size");
/* CFG_SIZE2 stores [w, h] as two ints side by side. */
_Static_assert(offsetof(pipe_model_cfg, input_h) == offsetof(pipe_model_cfg, input_w) + sizeof(int),
               "input_w, input_h adjacent");

#define R(f) offsetof(pipe_config, f)
#define M(f) offsetof(pipe_model_cfg, f)
#define S(f) offsetof(pipe_source_cfg, f)
#define K(f) offsetof(pipe_sink_cfg, f)
#define TRK(p, t, f, ...) ROOT("tracker." p, t, tracker.f, __VA_ARGS__)
#define DOC(p, t, ...) { .path = p, .type = t, .base = CFG_DOC, __VA_ARGS__ }
#define ROOT(p, t, f, ...) { .path = p, .type = t, .base = CFG_ROOT, .off = R(f), __VA_ARGS__ }
#define MODEL(p, t, f, ...) { .path = "model." p, .type = t, .base = CFG_MODEL, .off = M(f), __VA_ARGS__ }
#define SRC(p, t, f, ...) { .path = "sources[]." p, .type = t, .base = CFG_SOURCE, .off = S(f), __VA_ARGS__ }
#define SINK(p, t, f, ...) { .path = "sinks[]." p, .type = t, .base = CFG_SINK, .off = K(f), __VA_ARGS__ }
#define RECONNECT_MAX 3600000    /* one hour, in ms */

const cfg_key cfg_keys[] = {
	ROOT("pipeline.name", CFG_STR, name, .def = "vapd", .check = cfg_check_id,
	     .doc = "Name used in logs, metrics labels and MQTT topics ({pipeline})"),
	ROOT("pipeline.device", CFG_STR, device, .def = "auto", .check = cfg_check_device,
	     .doc = "Where decode and inference run: auto, cpu or cuda:N"),
	ROOT("log.level", CFG_ENUM, log_level, .def = "info", .names = log_levels,
	     .doc = "Least severe level logged"),
	ROOT("metrics.listen", CFG_STR, metrics_listen, .shown = "none (off)", .check = cfg_check_listen,
	     .doc = "Older name of http.listen (give one of them)"),
	ROOT("http.listen", CFG_STR, http_listen, .shown = "none (off)", .check = cfg_check_listen,
	     .doc = "host:port serving /metrics, /healthz, /readyz, the live view (/), /api and "
	            "/snapshots; off when absent. Off-host needs token_file or password_file"),
	ROOT("http.token_file", CFG_PATH, http.token_file, .flags = CFG_READABLE, .shown = "none",
	     .doc = "File whose first line is the token: \"Authorization: Bearer TOKEN\" or ?token=TOKEN"),
	ROOT("http.password_file", CFG_PATH, http.password_file, .flags = CFG_READABLE, .shown = "none",
	     .doc = "File whose first line is the basic-auth password of http.user"),
	ROOT("http.user", CFG_STR, http.user, .def = "vapd", .doc = "Basic-auth user name"),
	ROOT("http.allow_unauthenticated", CFG_BOOL, http.allow_unauthenticated, .def = "false",
	     .doc = "Allow an off-host listen address with neither token_file nor password_file"),
	ROOT("http.max_viewers", CFG_INT, http.max_viewers, .def = "8", .min = 1, .max = 64,
	     .doc = "Live MJPEG streams served at once; more get 503"),
	ROOT("view.fps", CFG_INT, view.fps, .def = "5", .min = 1, .max = 30,
	     .doc = "Live pictures per second per stream (drawn and encoded once, whatever the viewers)"),
	ROOT("view.width", CFG_INT, view.width, .def = "640", .min = 64, .max = 3840,
	     .doc = "Width of the live pictures (height keeps the aspect)"),
	ROOT("view.quality", CFG_INT, view.quality, .def = "80", .min = 1, .max = 100,
	     .doc = "JPEG quality of live pictures and snapshots"),
	{ .path = "snapshots", .type = CFG_MAP, .base = CFG_ROOT, .off = R(snapshots.present),
	  .shown = "none", .doc = "JPEGs of chosen events (needs tracker:); absent: none" },
	ROOT("snapshots.dir", CFG_STR, snapshots.dir, .flags = CFG_REQUIRED,
	     .doc = "Folder of the snapshots (one subfolder per stream); created when missing"),
	ROOT("snapshots.events", CFG_FLAGS, snapshots.events, .def = "zone_enter, line_cross, track_end",
	     .names = event_kinds, .doc = "Events that get a snapshot"),
	ROOT("snapshots.frame", CFG_BOOL, snapshots.frame, .def = "true",
	     .doc = "Write the annotated frame (track_end: the track's best-scoring frame)"),
	ROOT("snapshots.crop", CFG_BOOL, snapshots.crop, .def = "true",
	     .doc = "Write the object's crop (unannotated) as <name>-crop.jpg"),
	ROOT("snapshots.width", CFG_INT, snapshots.width, .def = "1280", .min = 0, .max = 7680,
	     .doc = "Width of the annotated frame; 0: the source's"),
	ROOT("snapshots.keep", CFG_INT, snapshots.keep, .def = "1000", .min = 0, .max = 10000000,
	     .doc = "Snapshots kept per stream, oldest deleted first; 0: no count limit"),
	ROOT("snapshots.keep_days", CFG_FLOAT, snapshots.keep_days, .def = "0", .min = 0, .max = 36500,
	     .doc = "Snapshots older than this are deleted; 0: no age limit"),

	ROOT("sources", CFG_LIST, sources, .shown = "required (fleet: may be empty)", .min = 1, .max = 256,
	     .doc = "Video inputs, one or more; with fleet: the node's own, the fleet adds its cameras"),
	SRC("id", CFG_STR, id, .flags = CFG_REQUIRED, .check = cfg_check_id,
	    .doc = "Unique stream name; appears in every message as \"stream\""),
	SRC("uri", CFG_STR, uri, .flags = CFG_REQUIRED, .check = cfg_check_uri,
	    .doc = "File path, file://, rtsp://, rtsps://, http(s):// or v4l2:///dev/videoN"),
	SRC("decoder", CFG_ENUM, decoder, .def = "auto", .names = decoders,
	    .doc = "Video decoder; auto picks nvdec when a GPU is usable"),
	SRC("realtime", CFG_BOOL, realtime, .def = "false",
	    .doc = "Files: pace frames by their timestamps (live sources always are)"),
	SRC("loop", CFG_BOOL, loop, .def = "false", .doc = "Files: start over at the end"),
	SRC("interval", CFG_INT, interval, .def = "1", .min = 1, .max = 1000,
	    .doc = "Run detection on every Nth frame (the others are still counted)"),
	SRC("queue.depth", CFG_INT, queue.depth, .def = "8", .min = 1, .max = 4096,
	    .doc = "Decoded frames waiting for the engine"),
	SRC("queue.policy", CFG_ENUM, queue.policy, .def = "auto", .names = policies,
	    .doc = "When the queue is full; auto: files block, live sources drop the oldest"),
	SRC("reconnect.initial_ms", CFG_INT, reconnect_initial_ms, .def = "500", .min = 1,
	    .max = RECONNECT_MAX, .doc = "First delay before reopening a failed live source"),
	SRC("reconnect.max_ms", CFG_INT, reconnect_max_ms, .def = "30000", .min = 1,
	    .max = RECONNECT_MAX, .doc = "Upper bound of the doubling reconnect delay; >= initial_ms"),
	SRC("rtsp.transport", CFG_ENUM, rtsp_transport, .def = "tcp", .names = transports,
	    .doc = "RTSP transport for rtsp:// and rtsps:// sources"),
	SRC("rtsp.timeout_ms", CFG_INT, rtsp_timeout_ms, .def = "5000", .min = 100, .max = 600000,
	    .doc = "RTSP socket timeout; a silent camera counts as disconnected after it"),
	SRC("nvdec.surfaces", CFG_INT, nvdec_surfaces, .def = "0", .min = 0, .max = 32,
	    .doc = "NVDEC decode surfaces; 0: the stream's minimum + nvdec.in_flight + 4; at most "
	           "32 (NVDEC's limit)"),
	SRC("nvdec.in_flight", CFG_INT, nvdec_in_flight, .def = "2", .min = 0, .max = 16,
	    .doc = "Pictures NVDEC decodes ahead of the one being output; 0: lowest latency"),
	{ .path = "sources[].record", .type = CFG_MAP, .base = CFG_SOURCE, .off = S(record.present),
	  .shown = "none", .doc = "Annotated recording in fragmented MP4 segments; absent: none" },
	SRC("record.dir", CFG_STR, record.dir, .flags = CFG_REQUIRED,
	    .doc = "Folder of the segments (one subfolder per stream); created when missing"),
	SRC("record.segment_s", CFG_INT, record.segment_s, .def = "10", .min = 1, .max = 3600,
	    .doc = "Seconds of video per file"),
	SRC("record.max_mb", CFG_INT, record.max_mb, .def = "1024", .min = 1, .max = 100000000,
	    .doc = "Total size of the stream's segments; the oldest are deleted first"),
	SRC("record.width", CFG_INT, record.width, .def = "1280", .min = 0, .max = 7680,
	    .doc = "Picture width (height keeps the aspect); 0: the source's"),
	SRC("record.fps", CFG_INT, record.fps, .def = "0", .min = 0, .max = 240,
	    .doc = "Frames per second recorded; 0: every decoded frame"),
	SRC("record.codec", CFG_ENUM, record.codec, .def = "auto", .names = codecs,
	    .doc = "H.264 encoder; auto: h264_nvenc where the GPU has NVENC, else libx264"),
	SRC("zones", CFG_ZONES, zones, .shown = "none", .min = 0, .max = 64,
	    .doc = "Polygons counting tracked objects inside them (needs tracker:)"),
	DOC("sources[].zones[].name", CFG_STR, .flags = CFG_REQUIRED,
	    .doc = "Zone name, unique in its source; events and counts carry it"),
	DOC("sources[].zones[].polygon", CFG_POINTS, .flags = CFG_REQUIRED, .min = 3, .max = 256,
	    .doc = "Corners [[x, y], ...] in source pixels; must not cross itself"),
	DOC("sources[].zones[].classes", CFG_CLASSES, .shown = "all",
	    .doc = "Classes (names or ids) the zone counts"),
	SRC("lines", CFG_LINES, lines, .shown = "none", .min = 0, .max = 64,
	    .doc = "Lines counting tracked objects crossing them (needs tracker:)"),
	DOC("sources[].lines[].name", CFG_STR, .flags = CFG_REQUIRED,
	    .doc = "Line name, unique in its source; events and counts carry it"),
	DOC("sources[].lines[].points", CFG_POINTS, .flags = CFG_REQUIRED, .min = 2, .max = 2,
	    .doc = "[[x1, y1], [x2, y2]] in source pixels; crossing from its left to its right "
	           "(as seen on screen, P1 to P2) is \"in\""),
	DOC("sources[].lines[].classes", CFG_CLASSES, .shown = "all",
	    .doc = "Classes (names or ids) the line counts"),

	{ .path = "model", .type = CFG_MAP, .base = CFG_ROOT, .off = R(model.present),
	  .shown = "none", .doc = "Detection model; when absent frames pass with empty detections" },
	MODEL("path", CFG_PATH, path, .flags = CFG_REQUIRED | CFG_READABLE,
	      .doc = "ONNX model file"),
	MODEL("family", CFG_ENUM, family, .def = "yolox", .names = families,
	      .doc = "Output head and preprocess preset; yolov8 also covers YOLO11; yolov10: NMS-free "
	             "end-to-end YOLO (YOLOv10, YOLO26); detr: RT-DETR, D-FINE, DEIM exports; auto: "
	             "chosen from the inputs and outputs"),
	MODEL("box_format", CFG_ENUM, box_format, .def = "auto", .names = box_formats,
	      .doc = "yolox: raw grid outputs or boxes already decoded by the export; auto tells them apart"),
	MODEL("input", CFG_SIZE2, input_w, .shown = "from model", .min = 32, .max = 4096,
	      .doc = "Network input [width, height] in pixels"),
	MODEL("labels", CFG_PATH, labels, .flags = CFG_READABLE, .shown = "none",
	      .doc = "Class names, one per line; messages carry only ids without it"),
	MODEL("backend", CFG_ENUM, backend, .def = "auto", .names = backends,
	      .doc = "Inference backend; auto uses cuda when a GPU is usable"),
	MODEL("precision", CFG_ENUM, precision, .def = "fp16", .names = precisions,
	      .doc = "Arithmetic of the cuda backend (cpu always runs fp32)"),
	MODEL("batch.max_size", CFG_INT, batch_max_size, .def = "8", .min = 1, .max = 256,
	      .doc = "Most frames run together in one batch"),
	MODEL("batch.timeout_ms", CFG_INT, batch_timeout_ms, .def = "10", .min = 0, .max = 10000,
	      .doc = "Longest wait for a batch to fill before it runs partly full"),
	MODEL("threshold", CFG_FLOAT, threshold, .def = "0.3", .min = 0, .max = 1,
	      .doc = "Minimum final score of a detection"),
	MODEL("class_thresholds", CFG_CLASS_THRESH, class_thresholds, .shown = "none",
	      .min = 0, .max = 1, .doc = "Per-class minimum score, {name-or-id: score}"),
	MODEL("classes", CFG_CLASSES, classes, .shown = "all",
	      .doc = "Allow-list of classes by name or id"),
	MODEL("nms_iou", CFG_FLOAT, nms_iou, .def = "0.45", .min = 0, .max = 1,
	      .set_bit = PIPE_SET_NMS_IOU,
	      .doc = "IoU above which non-maximum suppression drops the weaker box; yolov10 and "
	             "detr run no NMS unless this is written"),
	MODEL("max_detections", CFG_INT, max_detections, .def = "100", .min = 1, .max = 10000,
	      .doc = "Most detections kept per frame, best first"),
	MODEL("threads", CFG_INT, threads, .def = "0", .min = 0, .max = 1024,
	      .doc = "CPU backend threads; 0: one per core"),
	MODEL("preprocess.resize", CFG_ENUM, preprocess.resize, .shown = "family preset",
	      .names = resizes, .set_bit = PIPE_PRE_RESIZE,
	      .doc = "letterbox keeps the aspect ratio and pads; stretch fills the input"),
	MODEL("preprocess.placement", CFG_ENUM, preprocess.placement, .shown = "family preset",
	      .names = placements, .set_bit = PIPE_PRE_PLACEMENT,
	      .doc = "Where a letterboxed image sits in the input"),
	MODEL("preprocess.pad_value", CFG_FLOAT, preprocess.pad_value, .shown = "family preset",
	      .min = 0, .max = 255, .set_bit = PIPE_PRE_PAD, .doc = "Pixel value of the letterbox padding"),
	MODEL("preprocess.channel_order", CFG_ENUM, preprocess.channel_order,
	      .shown = "family preset", .names = orders, .set_bit = PIPE_PRE_ORDER,
	      .doc = "Channel order the network expects"),
	MODEL("preprocess.mean", CFG_FLOAT3, preprocess.mean, .shown = "family preset",
	      .min = -1000, .max = 1000, .set_bit = PIPE_PRE_MEAN,
	      .doc = "Per-channel mean; value = (pixel - mean) * scale"),
	MODEL("preprocess.scale", CFG_FLOAT3, preprocess.scale, .shown = "family preset",
	      .min = -1000, .max = 1000, .set_bit = PIPE_PRE_SCALE,
	      .doc = "Per-channel scale; value = (pixel - mean) * scale"),

	{ .path = "tracker", .type = CFG_MAP, .base = CFG_ROOT, .off = R(tracker.present),
	  .shown = "none (no tracking)",
	  .doc = "Multi-object tracking (ByteTrack): track_id in detections, events, zones and lines" },
	TRK("type", CFG_ENUM, type, .def = "bytetrack", .names = tracker_types, .doc = "Tracking algorithm"),
	TRK("high_threshold", CFG_FLOAT, high_threshold, .def = "0.5", .min = 0, .max = 1,
	    .doc = "Detections scoring above it are matched first and may start tracks"),
	TRK("low_threshold", CFG_FLOAT, low_threshold, .def = "0.1", .min = 0, .max = 1,
	    .doc = "Detections between it and high_threshold only keep existing tracks alive"),
	TRK("new_track_threshold", CFG_FLOAT, new_track_threshold, .shown = "high_threshold + 0.1",
	    .min = 0, .max = 1, .doc = "Score an unmatched detection needs to start a track"),
	TRK("match_threshold", CFG_FLOAT, match_threshold, .def = "0.8", .min = 0, .max = 1,
	    .doc = "Largest matching cost 1 - IoU*score accepted in the first association"),
	TRK("lost_frames", CFG_INT, lost_frames, .def = "30", .min = 1, .max = 1000000,
	    .doc = "Frames (at 30 fps; scaled by the stream's fps) a lost track is kept before it ends"),
	TRK("per_class", CFG_BOOL, per_class, .def = "false",
	    .doc = "One tracker per class; otherwise a track's class is its majority class"),

	{ .path = "fleet", .type = CFG_MAP, .base = CFG_ROOT, .off = R(fleet.present),
	  .shown = "none (one node)",
	  .doc = "Fleet mode: nodes share one camera list in etcd, each camera run by one node" },
	ROOT("fleet.etcd", CFG_STRLIST, fleet.etcd, .def = "http://127.0.0.1:2379", .check = cfg_check_etcd,
	     .doc = "etcd members' client URLs (http://host:port or https://host:port, v3 JSON gateway), tried in turn"),
	ROOT("fleet.node_id", CFG_STR, fleet.node_id, .shown = "host name", .check = cfg_check_id,
	     .doc = "This node's name, unique in the fleet"),
	ROOT("fleet.capacity", CFG_INT, fleet.capacity, .def = "16", .min = 1, .max = 1024,
	     .doc = "Most cameras this node runs; also its weight when cameras are shared out"),
	ROOT("fleet.lease_ttl_s", CFG_INT, fleet.lease_ttl_s, .def = "10", .min = 2, .max = 600,
	     .doc = "Life of the node's etcd lease: a crashed node's cameras move after it"),
	ROOT("fleet.prefix", CFG_STR, fleet.prefix, .def = "/vapd", .check = cfg_check_prefix,
	     .doc = "Key prefix in etcd (nodes/, cameras/, claims/, and done/ and progress/ of file items below it)"),
	ROOT("fleet.on_coordinator_loss", CFG_ENUM, fleet.on_coordinator_loss, .def = "stop",
	     .names = coord_loss,
	     .doc = "When the lease cannot be renewed: stop the cameras before it expires, or keep them"),
	ROOT("fleet.tls.ca_file", CFG_PATH, fleet.tls.ca_file, .flags = CFG_READABLE, .shown = "system CAs",
	     .doc = "CA certificates (PEM) to verify https etcd members"),
	ROOT("fleet.tls.cert_file", CFG_PATH, fleet.tls.cert_file, .flags = CFG_READABLE, .shown = "none",
	     .doc = "Client certificate (PEM) for etcd's --client-cert-auth; needs key_file"),
	ROOT("fleet.tls.key_file", CFG_PATH, fleet.tls.key_file, .flags = CFG_READABLE, .shown = "none",
	     .doc = "Client private key (PEM); needs cert_file"),
	ROOT("fleet.username", CFG_STR, fleet.username, .shown = "none",
	     .doc = "etcd user, when etcd has authentication enabled; needs password_file"),
	ROOT("fleet.password_file", CFG_PATH, fleet.password_file, .flags = CFG_READABLE, .shown = "none",
	     .doc = "File whose first line is the etcd user's password; needs username"),

	ROOT("sinks", CFG_LIST, sinks, .shown = "one stdout sink", .min = 1, .max = 32,
	     .doc = "Outputs, each with its own queue and thread"),
	SINK("type", CFG_ENUM, type, .flags = CFG_REQUIRED, .names = cfg_sink_type_names,
	     .doc = "Kind of output"),
	SINK("messages", CFG_FLAGS, messages, .def = "frames, events, eos", .names = msg_kinds,
	     .doc = "Kinds of message this sink takes: frames, events (tracker), eos"),
	SINK("queue.depth", CFG_INT, queue.depth, .shown = "8 (socket: 1024)", .min = 1,
	     .max = 65536, .doc = "Messages waiting for this sink"),
	SINK("queue.policy", CFG_ENUM, queue.policy, .def = "auto", .names = policies,
	     .doc = "When the queue is full; auto: stdout and file block, socket and mqtt drop the oldest"),
	SINK("path", CFG_STR, path, .flags = CFG_REQUIRED, .sinks = CFG_FOR_FILE,
	     .doc = "file: JSON Lines output file"),
	SINK("mode", CFG_ENUM, mode, .def = "append", .names = file_modes, .sinks = CFG_FOR_FILE,
	     .doc = "file: keep or empty an existing file at start"),
	SINK("rotate_mb", CFG_INT, rotate_mb, .def = "0", .min = 0, .max = 1048576,
	     .sinks = CFG_FOR_FILE, .doc = "file: rename to PATH.1 and start anew past this size; 0: never"),
	SINK("flush_ms", CFG_INT, flush_ms, .def = "1000", .min = 0, .max = 600000,
	     .sinks = CFG_FOR_FILE, .doc = "file: longest time a line stays buffered; 0: every line"),
	SINK("address", CFG_STR, address, .flags = CFG_REQUIRED, .sinks = CFG_FOR_SOCKET,
	     .check = cfg_check_address,
	     .doc = "socket: tcp://host:port, tcp-listen://addr:port, udp://host:port, "
	            "unix:///path or unix-listen:///path"),
	SINK("broker", CFG_STR, broker, .flags = CFG_REQUIRED, .sinks = CFG_FOR_MQTT,
	     .check = cfg_check_broker, .doc = "mqtt: mqtt://host[:port] (1883) or mqtts://host[:port] (8883)"),
	SINK("topic", CFG_STR, topic, .def = "vapd/{stream}/detections", .sinks = CFG_FOR_MQTT,
	     .check = cfg_check_topic,
	     .doc = "mqtt: topic template; {stream}, {pipeline} and {kind} (frames, events, eos) are replaced"),
	SINK("qos", CFG_INT, qos, .def = "0", .min = 0, .max = 2, .sinks = CFG_FOR_MQTT,
	     .doc = "mqtt: quality of service 0, 1 or 2"),
	SINK("retain", CFG_BOOL, retain, .def = "false", .sinks = CFG_FOR_MQTT,
	     .doc = "mqtt: ask the broker to keep the last message per topic"),
	SINK("client_id", CFG_STR, client_id, .shown = "vapd-<pipeline.name>", .sinks = CFG_FOR_MQTT,
	     .doc = "mqtt: client identifier; unique per broker"),
	SINK("username", CFG_STR, username, .shown = "none", .sinks = CFG_FOR_MQTT,
	     .doc = "mqtt: user name"),
	SINK("password_file", CFG_PATH, password_file, .flags = CFG_READABLE, .shown = "none",
	     .sinks = CFG_FOR_MQTT, .doc = "mqtt: file whose first line is the password"),
	SINK("keepalive_s", CFG_INT, keepalive_s, .def = "30", .min = 5, .max = 3600,
	     .sinks = CFG_FOR_MQTT, .doc = "mqtt: keep-alive interval in seconds"),
	SINK("tls.ca_file", CFG_PATH, tls.ca_file, .flags = CFG_READABLE, .shown = "system CAs",
	     .sinks = CFG_FOR_MQTT, .doc = "mqtt: CA certificates (PEM) to verify the broker"),
	SINK("tls.cert_file", CFG_PATH, tls.cert_file, .flags = CFG_READABLE, .shown = "none",
	     .sinks = CFG_FOR_MQTT, .doc = "mqtt: client certificate (PEM); needs key_file"),
	SINK("tls.key_file", CFG_PATH, tls.key_file, .flags = CFG_READABLE, .shown = "none",
	     .sinks = CFG_FOR_MQTT, .doc = "mqtt: client private key (PEM); needs cert_file"),
	SINK("reconnect.initial_ms", CFG_INT, reconnect_initial_ms, .def = "500", .min = 1,
	     .max = RECONNECT_MAX, .sinks = CFG_FOR_MQTT, .doc = "mqtt: first delay before reconnecting"),
	SINK("reconnect.max_ms", CFG_INT, reconnect_max_ms, .def = "30000", .min = 1,
	     .max = RECONNECT_MAX, .sinks = CFG_FOR_MQTT,
	     .doc = "mqtt: upper bound of the doubling reconnect delay; >= initial_ms"),
};
const int cfg_n_keys = sizeof(cfg_keys) / sizeof(cfg_keys[0]);

const cfg_key *cfg_find_key(const char *norm_path)
{
	for (int i = 0; i < cfg_n_keys; i++)
		if (strcmp(cfg_keys[i].path, norm_path) == 0)
			return &cfg_keys[i];
	return NULL;
}

int cfg_is_section(const char *norm_path)
{
	size_t n = strlen(norm_path);
	for (int i = 0; i < cfg_n_keys; i++)
		if (strncmp(cfg_keys[i].path, norm_path, n) == 0 && cfg_keys[i].path[n] == '.')
			return 1;
	return 0;
}

/* Markdown tables take '|' only escaped. */
static void put_cell(FILE *out, const char *s, int markdown)
{
	for (; *s; s++) {
		if (markdown && *s == '|')
			fputc('\\', out);
		fputc(*s, out);
	}
}

static void type_text(const cfg_key *k, char *buf, size_t n)
{
	switch (k->type) {
	case CFG_STR: snprintf(buf, n, "string"); break;
	case CFG_PATH: snprintf(buf, n, "file path"); break;
	case CFG_INT: snprintf(buf, n, "int %.10g..%.10g", k->min, k->max); break;
	case CFG_FLOAT: snprintf(buf, n, "float %.10g..%.10g", k->min, k->max); break;
	case CFG_BOOL: snprintf(buf, n, "bool"); break;
	case CFG_SIZE2: snprintf(buf, n, "[int, int] %.10g..%.10g", k->min, k->max); break;
	case CFG_FLOAT3: snprintf(buf, n, "[float, float, float]"); break;
	case CFG_STRLIST: snprintf(buf, n, "list of strings"); break;
	case CFG_CLASSES: snprintf(buf, n, "list of names or ids"); break;
	case CFG_CLASS_THRESH: snprintf(buf, n, "map name-or-id: float %.10g..%.10g", k->min, k->max); break;
	case CFG_LIST: snprintf(buf, n, "list of %.10g..%.10g maps", k->min, k->max); break;
	case CFG_MAP: snprintf(buf, n, "map"); break;
	case CFG_FLAGS: {
		size_t used = (size_t)snprintf(buf, n, "list of ");
		for (int i = 0; k->names[i] && used < n; i++)
			used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? "|" : "", k->names[i]);
		break;
	}
	case CFG_ZONES:
	case CFG_LINES: snprintf(buf, n, "list of 0..%.10g maps", k->max); break;
	case CFG_POINTS:
		if (k->min == k->max)
			snprintf(buf, n, "%.10g points [x, y]", k->min);
		else
			snprintf(buf, n, "%.10g..%.10g points [x, y]", k->min, k->max);
		break;
	case CFG_ENUM: {
		size_t used = 0;
		buf[0] = '\0';
		for (int i = 0; k->names[i] && used < n; i++)
			used += snprintf(buf + used, n - used, "%s%s", i ? "|" : "", k->names[i]);
		break;
	}
	}
}

static const char *default_text(const cfg_key *k)
{
	if (k->flags & CFG_REQUIRED)
		return "required";
	if (k->def)
		return k->def;
	return k->shown ? k->shown : "none";
}

void pipe_config_print_reference(FILE *out, int markdown)
{
	char type[128];
	if (markdown)
		fputs("| key | type | default | meaning |\n| --- | --- | --- | --- |\n", out);
	for (int i = 0; i < cfg_n_keys; i++) {
		const cfg_key *k = &cfg_keys[i];
		type_text(k, type, sizeof(type));
		if (!markdown) {
			fprintf(out, "%-30s %-26s %-24s %s\n", k->path, type, default_text(k), k->doc);
			continue;
		}
		fprintf(out, "| `%s` | ", k->path);
		put_cell(out, type, 1);
		fputs(" | ", out);
		put_cell(out, default_text(k), 1);
		fputs(" | ", out);
		put_cell(out, k->doc, 1);
		fputs(" |\n", out);
	}
}

/* The pipeline file (YAML) parsed into typed structs. One table of keys (config_table.c)
 * drives parsing, defaults, validation and the documentation (vapd --help-config). */
#ifndef PIPE_CONFIG_H
#define PIPE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

/* Where a value came from, for FILE:LINE:COL messages found after parsing. */
typedef struct pipe_pos { int line, col; } pipe_pos;

enum pipe_decoder { PIPE_DEC_AUTO = 0, PIPE_DEC_NVDEC, PIPE_DEC_SOFTWARE };
enum pipe_queue_policy { PIPE_QP_AUTO = 0, PIPE_QP_BLOCK, PIPE_QP_DROP_OLDEST };
enum pipe_rtsp_transport { PIPE_RTSP_TCP = 0, PIPE_RTSP_UDP };
/* Same order as enum inf_family; auto: chosen from the model's inputs and outputs at load. */
enum pipe_family { PIPE_FAM_YOLOX = 0, PIPE_FAM_YOLOV8, PIPE_FAM_YOLOV5, PIPE_FAM_YOLOV10,
                   PIPE_FAM_DETR, PIPE_FAM_AUTO };
/* Same order as enum inf_box_format. */
enum pipe_box_format { PIPE_BOX_AUTO = 0, PIPE_BOX_RAW, PIPE_BOX_DECODED };
enum pipe_backend { PIPE_BACKEND_AUTO = 0, PIPE_BACKEND_CPU, PIPE_BACKEND_CUDA };
enum pipe_precision { PIPE_PREC_FP16 = 0, PIPE_PREC_FP32 };
enum pipe_resize { PIPE_RESIZE_LETTERBOX = 0, PIPE_RESIZE_STRETCH };
enum pipe_placement { PIPE_PLACE_TOP_LEFT = 0, PIPE_PLACE_CENTER };
enum pipe_channel_order { PIPE_RGB = 0, PIPE_BGR };
enum pipe_sink_type { PIPE_SINK_STDOUT = 0, PIPE_SINK_FILE, PIPE_SINK_SOCKET, PIPE_SINK_MQTT };
enum pipe_file_mode { PIPE_FILE_APPEND = 0, PIPE_FILE_TRUNCATE };
enum pipe_tracker_type { PIPE_TRACKER_BYTETRACK = 0 };
enum pipe_record_codec { PIPE_CODEC_AUTO = 0, PIPE_CODEC_LIBX264, PIPE_CODEC_NVENC };
/* sinks[].messages: which kinds of message a sink takes (bit i = kind i). */
enum pipe_msg_kind { PIPE_MSG_FRAMES = 0, PIPE_MSG_EVENTS, PIPE_MSG_EOS };
#define PIPE_MSG_BIT(k) (1u << (k))

typedef struct pipe_queue_cfg {
	int depth;
	enum pipe_queue_policy policy;
} pipe_queue_cfg;

/* A point in source-frame pixels (zones, lines). */
typedef struct pipe_point { double x, y; } pipe_point;

typedef struct pipe_class_ref pipe_class_ref;

/* sources[].zones[]: a polygon (>= 3 points, not self-intersecting) counting the tracks
 * whose anchor is inside it (even-odd rule). */
typedef struct pipe_zone_cfg {
	pipe_pos pos;
	char *name;
	pipe_point *points;
	int n_points;
	pipe_class_ref *classes;      /* resolved ids (.id); none: every class */
	int n_classes;
} pipe_zone_cfg;

/* sources[].lines[]: a segment P1-P2 counting the tracks whose anchor crosses it. */
typedef struct pipe_line_cfg {
	pipe_pos pos;
	char *name;
	pipe_point points[2];
	pipe_class_ref *classes;      /* resolved ids (.id); none: every class */
	int n_classes;
} pipe_line_cfg;

/* sources[].record: the annotated picture as H.264 in fragmented MP4 segments. */
typedef struct pipe_record_cfg {
	bool present;
	char *dir;                    /* segments go to dir/<stream>/ */
	int segment_s;                /* length of one file */
	int max_mb;                   /* total size of the stream's segments; oldest deleted first */
	int width;                    /* picture width (height keeps the aspect); 0: the source's */
	int fps;                      /* 0: every decoded frame */
	enum pipe_record_codec codec; /* auto: h264_nvenc where the GPU has NVENC, else libx264 */
} pipe_record_cfg;

typedef struct pipe_source_cfg {
	pipe_pos pos;
	char *id;
	char *uri;
	enum pipe_decoder decoder;
	bool realtime;
	bool loop;
	int interval;                 /* >= 1 */
	pipe_queue_cfg queue;         /* policy resolved: never AUTO after parsing */
	int reconnect_initial_ms;
	int reconnect_max_ms;
	enum pipe_rtsp_transport rtsp_transport;
	int rtsp_timeout_ms;
	int nvdec_surfaces;           /* NVDEC decode surfaces; 0: what the stream needs + headroom */
	int nvdec_in_flight;          /* pictures NVDEC decodes ahead of the one output */
	pipe_zone_cfg *zones;         /* need the tracker */
	int n_zones;
	pipe_line_cfg *lines;
	int n_lines;
	pipe_record_cfg record;       /* annotated recording; record.present: on */
	bool is_file;                 /* derived from uri: plain path or file:// */
	/* Not a key: set by the pipeline when its detector takes device frames (CUDA
	 * backend). Without it decoder: auto stays on the software decoder (host frames). */
	bool device_frames_ok;
	/* Not a key: in fleet mode, the camera's claim revision in etcd (its fencing epoch),
	 * written as "epoch" in every message of the stream; 0: not a fleet camera. */
	long long epoch;
	/* Not a key: in fleet mode, a file item resumed from another node's checkpoint: frames
	 * before this index are decoded but not passed on (they were published already). */
	long long start_frame;
	/* Not a key: the CUDA device NVDEC decodes on, from pipeline.device (cuda:N: N;
	 * auto: 0; cpu: -1, which keeps every source on the software decoder). */
	int gpu;
} pipe_source_cfg;

/* A class named in classes: or class_thresholds:, by name or id; resolved to an id
 * against the labels once the model is loaded (id < 0 until then for names). */
struct pipe_class_ref {
	pipe_pos pos;
	char *name;                   /* NULL when given as an id */
	int id;
	float threshold;              /* class_thresholds only */
};

/* Bits of pipe_preprocess_cfg.set: which fields the user wrote (others come from the family preset). */
enum {
	PIPE_PRE_RESIZE = 1 << 0, PIPE_PRE_PLACEMENT = 1 << 1, PIPE_PRE_PAD = 1 << 2,
	PIPE_PRE_ORDER = 1 << 3, PIPE_PRE_MEAN = 1 << 4, PIPE_PRE_SCALE = 1 << 5,
	/* Not preprocessing, recorded in the same set: model.nms_iou was written (the end-to-end
	 * families run NMS only then). */
	PIPE_SET_NMS_IOU = 1 << 8,
};

typedef struct pipe_preprocess_cfg {
	unsigned set;
	enum pipe_resize resize;
	enum pipe_placement placement;
	float pad_value;
	enum pipe_channel_order channel_order;
	float mean[3];
	float scale[3];
} pipe_preprocess_cfg;

typedef struct pipe_model_cfg {
	bool present;                 /* false: frames pass with empty detections */
	pipe_pos pos;
	char *path;
	enum pipe_family family;
	enum pipe_box_format box_format;
	int input_w, input_h;         /* 0: taken from the model */
	char *labels;                 /* NULL: no labels in messages */
	enum pipe_backend backend;
	enum pipe_precision precision;
	int batch_max_size;
	int batch_timeout_ms;
	float threshold;
	pipe_class_ref *class_thresholds;
	int n_class_thresholds;
	pipe_class_ref *classes;      /* NULL: all classes */
	int n_classes;
	float nms_iou;
	int max_detections;
	int threads;                  /* cpu backend; 0 = all cores */
	pipe_preprocess_cfg preprocess;
	/* Not a key: the CUDA device of the cuda backend, from pipeline.device (as sources[].gpu;
	 * with cpu the backend was resolved to cpu). */
	int gpu;
	/* Not a key: with a tracker, the head also keeps boxes down to this score (the
	 * tracker's low_threshold) for the tracker; messages still carry only boxes at or above
	 * the thresholds above. 0: none. */
	float candidate_threshold;
} pipe_model_cfg;

/* tracker: (ByteTrack); absent: no tracking, no zones, lines or events. */
typedef struct pipe_tracker_cfg {
	bool present;
	pipe_pos pos;
	enum pipe_tracker_type type;
	float high_threshold;         /* first association, and the detections that make tracks */
	float low_threshold;          /* second association's lower bound */
	float new_track_threshold;    /* a new track needs this score; default high + 0.1 */
	float match_threshold;        /* largest cost 1 - IoU*score matched in the first association */
	int lost_frames;              /* frames a lost track is kept, at 30 fps */
	bool per_class;               /* one tracker per class */
} pipe_tracker_cfg;

typedef struct pipe_tls_cfg {
	char *ca_file;
	char *cert_file;
	char *key_file;
} pipe_tls_cfg;

typedef struct pipe_sink_cfg {
	pipe_pos pos;
	enum pipe_sink_type type;
	pipe_queue_cfg queue;         /* file sinks always block */
	unsigned messages;            /* PIPE_MSG_BIT()s of the kinds this sink takes */
	/* file */
	char *path;
	enum pipe_file_mode mode;
	int rotate_mb;                /* 0: no rotation */
	int flush_ms;
	/* socket */
	char *address;
	/* mqtt */
	char *broker;
	char *topic;
	int qos;
	bool retain;
	char *client_id;
	char *username;
	char *password_file;
	int keepalive_s;
	pipe_tls_cfg tls;
	int reconnect_initial_ms;
	int reconnect_max_ms;
	const char *pipeline;         /* borrowed pipeline.name for topic templates ({pipeline}) */
} pipe_sink_cfg;

/* http: the one HTTP server (metrics, health, live view, API, snapshots). */
typedef struct pipe_http_cfg {
	char *token_file;             /* "Authorization: Bearer T" or ?token=T; T: the file's first line */
	char *password_file;          /* basic auth as user with the file's first line */
	char *user;
	bool allow_unauthenticated;   /* off-host listening without a token or password */
	int max_viewers;              /* live MJPEG streams at once */
} pipe_http_cfg;

/* view: the live annotated pictures. */
typedef struct pipe_view_cfg {
	int fps;
	int width;
	int quality;                  /* JPEG quality 1..100 */
} pipe_view_cfg;

/* Bits of pipe_snapshot_cfg.events: 1 << enum an_event_kind. */
typedef struct pipe_snapshot_cfg {
	bool present;
	pipe_pos pos;
	char *dir;
	unsigned events;
	bool frame;                   /* the annotated frame */
	bool crop;                    /* the object alone */
	int width;                    /* of the annotated frame; 0: the source's */
	int keep;                     /* newest files kept per folder; 0: no count limit */
	float keep_days;              /* 0: no age limit */
} pipe_snapshot_cfg;

/* A list of strings (fleet.etcd); a single scalar counts as a list of one. */
typedef struct pipe_strlist {
	char **v;
	int n;
} pipe_strlist;

enum pipe_coord_loss { PIPE_COORD_STOP = 0, PIPE_COORD_KEEP };

/* fleet: nodes sharing one camera list through etcd (fleet/fleet.h); absent: off. */
typedef struct pipe_fleet_cfg {
	bool present;
	pipe_pos pos;
	pipe_strlist etcd;            /* http(s)://host:port of the etcd members (v3 JSON gateway) */
	pipe_tls_cfg tls;             /* https members: CA, client certificate and key */
	char *username;               /* etcd user (auth enabled); NULL: none */
	char *password_file;          /* its password, the file's first line */
	char *node_id;                /* NULL until checked; then the host name when not written */
	int capacity;                 /* most cameras this node runs */
	int lease_ttl_s;
	char *prefix;                 /* keys live under it: nodes/, cameras/, claims/ */
	enum pipe_coord_loss on_coordinator_loss;
} pipe_fleet_cfg;

typedef struct pipe_config {
	char *file;                   /* path the config was read from */
	char *name;                   /* pipeline.name */
	char *device;                 /* pipeline.device: auto | cpu | cuda:N */
	int gpu;                      /* derived from device: N for cuda:N, 0 for auto, -1 for cpu */
	pipe_pos device_pos;          /* where device was written (line 0: the default) */
	int log_level;                /* enum vp_log_level */
	char *metrics_listen;         /* http.listen or metrics.listen; NULL: off */
	char *http_listen;            /* as written; merged into metrics_listen */
	pipe_http_cfg http;
	pipe_view_cfg view;
	pipe_snapshot_cfg snapshots;
	pipe_source_cfg *sources;
	int n_sources;
	pipe_model_cfg model;
	pipe_tracker_cfg tracker;
	pipe_sink_cfg *sinks;
	int n_sinks;
	pipe_fleet_cfg fleet;
} pipe_config;

/* Parses and validates path. ${VAR} and ${VAR:-default} are expanded in values (quote them
 * inside flow maps: { depth: "${D}" }); relative paths are relative to the current directory;
 * source URIs lose a file:// prefix. On any error prints every problem found as
 * "FILE:LINE:COL: key.path: message" to err and returns VP_ECONFIG (-ENOMEM when out of memory). */
int pipe_config_load(const char *path, FILE *err, pipe_config **ret_cfg);
/* pipe_config_load of YAML text; name stands for the file in messages (and cfg->file, against
 * which nothing relative is resolved: give absolute or working-directory paths). */
int pipe_config_load_text(const char *name, const char *text, FILE *err, pipe_config **ret_cfg);
/* pipe_config_load with more sources: extra_sources (NULL: none) is YAML text of a list of
 * sources[] maps (the fleet's cameras), appended to the file's own and checked with them;
 * extra_name stands for it in messages. */
int pipe_config_load_extra(const char *path, const char *extra_name, const char *extra_sources,
                           FILE *err, pipe_config **ret_cfg);
void pipe_config_free(pipe_config **cfg);
/* Prints the reference of every key (path, type, default, meaning). markdown: as a table. */
void pipe_config_print_reference(FILE *out, int markdown);

#endif

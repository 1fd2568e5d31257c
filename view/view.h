/* The view stage: what people look at. It takes copies of processed frames from the
 * engine thread (never the frame the pipeline uses: its own scaled copy), draws the
 * detections, tracks, zones and lines over them (Cairo), and turns them into
 *   - live pictures: one JPEG per stream per view frame (view.fps), shared by every
 *     viewer of /streams/{id}/live.mjpeg and latest.jpg (live.c);
 *   - snapshots: JPEGs of chosen events written off the engine thread (snapshot.c);
 *   - recordings: H.264 in fragmented MP4 segments per source (record.c);
 * and serves them with the page, the API and the recent events over the daemon's one HTTP
 * server (http_view.c). Engine-thread calls never block and never allocate: work that
 * cannot be taken at once is skipped (live pictures) or dropped and counted. */
#ifndef VIEW_VIEW_H
#define VIEW_VIEW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../analytics/events.h"
#include "../pipeline/config.h"
#include "../pipeline/vp_det.h"
#include "../pipeline/vp_frame.h"

/* What is drawn over one frame, in source-frame pixels; borrowed for the call. */
typedef struct view_scene {
	const char *stream;
	int64_t frame;
	double pts;
	int64_t wall_us;
	const vp_det *dets;             /* the published detections (at or above thresholds) */
	const int64_t *track_ids;       /* per detection, < 0: none; NULL without a tracker */
	int n_dets;
	const char *const *labels;      /* NULL: class ids are drawn */
	int n_labels;
	const pipe_zone_cfg *zones;     /* with their current occupancy */
	const int *zone_counts;
	int n_zones;
	const pipe_line_cfg *lines;     /* with their running totals */
	const int64_t *line_in, *line_out;
	int n_lines;
	int active_tracks;              /* -1 without a tracker */
} view_scene;

/* An encoded JPEG, shared by reference between its readers. */
typedef struct view_jpeg {
	atomic_int refs;
	int width, height;
	uint64_t gen;                   /* 1, 2, ... per stream */
	int64_t wall_us;                /* of the frame it shows */
	size_t len;
	uint8_t data[];
} view_jpeg;

view_jpeg *view_jpeg_ref(view_jpeg *j);
void view_jpeg_unref(view_jpeg **j);

/* ---- live pictures (live.c) ---- */
typedef struct view_live view_live;

/* Starts the render thread. max_dets, max_zones, max_lines: the most a scene carries
 * (the copies are sized once here). cfg borrowed; must outlive the object. */
int view_live_new(const pipe_view_cfg *cfg, int max_dets, view_live **ret);
/* Stops the render thread, wakes every waiter (they get NULL), frees once no reader holds it. */
void view_live_free(view_live **l);
/* The slot of stream id, made on first use and kept for the process's life (a stream that
 * a reload removes and adds again keeps its slot). Not on a hot path: may allocate. */
int view_live_stream(view_live *l, const char *id, int *ret_slot);
/* Engine thread, after every processed frame: when the slot's next picture is due and its
 * renderer is idle, takes a reference to f and copies the scene; otherwise returns at once. */
void view_live_offer(view_live *l, int slot, vp_frame *f, const view_scene *sc);
/* Any thread: the slot's newest picture if its gen > after, else waits up to timeout_ms for
 * one; NULL on timeout or shutdown. The caller unrefs it. */
view_jpeg *view_live_wait(view_live *l, int slot, uint64_t after, int timeout_ms);
/* Slot of id, or -1. */
int view_live_find(view_live *l, const char *id);
int view_live_n_streams(view_live *l);
/* What the page shows of a stream besides its picture: its last scene's counts. */
typedef struct view_counts {
	int active_tracks;              /* -1: no tracker */
	int n_zones, n_lines;
	const char *zone_names[64];
	int zone_counts[64];
	const char *line_names[64];
	int64_t line_in[64], line_out[64];
} view_counts;
/* Copies slot's id and counts; returns -1 for an unknown slot. */
int view_live_counts(view_live *l, int slot, char *id, size_t id_size, view_counts *ret);

/* ---- snapshots (snapshot.c) ---- */
typedef struct view_snaps view_snaps;
/* VIEW_SNAP_JOBS: snapshot jobs queued or being written at once (each holds its frame until
 * scaled); VIEW_REC_QUEUE: a recorder's queue of frames. */
enum { VIEW_SNAP_NAME_MAX = 256, VIEW_SNAP_JOBS = 8, VIEW_REC_QUEUE = 8 };
/* Detections a scene copy holds (more are not drawn): the pipeline sizes the view with it. */
enum { VIEW_MAX_SCENE_DETS = 1024 };

/* Creates cfg->dir (and a folder per stream as needed) and starts the writer thread.
 * max_dets: the most detections a scene carries (each queued job's copy is sized once).
 * Each queued job holds a reference to its frame until the writer has scaled it: the
 * frame pool needs that headroom (8 jobs at most) or the decoder waits for the writer.
 * cfg borrowed; must outlive the object. */
int view_snaps_new(const pipe_snapshot_cfg *cfg, int quality, int max_dets, view_snaps **ret);
/* Writes what is queued, then stops. */
void view_snaps_free(view_snaps **s);
/* Engine thread, before the events of frame f are published: for each event whose kind is
 * in snapshots.events, names its file(s) and queues the work. names[i] gets the path
 * relative to snapshots.dir of event i's snapshot, or "" when it has none (kind not chosen,
 * or the queue is full: counted as dropped). wait: wait for room instead (a file source,
 * whose reading waits for the pipeline anyway). f NULL (the stream ended): only track_end
 * events get one, from the track's kept best frame. */
void view_snaps_events(view_snaps *s, vp_frame *f, const view_scene *sc, const an_event *evs, int n,
                       bool wait, char (*names)[VIEW_SNAP_NAME_MAX]);
/* Engine thread: det became the best detection of track_id (it may be below the published
 * thresholds, so not in sc); its frame is kept (scaled) for the track's track_end snapshot.
 * Skipped when the queue is full, unless wait. */
void view_snaps_best(view_snaps *s, vp_frame *f, const view_scene *sc, int64_t track_id,
                     const vp_det *det, bool wait);
typedef struct view_snaps_stats { int64_t written, dropped, failed, pruned; } view_snaps_stats;
void view_snaps_get_stats(view_snaps *s, view_snaps_stats *ret);

/* ---- recordings (record.c) ---- */
typedef struct view_rec view_rec;


/* One source's recorder: segments under cfg->dir/<stream>/ (created when missing; a folder
 * that cannot be made counts an error per segment, it does not fail here). gpu: CUDA device
 * for h264_nvenc, < 0: none. max_dets: the most detections a scene carries (copies are
 * sized once here). stream and cfg are copied. Starts its encoder thread. */
int view_rec_new(const char *stream, const pipe_record_cfg *cfg, int gpu, int max_dets, view_rec **ret);
/* Encodes what is queued, finishes the open segment (a playable file) and stops. */
void view_rec_free(view_rec **r);
/* Engine thread, every processed frame of the stream: queued when the recording wants it
 * (record.fps) and the queue has room, else counted dropped; wait: waits for room instead
 * (a file source, whose reading waits for the pipeline anyway). Never allocates: takes a
 * reference to f and copies the scene (NULL: just the stream name and time are drawn).
 * One engine thread per recorder. */
void view_rec_offer(view_rec *r, vp_frame *f, const view_scene *sc, bool wait);
/* frames: written to segments; dropped: wanted but not recorded (queue full, or while the
 * recorder waits to retry after an error); segments: files started; deleted: files pruned;
 * errors: failed encoder opens, segment starts and writes, frames that could not be drawn
 * (each episode logged once). */
typedef struct view_rec_stats { int64_t frames, dropped, segments, deleted, errors; } view_rec_stats;
/* view_rec_free, with the final stats into *ret (zeros when *r is NULL). */
void view_rec_free_keep_stats(view_rec **r, view_rec_stats *ret);
void view_rec_get_stats(view_rec *r, view_rec_stats *ret);

/* ---- recent events (events_ring.c), for /api/events and the page ---- */
typedef struct view_events view_events;
int view_events_new(int capacity, view_events **ret);
void view_events_free(view_events **e);
/* Any thread: keeps a copy of one event message (a JSON object, one line). */
void view_events_push(view_events *e, const char *json, size_t len);

/* ---- what the page shows of each stream (board.c) ---- */
typedef struct view_stream_info {
	char id[64];
	char state[16];                 /* connecting | running | reconnecting | ended */
	double fps;                     /* processed frames per second, recent */
	double lat_p50_ms, lat_p99_ms;  /* decode -> publish */
	int64_t decoded, processed, dropped, errors, detections;
} view_stream_info;
typedef struct view_board view_board;
int view_board_new(view_board **ret);
void view_board_free(view_board **b);
/* Main thread (the daemon's tick): replaces the board's rows. */
int view_board_set(view_board *b, const view_stream_info *rows, int n);
/* Any thread: copies up to max rows; returns how many. */
int view_board_get(view_board *b, view_stream_info *rows, int max);

/* ---- HTTP (http_view.c): /, /streams/{id}/live.mjpeg, /streams/{id}/latest.jpg,
 * /api/streams, /api/events?since=, /snapshots/... on the daemon's HTTP server ---- */
#include "../pipeline/metrics.h"
typedef struct view_http_args {
	const pipe_config *cfg;         /* http, view, snapshots (borrowed, outlives the server) */
	view_live *live;
	view_events *events;
	view_board *board;
	/* More JSON under /api/ (fleet mode: /api/fleet). api_fill writes the reply for path (the
	 * part after "/api/") to f: 0, -ENOENT for a path it does not know (404), < 0 else (500).
	 * NULL: none. Called from the server's threads; api_ctx must outlive the server. */
	int (*api_fill)(void *api_ctx, const char *path, FILE *f);
	void *api_ctx;
} view_http_args;
int view_http_attach(pipe_metrics_server *srv, const view_http_args *a);

#endif

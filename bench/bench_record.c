/* bench_record: what annotated recording costs per frame, on the shared 1080p clip, as
 * markdown rows
 *   | stage | picture | encoder | frames | ms/frame | frames/s | CPU ms/frame |
 * (wall time; CPU: every thread of the process, which a loaded machine does not inflate)
 * - "encode + mux": the segment writer alone (libx264 veryfast/zerolatency, fragmented MP4
 *   segments of 2 s), fed pictures already at the recording's size;
 * - "recorder": the whole encoder thread of view_rec (scale into the canvas, overlay with 8
 *   boxes, BGRA -> YUV420P, encode, mux), fed through view_rec_offer with the queue kept
 *   full (sustained throughput, nothing dropped).
 * The first 32 frames are decoded once into buffers of our own and replayed, so decoding
 * does not compete for the cores. Usage: bench_record [SHARED_DIR] [frames (default 125)] */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#include "decode/source.h"
#include "pipeline/vp_err.h"
#include "pipeline/vp_log.h"
#include "view/record_priv.h"
#include "view/view.h"

#define N_SRC 32

typedef struct clip {
	vp_frame_pool *pool;          /* N_SRC slots over the copies below */
	uint8_t *px[N_SRC];
	int w, h;
	double dur;
} clip;

static double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }
static double cpu_s(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

/* Copies a decoded YUV420P frame into slot i of the replay pool. */
static int keep_frame(clip *c, int i, const vp_frame *f)
{
	size_t y = (size_t)f->width * f->height;
	if (f->fmt != VP_PIX_YUV420P || !(c->px[i] = malloc(y * 3 / 2)))
		return f->fmt != VP_PIX_YUV420P ? VP_EUNSUP : -ENOMEM;
	vp_frame *s = vp_frame_pool_slot(c->pool, i);   /* its pool fields stay as they are */
	s->width = f->width;
	s->height = f->height;
	s->fmt = VP_PIX_YUV420P;
	s->mem = VP_MEM_HOST;
	s->csp = f->csp;
	s->full_range = f->full_range;
	s->stream_id = "bench";
	s->frame_dur = f->frame_dur;
	for (int p = 0; p < 3; p++) {
		int pw = p ? f->width / 2 : f->width, ph = p ? f->height / 2 : f->height;
		uint8_t *dst = c->px[i] + (p ? y + (size_t)(p - 1) * y / 4 : 0);
		for (int r = 0; r < ph; r++)
			memcpy(dst + (size_t)r * pw, f->data[p] + (size_t)r * f->linesize[p], (size_t)pw);
		s->data[p] = dst;
		s->linesize[p] = pw;
	}
	return 0;
}

static int load_clip(const char *path, clip *c)
{
	pipe_source_cfg cfg = { .id = "bench", .uri = (char *)path, .decoder = PIPE_DEC_SOFTWARE,
	                        .interval = 1, .queue = { 4, PIPE_QP_BLOCK }, .is_file = true,
	                        .reconnect_initial_ms = 200, .reconnect_max_ms = 1000,
	                        .rtsp_timeout_ms = 2000 };
	dec_stream *s = NULL;
	int r = vp_frame_pool_new(N_SRC, NULL, NULL, NULL, &c->pool);
	if (r < 0 || (r = dec_stream_open(&cfg, 0, 4, &s)) < 0)
		return r;
	vp_frame *f = NULL;
	for (int i = 0; i < N_SRC && r == 0; i++) {
		if ((r = dec_stream_read(s, &f)) == 0)
			r = keep_frame(c, i, f);
		if (f) {
			c->w = f->width;
			c->h = f->height;
			c->dur = f->frame_dur > 0 ? f->frame_dur : 0.04;
		}
		vp_frame_unref(&f);
	}
	dec_stream_free(&s);
	return r;
}

/* Frame i of the replay: pts and wall time keep going, the picture cycles. */
static vp_frame *replay(clip *c, int i)
{
	vp_frame *f = vp_frame_pool_get(c->pool);   /* whichever slot is free: the picture cycles */
	if (!f)
		return NULL;
	f->index = i;
	f->pts = i * c->dur;
	f->wall_us = 1764950400000000LL + (int64_t)(f->pts * 1e6);
	return f;
}

static void row(const char *stage, int w, int h, const char *enc, int n, double secs, double cpu)
{
	printf("| %s | %dx%d | %s | %d | %.2f | %.1f | %.2f |\n", stage, w, h, enc, n, secs * 1e3 / n,
	       n / secs, cpu * 1e3 / n);
}

/* The segment writer alone on pictures scaled beforehand. */
static int bench_writer(clip *c, const char *dir, int width, int n)
{
	int h = (int)(((int64_t)c->h * width + c->w) / (2 * (int64_t)c->w)) * 2;
	rec_counters cnt = { 0 };
	rec_writer_args a = { .stream = "bench", .dir = dir, .segment_s = 2, .max_bytes = 1LL << 40,
	                      .codec = PIPE_CODEC_LIBX264, .gpu = -1, .width = width, .height = h,
	                      .frame_dur = c->dur, .counters = &cnt };
	AVFrame *pics[N_SRC] = { 0 };
	struct SwsContext *sws = sws_getContext(c->w, c->h, AV_PIX_FMT_YUV420P, width, h, AV_PIX_FMT_YUV420P,
	                                        SWS_BILINEAR, NULL, NULL, NULL);
	rec_writer *wr = NULL;
	int r = sws ? rec_writer_new(&a, &wr) : -ENOMEM;
	for (int i = 0; i < N_SRC && r == 0; i++) {
		const vp_frame *f = vp_frame_pool_slot(c->pool, i);
		if (!(pics[i] = av_frame_alloc()))
			r = -ENOMEM;
		else {
			pics[i]->format = AV_PIX_FMT_YUV420P;
			pics[i]->width = width;
			pics[i]->height = h;
			r = av_frame_get_buffer(pics[i], 0);
		}
		if (r == 0)
			sws_scale(sws, (const uint8_t *const *)f->data, f->linesize, 0, c->h, pics[i]->data,
			          pics[i]->linesize);
	}
	double t0 = now_s(), c0 = cpu_s();
	for (int i = 0; i < n && r == 0; i++)
		r = rec_writer_put(wr, pics[i % N_SRC], i * c->dur, 1764950400000000LL + (int64_t)(i * c->dur * 1e6));
	if (r == 0)
		r = rec_writer_finish(wr);
	double secs = now_s() - t0, cpu = cpu_s() - c0;
	if (r == 0)
		row("encode + mux", width, h, rec_writer_encoder(wr), n, secs, cpu);
	rec_writer_free(&wr);
	for (int i = 0; i < N_SRC; i++)
		av_frame_free(&pics[i]);
	sws_freeContext(sws);
	return r;
}

static void sleep_us(int us)
{
	struct timespec ts = { 0, us * 1000L };
	nanosleep(&ts, NULL);
}

/* The recorder's thread, kept busy: an offer whenever the queue has room. */
static int bench_recorder(clip *c, const char *dir, int width, int n)
{
	pipe_record_cfg cfg = { .present = true, .dir = (char *)dir, .segment_s = 2, .max_mb = 1 << 20,
	                        .width = width, .fps = 0, .codec = PIPE_CODEC_LIBX264 };
	vp_det dets[8];
	for (int i = 0; i < 8; i++)
		dets[i] = (vp_det){ i % 3, 0.5f + i * 0.05f,
		                    { 100.0f + i * 200, 300.0f + i * 40, 260.0f + i * 200, 420.0f + i * 40 } };
	view_rec *r = NULL;
	int err = view_rec_new("bench", &cfg, -1, 8, &r);
	if (err < 0)
		return err;
	view_rec_stats st = { 0 };
	double t0 = now_s(), c0 = cpu_s();
	for (int i = 0; i < n; i++) {
		for (;; sleep_us(50)) {   /* room: fewer than a queue's worth not yet written */
			view_rec_get_stats(r, &st);
			if (i - st.frames - st.dropped < VIEW_REC_QUEUE - 1)
				break;
		}
		vp_frame *f = replay(c, i);
		view_scene sc = { .stream = "bench", .frame = i, .pts = f->pts, .wall_us = f->wall_us,
		                  .dets = dets, .n_dets = 8, .active_tracks = -1 };
		view_rec_offer(r, f, &sc, false);
		vp_frame_unref(&f);
	}
	for (; st.frames + st.dropped < n; sleep_us(50))
		view_rec_get_stats(r, &st);
	double secs = now_s() - t0, cpu = cpu_s() - c0;
	view_rec_free(&r);
	int w = width & ~1, h = (int)(((int64_t)c->h * w + c->w) / (2 * (int64_t)c->w)) * 2;
	row("recorder (scale, overlay, convert, encode, mux)", w, h, "libx264", n, secs, cpu);
	if (st.dropped || st.errors)
		printf("(recorder at %d: %lld dropped, %lld errors)\n", width, (long long)st.dropped,
		       (long long)st.errors);
	return 0;
}

int main(int argc, char **argv)
{
	const char *shared = argc > 1 ? argv[1] : getenv("SHARED") ? getenv("SHARED") : "../shared";
	int n = argc > 2 ? atoi(argv[2]) : 125;
	char path[600], dir[] = "/tmp/vapd-bench-rec-XXXXXX";
	vp_log_set_level(VP_LOG_ERROR);
	snprintf(path, sizeof(path), "%s/data/videos/cars-1080p.mp4", shared);
	clip c = { 0 };
	int r = load_clip(path, &c);
	if (r < 0 || !mkdtemp(dir)) {
		fprintf(stderr, "bench_record: cannot load %s or make %s: %s\n", path, dir, vp_strerror(r));
		return 1;
	}
	printf("%d frames of %s (%dx%d), %ld cores\n\n", n, path, c.w, c.h, sysconf(_SC_NPROCESSORS_ONLN));
	printf("| stage | picture | encoder | frames | ms/frame | frames/s | CPU ms/frame |\n"
	       "|---|---|---|---|---|---|---|\n");
	static const int widths[] = { 640, 1280, 1920 };
	for (int i = 0; i < 3 && r == 0; i++)
		if ((r = bench_writer(&c, dir, widths[i], n)) == 0)
			r = bench_recorder(&c, dir, widths[i], n);
	char cmd[100];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_record: could not remove %s\n", dir);
	vp_frame_pool_free(&c.pool);
	for (int i = 0; i < N_SRC; i++)
		free(c.px[i]);
	if (r < 0)
		fprintf(stderr, "bench_record: %s\n", vp_strerror(r));
	return r < 0;
}

/* The recorder's segment writer: YUV420P pictures -> H.264 (h264_nvenc or libx264 through
 * libavcodec) -> fragmented MP4 files of segment_s seconds, then the folder pruned to
 * max_mb. One encoder lives across segments (global header: every file gets the same
 * SPS/PPS); a segment starts with a forced IDR picture.
 *
 * Crash safety: movflags frag_keyframe+empty_moov+default_base_moof write the moov first
 * and then one self-contained moof+mdat per keyframe, and a keyframe comes at least every
 * REC_FRAG_S seconds. The muxer keeps the current fragment in memory until the next
 * keyframe, when it hands the finished one to avio; we flush avio right then, so a killed
 * process leaves every finished fragment in the file and loses at most REC_FRAG_S. */
#include "record_priv.h"
#include "../pipeline/vp_err.h"
#include "../pipeline/vp_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>

#define REC_TB 90000        /* encoder ticks per second: the MPEG clock, exact for 25/30/29.97 fps */
#define REC_FRAG_S 1.0      /* keyframe (= fragment) interval: what a crash may lose */
#define REC_X264_THREADS 4  /* per recorder (nvenc ignores it) */
#define REC_EPS 1e-6        /* pts are doubles from integer timestamps: 1.0 may read 0.9999999 */
#define REC_MOVFLAGS "frag_keyframe+empty_moov+default_base_moof"

struct rec_writer {
	rec_writer_args a;
	const char *enc_name;
	AVCodecContext *enc;
	AVPacket *pkt;
	AVFormatContext *oc;     /* the open segment; NULL before the first and after a close */
	int have_seg;
	double seg_t0;           /* the open (or pending) segment's start on the pts grid */
	int64_t seg_tick0;       /* encoder tick of the open segment's first picture */
	int started;
	double pts0;             /* pts of encoder tick 0 */
	int64_t last_tick;
	int closed;              /* segments this writer finished without an error */
	int pending;             /* a segment starts with the picture of pend_tick */
	int64_t pend_tick, pend_wall_us;
	char path[PATH_MAX];
};

static void set_encoder_opts(const char *name, int gpu, AVDictionary **o)
{
	/* zerolatency: no lookahead or B-frames, so a picture's packet comes out of the call
	 * that took it and segments cut exactly where asked. */
	if (strcmp(name, "libx264") == 0) {
		av_dict_set(o, "preset", "veryfast", 0);
		av_dict_set(o, "tune", "zerolatency", 0);
		av_dict_set(o, "crf", "23", 0);
	} else {
		av_dict_set(o, "preset", "p3", 0);
		av_dict_set(o, "tune", "ll", 0);
		av_dict_set(o, "zerolatency", "1", 0);
		av_dict_set(o, "delay", "0", 0);
		av_dict_set_int(o, "gpu", gpu < 0 ? 0 : gpu, 0);
	}
	av_dict_set(o, "forced-idr", "1", 0);   /* a forced I picture is an IDR: a file can start there */
}

static int open_encoder(const rec_writer_args *a, const char *name, AVCodecContext **ret)
{
	const AVCodec *codec = avcodec_find_encoder_by_name(name);
	if (!codec)
		return VP_EUNSUP;
	AVCodecContext *c = avcodec_alloc_context3(codec);
	if (!c)
		return -ENOMEM;
	c->width = a->width;
	c->height = a->height;
	c->pix_fmt = AV_PIX_FMT_YUV420P;
	/* record.c converts the canvas with BT.709 limited range: say so in the stream. */
	c->colorspace = AVCOL_SPC_BT709;
	c->color_primaries = AVCOL_PRI_BT709;
	c->color_trc = AVCOL_TRC_BT709;
	c->color_range = AVCOL_RANGE_MPEG;
	c->time_base = (AVRational){ 1, REC_TB };
	c->framerate = av_d2q(1.0 / a->frame_dur, 120000);
	c->gop_size = (int)fmax(1.0, lround(REC_FRAG_S / a->frame_dur));
	c->max_b_frames = 0;
	c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;   /* mp4 keeps SPS/PPS in the moov */
	/* libx264's automatic count is 1.5 per core for each recorder; a daemon records several
	 * streams. 4 slices keep 1080p at 25 fps within one stream's share, and the same
	 * count everywhere gives the same bitstream on every machine. */
	c->thread_count = REC_X264_THREADS;
	AVDictionary *o = NULL;
	set_encoder_opts(name, a->gpu, &o);
	int r = avcodec_open2(c, codec, &o);
	av_dict_free(&o);
	if (r < 0) {
		avcodec_free_context(&c);
		return r;
	}
	*ret = c;
	return 0;
}

/* record.codec: nvenc only; libx264 only; auto: nvenc where a GPU is configured and the
 * encoder opens (the H100 has no NVENC), else libx264 — an expected case, not an error. */
static int choose_encoder(rec_writer *w)
{
	int r = VP_ENODEV;
	if (w->a.codec == PIPE_CODEC_NVENC || (w->a.codec == PIPE_CODEC_AUTO && w->a.gpu >= 0)) {
		r = open_encoder(&w->a, "h264_nvenc", &w->enc);
		if (r == 0 || w->a.codec == PIPE_CODEC_NVENC) {
			w->enc_name = "h264_nvenc";
			return r;
		}
		vp_debug("record", w->a.stream, "h264_nvenc does not open (%s): libx264", av_err2str(r));
	}
	w->enc_name = "libx264";
	return open_encoder(&w->a, "libx264", &w->enc);
}

int rec_writer_new(const rec_writer_args *args, rec_writer **ret)
{
	rec_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->a = *args;
	int r = (w->pkt = av_packet_alloc()) ? choose_encoder(w) : -ENOMEM;
	if (r < 0) {
		rec_writer_free(&w);
		return r;
	}
	*ret = w;
	return 0;
}

const char *rec_writer_encoder(const rec_writer *w) { return w->enc_name; }
int rec_writer_closed(const rec_writer *w) { return w->closed; }

/* "<dir>/<stream>-<UTC yyyymmddTHHMMSS.mmm>Z.mp4": names sort by start time. Two starts in
 * one millisecond (a file fed faster than real time) get "-1" .. "-9" after the Z. */
static int segment_path(rec_writer *w, int64_t wall_us)
{
	time_t s = (time_t)(wall_us / 1000000);
	struct tm tm;
	char ts[32];
	if (!gmtime_r(&s, &tm) || !strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm))
		return -EINVAL;
	int ms = (int)((wall_us / 1000) % 1000);
	for (int k = 0; k < 10; k++) {
		int n = k ? snprintf(w->path, sizeof(w->path), "%s/%s-%s.%03dZ-%d.mp4", w->a.dir,
		                     w->a.stream, ts, ms, k)
		          : snprintf(w->path, sizeof(w->path), "%s/%s-%s.%03dZ.mp4", w->a.dir,
		                     w->a.stream, ts, ms);
		if (n < 0 || (size_t)n >= sizeof(w->path))
			return -ENAMETOOLONG;
		if (access(w->path, F_OK) != 0)
			return errno == ENOENT ? 0 : -errno;
	}
	return -EEXIST;
}

static int segment_header(rec_writer *w, AVFormatContext *oc)
{
	AVStream *st = avformat_new_stream(oc, NULL);
	if (!st)
		return -ENOMEM;
	st->time_base = w->enc->time_base;
	st->avg_frame_rate = w->enc->framerate;
	int r = avcodec_parameters_from_context(st->codecpar, w->enc);
	if (r < 0 || (r = avio_open(&oc->pb, w->path, AVIO_FLAG_WRITE)) < 0)
		return r;
	AVDictionary *o = NULL;
	av_dict_set(&o, "movflags", REC_MOVFLAGS, 0);
	r = avformat_write_header(oc, &o);
	av_dict_free(&o);
	if (r < 0)
		return r;
	avio_flush(oc->pb);   /* the moov on disk: even a file cut before its first fragment opens */
	return oc->pb->error < 0 ? oc->pb->error : 0;
}

static int segment_open(rec_writer *w, int64_t wall_us)
{
	AVFormatContext *oc = NULL;
	int r = segment_path(w, wall_us);
	if (r < 0 || (r = avformat_alloc_output_context2(&oc, NULL, "mp4", w->path)) < 0)
		return r;
	r = segment_header(w, oc);
	if (r < 0) {
		if (oc->pb) {
			avio_closep(&oc->pb);
			unlink(w->path);   /* no moov: not a file anyone could play */
		}
		avformat_free_context(oc);
		return r;
	}
	w->oc = oc;
	atomic_fetch_add(&w->a.counters->segments, 1);
	return 0;
}

/* Finishes the open segment (last fragment, mfra) and prunes the folder. */
static int segment_close(rec_writer *w)
{
	if (!w->oc)
		return 0;
	int r = av_write_trailer(w->oc);
	if (r >= 0 && w->oc->pb->error < 0)
		r = w->oc->pb->error;   /* avio_close does not report a failed last write */
	int rc = avio_closep(&w->oc->pb);
	avformat_free_context(w->oc);
	w->oc = NULL;
	if (r >= 0)
		r = rc;
	w->closed += r >= 0;
	int deleted = 0;
	rc = rec_prune(w->a.dir, w->a.stream, w->a.max_bytes, &deleted);
	atomic_fetch_add(&w->a.counters->deleted, deleted);
	return r < 0 ? r : rc;
}

/* Routes one packet: the first one of a pending segment closes the old file and opens the
 * new one, so a picture still inside the encoder at a cut lands in the file it belongs to. */
static int segment_write(rec_writer *w, AVPacket *pkt)
{
	int r;
	if (w->pending && pkt->pts >= w->pend_tick) {
		if ((r = segment_close(w)) < 0 || (r = segment_open(w, w->pend_wall_us)) < 0)
			return r;
		w->seg_tick0 = w->pend_tick;
		w->pending = 0;
	}
	if (!w->oc)
		return 0;   /* unreachable: the first picture opens a segment */
	int key = pkt->flags & AV_PKT_FLAG_KEY;
	pkt->pts -= w->seg_tick0;
	pkt->dts -= w->seg_tick0;
	pkt->stream_index = 0;
	av_packet_rescale_ts(pkt, w->enc->time_base, w->oc->streams[0]->time_base);
	if ((r = av_interleaved_write_frame(w->oc, pkt)) < 0)
		return r;
	if (key)
		avio_flush(w->oc->pb);   /* the fragment this keyframe closed reaches the file now */
	if (w->oc->pb->error < 0)
		return w->oc->pb->error;
	atomic_fetch_add(&w->a.counters->frames, 1);
	return 0;
}

static int drain(rec_writer *w)
{
	for (;;) {
		int r = avcodec_receive_packet(w->enc, w->pkt);
		if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
			return 0;
		if (r < 0)
			return r;
		r = segment_write(w, w->pkt);
		av_packet_unref(w->pkt);
		if (r < 0)
			return r;
	}
}

/* Cuts on a grid of segment_s from the first picture, so dropped or decimated pictures do
 * not shift the cuts; a picture past the next segment's end (a gap) or before the current
 * one's start (a jump back) starts a new grid at itself. */
static int segment_due(rec_writer *w, double pts)
{
	double s = w->a.segment_s;
	if (w->have_seg && pts >= w->seg_t0 && pts < w->seg_t0 + s - REC_EPS)
		return 0;
	if (w->have_seg && pts >= w->seg_t0 && pts < w->seg_t0 + 2 * s - REC_EPS)
		w->seg_t0 += s;
	else
		w->seg_t0 = pts;
	w->have_seg = 1;
	return 1;
}

int rec_writer_put(rec_writer *w, AVFrame *pic, double pts, int64_t wall_us)
{
	if (!w->started) {
		w->started = 1;
		w->pts0 = pts;
		w->last_tick = -1;
	}
	int64_t tick = llround((pts - w->pts0) * REC_TB);
	if (tick <= w->last_tick)
		tick = w->last_tick + 1;   /* the muxer needs strictly increasing timestamps */
	w->last_tick = tick;
	pic->pict_type = AV_PICTURE_TYPE_NONE;
	if (segment_due(w, pts) && !w->pending) {
		w->pending = 1;
		w->pend_tick = tick;
		w->pend_wall_us = wall_us;
		pic->pict_type = AV_PICTURE_TYPE_I;
	}
	pic->pts = tick;
	int r = avcodec_send_frame(w->enc, pic);
	return r < 0 ? r : drain(w);
}

int rec_writer_finish(rec_writer *w)
{
	int r = avcodec_send_frame(w->enc, NULL);
	if (r >= 0)
		r = drain(w);
	int rc = segment_close(w);
	return r < 0 ? r : rc;
}

void rec_writer_free(rec_writer **pw)
{
	rec_writer *w = *pw;
	if (!w)
		return;
	if (w->oc && segment_close(w) < 0)
		w->oc = NULL;   /* already failed and counted by the caller: the file keeps its fragments */
	avcodec_free_context(&w->enc);
	av_packet_free(&w->pkt);
	free(w);
	*pw = NULL;
}

/* ---- pruning ---- */

typedef struct seg_file {
	char *name;
	int64_t size;
} seg_file;

static int is_segment(const char *name, const char *stream, size_t plen)
{
	size_t n = strlen(name);
	return n > plen + 5 && strncmp(name, stream, plen) == 0 && name[plen] == '-' &&
	       strcmp(name + n - 4, ".mp4") == 0;
}

/* Oldest first: by name without ".mp4", so "T...Z" sorts before its collision "T...Z-1". */
static int cmp_age(const void *pa, const void *pb)
{
	const seg_file *a = pa, *b = pb;
	size_t la = strlen(a->name) - 4, lb = strlen(b->name) - 4;
	int c = strncmp(a->name, b->name, la < lb ? la : lb);
	return c ? c : (la > lb) - (la < lb);
}

static int list_segments(DIR *d, const char *stream, seg_file **ret, size_t *ret_n, int64_t *total)
{
	size_t n = 0, cap = 0, plen = strlen(stream);
	seg_file *v = NULL;
	struct dirent *e;
	struct stat st;
	*total = 0;
	while ((e = readdir(d))) {
		if (!is_segment(e->d_name, stream, plen) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			seg_file *nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				goto nomem;
			v = nv;
		}
		if (!(v[n].name = strdup(e->d_name)))
			goto nomem;
		v[n++].size = (int64_t)st.st_size;
		*total += (int64_t)st.st_size;
	}
	*ret = v;
	*ret_n = n;
	return 0;
nomem:
	while (n)
		free(v[--n].name);
	free(v);
	return -ENOMEM;
}

int rec_prune(const char *dir, const char *stream, int64_t max_bytes, int *ret_deleted)
{
	*ret_deleted = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	seg_file *v = NULL;
	size_t n = 0;
	int64_t total;
	int r = list_segments(d, stream, &v, &n, &total);
	if (r < 0)
		goto out;
	qsort(v, n, sizeof(*v), cmp_age);
	/* The newest stays even alone over the limit: a recorder that keeps nothing is no use. */
	for (size_t i = 0; i + 1 < n && total > max_bytes; i++) {
		if (unlinkat(dirfd(d), v[i].name, 0) != 0 && errno != ENOENT) {
			r = -errno;
			break;
		}
		total -= v[i].size;
		(*ret_deleted)++;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
out:
	closedir(d);
	return r;
}

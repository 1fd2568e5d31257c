/* Source rows for everything libavformat opens: files (mp4, mkv, ts, raw Annex-B),
 * RTSP, HTTP/HLS, and V4L2 cameras through libavdevice. Blocking calls are bounded by
 * dec_io_ctl through AVIOInterruptCB. */
#include "dec_priv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>

#include "../pipeline/vp_err.h"
#include "../pipeline/progress.h"
#include "../pipeline/vp_log.h"

typedef struct lavf_src {
	AVFormatContext *fmt;
	int index;              /* of the video stream */
	const pipe_source_cfg *cfg;
	const char *url;        /* what libavformat opens: the URI, or the device path */
	const AVInputFormat *ifmt;  /* forced demuxer (v4l2), NULL to probe */
	dec_io_ctl *io;
	int timeout_ms;         /* live only: bound on each blocking call */
	char err_buf[64];
} lavf_src;

static int lavf_match(const pipe_source_cfg *cfg)
{
	static const char *const schemes[] = { "rtsp://", "rtsps://", "http://", "https://", "file:" };
	if (cfg->is_file || !strstr(cfg->uri, "://"))
		return 1;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(cfg->uri, schemes[i], strlen(schemes[i])) == 0)
			return 1;
	return 0;
}

static int lavf_interrupt_cb(void *opaque)
{
	dec_io_ctl *io = opaque;
	if (atomic_load(&io->stop))
		return 1;
	int64_t deadline = atomic_load(&io->deadline_ns);
	return deadline && vp_mono_ns() > deadline;
}

static void arm_deadline(lavf_src *s)
{
	atomic_store(&s->io->deadline_ns,
	             s->timeout_ms > 0 ? vp_mono_ns() + (int64_t)s->timeout_ms * 1000000 : 0);
}

/* Whether a failed call ran out of time. A peer that accepts and never answers makes the
 * RTSP demuxer report AVERROR_INVALIDDATA (an empty reply), so the armed deadline decides:
 * the socket's own timeout starts after it, so it has passed whenever that one fired. */
static int timed_out(lavf_src *s, int averr)
{
	int64_t deadline = atomic_load(&s->io->deadline_ns);
	return averr == AVERROR_EXIT || averr == AVERROR(ETIMEDOUT) ||
	       (deadline && vp_mono_ns() >= deadline);
}

/* libav error → project code; interrupts and timeouts told apart by what tripped the callback. */
static int map_err(lavf_src *s, int averr)
{
	if (atomic_load(&s->io->stop))
		return VP_EOF;
	if (timed_out(s, averr))
		return -ETIMEDOUT;
	if (averr == AVERROR_EOF)
		return VP_EOF;
	if (averr == AVERROR_INVALIDDATA)
		return VP_EDECODE;
	if (averr == AVERROR_DECODER_NOT_FOUND || averr == AVERROR_DEMUXER_NOT_FOUND ||
	    averr == AVERROR_PATCHWELCOME)
		return VP_EUNSUP;
	return averr < 0 && averr > -4096 ? averr : -EIO;
}

/* The stream's duration, or the container's when the stream has none; 0 when unknown. */
static double duration_s(const AVFormatContext *fmt, const AVStream *st)
{
	if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
		return (double)st->duration * av_q2d(st->time_base);
	if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
		return (double)fmt->duration / AV_TIME_BASE;
	return 0;
}

static int set_options(const pipe_source_cfg *cfg, AVDictionary **opts)
{
	int r = 0;
	if (strncmp(cfg->uri, "rtsp", 4) == 0) {
		r |= av_dict_set(opts, "rtsp_transport",
		                 cfg->rtsp_transport == PIPE_RTSP_UDP ? "udp" : "tcp", 0);
		/* Socket I/O timeout in microseconds; also makes a dead server fail the connect. */
		r |= av_dict_set_int(opts, "timeout", (int64_t)cfg->rtsp_timeout_ms * 1000, 0);
	} else if (strncmp(cfg->uri, "http", 4) == 0) {
		r |= av_dict_set_int(opts, "rw_timeout", (int64_t)cfg->rtsp_timeout_ms * 1000, 0);
	}
	if (dec_uri_is_live(cfg)) {
		/* Connect fast: the codec parameters come with the first keyframe, and the frame
		 * rate estimate (20 frames by default) is only a fallback for missing pts. */
		r |= av_dict_set_int(opts, "analyzeduration", 1000000, 0);
		r |= av_dict_set_int(opts, "fpsprobesize", 0, 0);
	}
	return r < 0 ? -ENOMEM : 0;
}

/* Keeps the reason for the stream's state log; a file's failure is final, so it is
 * reported here, while a live source's goes into its backoff line. */
static void open_failed(lavf_src *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void open_failed(lavf_src *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->io->why, sizeof(s->io->why), fmt, ap);
	va_end(ap);
	if (!dec_uri_is_live(s->cfg))
		vp_err("decode", s->cfg->id, "%s", s->io->why);
}

/* What went wrong, in words: a timeout with its limit, else libav's own text. */
static const char *err_text(lavf_src *s, int code, int averr)
{
	if (code != -ETIMEDOUT)
		av_strerror(averr, s->err_buf, sizeof(s->err_buf));
	else
		snprintf(s->err_buf, sizeof(s->err_buf), "timed out after %d ms", s->timeout_ms);
	return s->err_buf;
}

static int open_input(lavf_src *s)
{
	const pipe_source_cfg *cfg = s->cfg;
	AVDictionary *opts = NULL;
	int r = set_options(cfg, &opts);
	if (r < 0)
		return r;
	s->fmt = avformat_alloc_context();
	if (!s->fmt) {
		av_dict_free(&opts);
		return -ENOMEM;
	}
	s->fmt->interrupt_callback = (AVIOInterruptCB){ lavf_interrupt_cb, s->io };
	arm_deadline(s);
	r = avformat_open_input(&s->fmt, s->url, s->ifmt, &opts);
	av_dict_free(&opts);
	if (r < 0) {
		int code = map_err(s, r);
		if (code != VP_EOF)
			open_failed(s, "cannot open %s: %s", cfg->uri, err_text(s, code, r));
		return code == VP_EOF ? VP_EOF : code == VP_EDECODE ? VP_EUNSUP : code;
	}
	arm_deadline(s);
	r = avformat_find_stream_info(s->fmt, NULL);
	if (r < 0) {
		int code = map_err(s, r);
		if (code != VP_EOF)
			open_failed(s, "cannot read stream info of %s: %s", cfg->uri, err_text(s, code, r));
		return code;
	}
	/* libavformat renders text files as ANSI-art "video"; nobody means that. */
	if (strcmp(s->fmt->iformat->name, "tty") == 0) {
		open_failed(s, "%s is a text file, not a video", cfg->uri);
		return VP_EUNSUP;
	}
	s->index = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
	if (s->index < 0) {
		open_failed(s, "%s has no video stream", cfg->uri);
		return VP_EUNSUP;
	}
	return 0;
}

static void lavf_close(void **priv)
{
	lavf_src *s = *priv;
	if (!s)
		return;
	*priv = NULL;
	avformat_close_input(&s->fmt);
	free(s);
}

static int open_src(const pipe_source_cfg *cfg, const char *url, const AVInputFormat *ifmt,
                    dec_io_ctl *io, void **ret_priv, dec_source_info *info)
{
	lavf_src *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->url = url;
	s->ifmt = ifmt;
	s->io = io;
	int live = dec_uri_is_live(cfg);
	s->timeout_ms = live ? cfg->rtsp_timeout_ms : 0;
	int r = open_input(s);
	if (r < 0)
		goto fail;
	/* Frames of other streams are never read: the demuxer may skip them cheaply. */
	for (unsigned i = 0; i < s->fmt->nb_streams; i++)
		if ((int)i != s->index)
			s->fmt->streams[i]->discard = AVDISCARD_ALL;
	AVStream *st = s->fmt->streams[s->index];
	info->par = st->codecpar;
	info->time_base = st->time_base;
	info->frame_rate = av_guess_frame_rate(s->fmt, st, NULL);
	info->start_ts = st->start_time;
	info->live = live;
	info->total_frames = live ? 0 : (int64_t)pipe_progress_estimate_frames(
		st->nb_frames, duration_s(s->fmt, st),
		info->frame_rate.num > 0 && info->frame_rate.den > 0 ? av_q2d(info->frame_rate) : 0);
	*ret_priv = s;
	return 0;
fail:
	atomic_store(&io->deadline_ns, 0);
	void *p = s;
	lavf_close(&p);
	return r;
}

static int lavf_open(const pipe_source_cfg *cfg, dec_io_ctl *io, void **ret_priv,
                     dec_source_info *info)
{
	return open_src(cfg, cfg->uri, NULL, io, ret_priv, info);
}

#define V4L2_SCHEME "v4l2://"

static int v4l2_match(const pipe_source_cfg *cfg)
{
	return strncmp(cfg->uri, V4L2_SCHEME, strlen(V4L2_SCHEME)) == 0;
}

static void register_devices(void)
{
	avdevice_register_all();
}

/* v4l2:///dev/video0 → the device path through the video4linux2 demuxer. */
static int v4l2_open(const pipe_source_cfg *cfg, dec_io_ctl *io, void **ret_priv,
                     dec_source_info *info)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, register_devices);
	const AVInputFormat *ifmt = av_find_input_format("video4linux2");
	if (!ifmt) {
		vp_err("decode", cfg->id, "cannot open %s: libavdevice has no video4linux2 input", cfg->uri);
		return VP_EUNSUP;
	}
	return open_src(cfg, cfg->uri + strlen(V4L2_SCHEME), ifmt, io, ret_priv, info);
}

static int lavf_read(void *priv, AVPacket *pkt)
{
	lavf_src *s = priv;
	for (;;) {
		arm_deadline(s);
		int r = av_read_frame(s->fmt, pkt);
		if (r < 0) {
			int code = map_err(s, r);
			if (code == -ETIMEDOUT)
				snprintf(s->io->why, sizeof(s->io->why), "no data for %d ms", s->timeout_ms);
			return code;
		}
		if (pkt->stream_index == s->index)
			return 0;
		av_packet_unref(pkt);
	}
}

static int lavf_rewind(void *priv)
{
	lavf_src *s = priv;
	AVStream *st = s->fmt->streams[s->index];
	int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : 0;
	int r = avformat_seek_file(s->fmt, s->index, INT64_MIN, start, start, AVSEEK_FLAG_BACKWARD);
	if (r < 0) /* raw elementary streams have no index: byte 0 is their start */
		r = av_seek_frame(s->fmt, -1, 0, AVSEEK_FLAG_BYTE);
	if (r < 0) {
		vp_err("decode", s->cfg->id, "cannot seek back to the start of %s: %s", s->cfg->uri,
		       av_err2str(r));
		return VP_EUNSUP;
	}
	return 0;
}

const dec_source_ops dec_source_v4l2 = {
	.name = "v4l2",
	.match = v4l2_match,
	.open = v4l2_open,
	.read = lavf_read,
	.rewind = lavf_rewind,
	.close = lavf_close,
};

const dec_source_ops dec_source_lavf = {
	.name = "libavformat",
	.match = lavf_match,
	.open = lavf_open,
	.read = lavf_read,
	.rewind = lavf_rewind,
	.close = lavf_close,
};

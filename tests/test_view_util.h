/* Helpers of the view tests: a decoded frame of a shared clip, a JPEG decoded back to
 * RGB with libavcodec, pixel distances. Include after <cmocka.h>. */
#ifndef TESTS_TEST_VIEW_UTIL_H
#define TESTS_TEST_VIEW_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "decode/source.h"
#include "view/render.h"

static inline const char *tv_videos(char *buf, size_t n)
{
	const char *shared = getenv("SHARED");
	snprintf(buf, n, "%s/data/videos", shared && *shared ? shared : "../shared");
	return buf;
}

/* A clip opened on the software decoder (host frames). */
typedef struct tv_clip {
	pipe_source_cfg cfg;
	char uri[600];
	dec_stream *s;
} tv_clip;

static inline void tv_clip_open(tv_clip *c, const char *name, int pool)
{
	char dir[512];
	memset(c, 0, sizeof(*c));
	snprintf(c->uri, sizeof(c->uri), "%s/%s", tv_videos(dir, sizeof(dir)), name);
	c->cfg.id = "cam1";
	c->cfg.uri = c->uri;
	c->cfg.decoder = PIPE_DEC_SOFTWARE;
	c->cfg.interval = 1;
	c->cfg.queue.depth = 4;
	c->cfg.queue.policy = PIPE_QP_BLOCK;
	c->cfg.reconnect_initial_ms = 200;
	c->cfg.reconnect_max_ms = 1000;
	c->cfg.rtsp_timeout_ms = 2000;
	c->cfg.is_file = true;
	assert_int_equal(dec_stream_open(&c->cfg, 0, pool, &c->s), 0);
}

static inline vp_frame *tv_clip_read(tv_clip *c)
{
	vp_frame *f = NULL;
	assert_int_equal(dec_stream_read(c->s, &f), 0);
	return f;
}

static inline void tv_clip_close(tv_clip *c) { dec_stream_free(&c->s); }

/* An RGB24 picture. */
typedef struct tv_rgb {
	int w, h;
	uint8_t *px;                 /* w * 3 bytes per row */
} tv_rgb;

/* Decodes a JPEG (bytes) with libavcodec's mjpeg decoder into RGB24; 0 or an FFmpeg code. */
static inline int tv_jpeg_decode(const uint8_t *data, size_t len, tv_rgb *out)
{
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *ctx = avcodec_alloc_context3(codec);
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	struct SwsContext *sws = NULL;
	int r = -1;
	if (!ctx || !pkt || !fr || avcodec_open2(ctx, codec, NULL) < 0 || av_new_packet(pkt, (int)len) < 0)
		goto done;
	memcpy(pkt->data, data, len);
	if ((r = avcodec_send_packet(ctx, pkt)) < 0 || (r = avcodec_receive_frame(ctx, fr)) < 0)
		goto done;
	out->w = fr->width;
	out->h = fr->height;
	out->px = malloc((size_t)fr->width * fr->height * 3);
	sws = sws_getContext(fr->width, fr->height, fr->format, fr->width, fr->height, AV_PIX_FMT_RGB24,
	                     SWS_POINT, NULL, NULL, NULL);
	r = -1;
	if (!out->px || !sws)
		goto done;
	uint8_t *dst[4] = { out->px, NULL, NULL, NULL };
	int dls[4] = { fr->width * 3, 0, 0, 0 };
	r = sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dst, dls) == fr->height ? 0 : -1;
done:
	sws_freeContext(sws);
	av_frame_free(&fr);
	av_packet_free(&pkt);
	avcodec_free_context(&ctx);
	return r;
}

static inline int tv_jpeg_decode_file(const char *path, tv_rgb *out)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
	int r = buf && n > 0 && fread(buf, 1, (size_t)n, f) == (size_t)n ? tv_jpeg_decode(buf, (size_t)n, out) : -1;
	free(buf);
	fclose(f);
	return r;
}

static inline const uint8_t *tv_px(const tv_rgb *p, int x, int y) { return p->px + ((size_t)y * p->w + x) * 3; }

/* Largest per-channel difference. */
static inline int tv_dist(const uint8_t *a, const uint8_t *b)
{
	int m = 0;
	for (int k = 0; k < 3; k++) {
		int d = abs((int)a[k] - (int)b[k]);
		m = d > m ? d : m;
	}
	return m;
}

/* Mean absolute difference of two pictures over a rectangle. */
static inline double tv_mad(const tv_rgb *a, const tv_rgb *b, int x0, int y0, int x1, int y1)
{
	double s = 0;
	for (int y = y0; y < y1; y++)
		for (int x = x0; x < x1; x++)
			for (int k = 0; k < 3; k++)
				s += abs((int)tv_px(a, x, y)[k] - (int)tv_px(b, x, y)[k]);
	return s / ((double)(x1 - x0) * (y1 - y0) * 3);
}

#endif
